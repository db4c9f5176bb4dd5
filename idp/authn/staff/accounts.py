"""Staff accounts: create, find, roles, disable, and the one-time enrolment code.

Bootstrap: ``idp staff create --username ... --role administrator`` creates the account
and prints a one-time enrolment code (random, 128 bits, valid ``IDP_ADMIN_ENROLMENT_TTL``
seconds, stored only as a keyed hash). The new member opens ``/admin/enrol``, types the
username and the code, and registers a security key or passkey with user verification;
the code is then spent. ``new_enrolment_code`` issues a fresh one (lost key, new member).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Iterable
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ...errors import InvalidInput
from ...extensions import db
from ...models import Staff
from ...models import StaffCredential
from ..methods import webauthn
from .errors import EnrolmentRefused
from .roles import parse_roles

ENROLMENT_PURPOSE = "staff-enrolment"
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


def _now() -> datetime:
    return datetime.now(UTC)


def keyed_hash(purpose: str, value: str) -> str:
    """HMAC-SHA256 under the keyring's token-hash key, bound to a purpose label."""
    key: bytes = current_app.extensions["idp.keyring"].token_hash
    message = purpose.encode() + b"\x00" + value.encode("utf-8", "surrogatepass")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def clean_username(username: str) -> str:
    value = unicodedata.normalize("NFKC", str(username or "")).strip().lower()
    if not _USERNAME.match(value):
        raise InvalidInput(
            "A username is 2 to 64 characters: lower-case letters, digits, '.', '_' or '-'.",
            field="username",
        )
    return value


def _text(value: str | None, *, field: str, limit: int, required: bool) -> str | None:
    text = " ".join(unicodedata.normalize("NFKC", str(value or "")).split())
    if any(unicodedata.category(ch).startswith("C") for ch in text) or len(text) > limit:
        raise InvalidInput(
            f"The {field.replace('_', ' ')} is too long or not allowed.", field=field
        )
    if required and not text:
        raise InvalidInput(f"The {field.replace('_', ' ')} is required.", field=field)
    return text or None


def _roles(values: Iterable[str]) -> list[str]:
    try:
        roles = parse_roles(values)
    except ValueError:
        raise InvalidInput(
            "Roles are: administrator, client_manager, auditor, counter_staff, hotline_agent.",
            field="roles",
        ) from None
    return [str(r) for r in roles]


def create_staff(
    *, username: str, display_name: str, department: str | None = None, roles: Iterable[str]
) -> tuple[Staff, str]:
    """A new staff member and their one-time enrolment code (shown once)."""
    staff = Staff(
        username=clean_username(username),
        display_name=_text(display_name, field="display_name", limit=200, required=True),
        department=_text(department, field="department", limit=200, required=False),
        roles=_roles(roles),
        user_handle=webauthn.new_user_handle(),
    )
    if db.session.scalar(select(Staff.id).where(Staff.username == staff.username)):
        raise InvalidInput("This username is taken.", field="username")
    code = _set_enrolment_code(staff)
    db.session.add(staff)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise InvalidInput("This username is taken.", field="username") from None
    return staff, code


def _set_enrolment_code(staff: Staff) -> str:
    code = secrets.token_urlsafe(16)
    staff.enrolment_hash = keyed_hash(ENROLMENT_PURPOSE, code)
    ttl = int(current_app.config["IDP_ADMIN_ENROLMENT_TTL"])
    staff.enrolment_expires_at = _now() + timedelta(seconds=ttl)
    return code


def new_enrolment_code(staff: Staff) -> str:
    """A fresh one-time code (the previous one stops working)."""
    code = _set_enrolment_code(staff)
    db.session.commit()
    return code


def check_enrolment(*, username: str, code: str) -> Staff:
    """The enabled staff member whose live enrolment code this is, or EnrolmentRefused."""
    try:
        name = clean_username(username)
    except InvalidInput:
        raise EnrolmentRefused(detail="malformed username") from None
    staff = by_username(name)
    given = keyed_hash(ENROLMENT_PURPOSE, str(code or "").strip()[:100])
    if (
        staff is None
        or staff.disabled_at is not None
        or not staff.enrolment_hash
        or not hmac.compare_digest(staff.enrolment_hash, given)
        or staff.enrolment_expires_at is None
        or staff.enrolment_expires_at <= _now()
    ):
        raise EnrolmentRefused(detail=f"enrolment refused for {name}")
    return staff


def spend_enrolment(staff: Staff) -> None:
    staff.enrolment_hash = None
    staff.enrolment_expires_at = None


def by_username(username: str) -> Staff | None:
    try:
        name = clean_username(username)
    except InvalidInput:
        return None
    found: Staff | None = db.session.scalar(select(Staff).where(Staff.username == name))
    return found


_ROW_ID = re.compile(r"^[A-Za-z0-9-]{1,36}$")


def is_row_id(value: object) -> bool:
    """A uuid-like row id: never a NUL byte or a path for the database to choke on."""
    return isinstance(value, str) and bool(_ROW_ID.match(value))


def get(staff_id: str) -> Staff | None:
    if not is_row_id(staff_id):
        return None
    return db.session.get(Staff, staff_id)


def list_staff() -> list[Staff]:
    return list(db.session.scalars(select(Staff).order_by(Staff.username)))


def credentials(staff_id: str) -> list[StaffCredential]:
    query = select(StaffCredential).where(StaffCredential.staff_id == staff_id)
    return list(db.session.scalars(query.order_by(StaffCredential.created_at)))


def set_roles(staff: Staff, roles: Iterable[str]) -> None:
    staff.roles = _roles(roles)
    db.session.commit()


def set_department(staff: Staff, department: str | None) -> None:
    staff.department = _text(department, field="department", limit=200, required=False)
    db.session.commit()


def disable(staff: Staff) -> None:
    """Switch the account off: no sign-in, no API call (sessions end at their next use)."""
    if staff.disabled_at is None:
        staff.disabled_at = _now()
    db.session.commit()


def enable(staff: Staff) -> None:
    staff.disabled_at = None
    db.session.commit()


def view(staff: Staff) -> dict[str, object]:
    """The API's view of a staff member (never the enrolment hash or user handle)."""
    return {
        "id": staff.id,
        "username": staff.username,
        "display_name": staff.display_name,
        "department": staff.department,
        "roles": list(staff.roles or []),
        "disabled": staff.disabled_at is not None,
        "enrolment_pending": staff.enrolment_hash is not None,
        "created_at": staff.created_at.isoformat() if staff.created_at else None,
    }
