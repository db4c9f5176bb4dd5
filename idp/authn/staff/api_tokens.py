"""Personal admin-API tokens (RFC 6750 bearer tokens for ``/admin/api``).

A staff member creates one in the console (after a fresh WebAuthn verification); it is
shown once and stored only as a keyed hash. It acts as its owner with the roles the
owner holds at each call, so a role change or a disabled account applies at once; it
expires (``IDP_ADMIN_API_TOKEN_DAYS``, at most ``IDP_ADMIN_API_TOKEN_MAX_DAYS``) and
can be revoked. Its ``created_at`` counts as its WebAuthn verification time for the
dangerous calls (which therefore need a token created within the freshness window).
"""

from __future__ import annotations

import secrets
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from ...errors import InvalidInput
from ...extensions import db
from ...models import Staff
from ...models import StaffApiToken
from .accounts import is_row_id
from .accounts import keyed_hash

PURPOSE = "staff-api-token"
PREFIX = "idpadm_"  # recognisable in a secret scanner


def _now() -> datetime:
    return datetime.now(UTC)


def issue(*, staff: Staff, name: str, days: int | None = None) -> tuple[StaffApiToken, str]:
    cfg = current_app.config
    days = int(days if days is not None else cfg["IDP_ADMIN_API_TOKEN_DAYS"])
    if not 1 <= days <= int(cfg["IDP_ADMIN_API_TOKEN_MAX_DAYS"]):
        raise InvalidInput(
            f"A token lives 1 to {int(cfg['IDP_ADMIN_API_TOKEN_MAX_DAYS'])} days.", field="days"
        )
    label = " ".join(str(name or "").split())[:64]
    if not label:
        raise InvalidInput("Name the token (what will use it).", field="name")
    token = PREFIX + secrets.token_urlsafe(32)
    row = StaffApiToken(
        staff_id=staff.id,
        name=label,
        token_hash=keyed_hash(PURPOSE, token),
        created_at=_now(),
        expires_at=_now() + timedelta(days=days),
    )
    db.session.add(row)
    db.session.commit()
    return row, token


def authenticate(token: str | None) -> tuple[Staff, StaffApiToken] | None:
    """The enabled owner of a live token, or None (unknown, revoked, expired, disabled)."""
    if not token or not token.startswith(PREFIX) or len(token) > 200:
        return None
    row = db.session.scalar(
        select(StaffApiToken).where(StaffApiToken.token_hash == keyed_hash(PURPOSE, token))
    )
    now = _now()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    staff = db.session.get(Staff, row.staff_id)
    if staff is None or staff.disabled_at is not None:
        return None
    row.last_used_at = now
    db.session.commit()
    return staff, row


def list_for(staff_id: str) -> list[StaffApiToken]:
    query = select(StaffApiToken).where(StaffApiToken.staff_id == staff_id)
    return list(db.session.scalars(query.order_by(StaffApiToken.created_at.desc())))


def revoke(*, staff_id: str, token_id: str) -> bool:
    row = db.session.get(StaffApiToken, token_id) if is_row_id(token_id) else None
    if row is None or row.staff_id != staff_id:
        return False
    if row.revoked_at is None:
        row.revoked_at = _now()
        db.session.commit()
    return True
