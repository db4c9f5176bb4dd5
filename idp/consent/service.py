"""Consent records: grant, find, check, revoke (DESIGN.md "Privacy", OIDC Core 3.1.2.4).

OIDC Core 3.1.2.4: "the Authorization Server MUST obtain an authorization decision
before releasing information to the Relying Party ... or by establishing consent via
conditions for processing the request or other means (for example, via previous
administrative consent)."

A grant is a durable ``Consent`` row per (citizen, portal). Granting more scopes writes
a new row with the union and marks the previous one superseded, so the history of what
was agreed when stays readable; per-scope choice and expiry (a later issue) grow from
here: ``expires_at`` already exists and ``find_active`` honours it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC
from datetime import datetime

from sqlalchemy import select
from sqlalchemy import update

from ..extensions import db
from ..models import Consent
from ..models import OAuthToken

SUPERSEDED = "superseded"


def _now() -> datetime:
    return datetime.now(UTC)


def find_active(*, citizen_id: str, client_id: str, now: datetime | None = None) -> Consent | None:
    """The citizen's current consent for this portal: not revoked, not expired."""
    now = now or _now()
    rows = db.session.scalars(
        select(Consent)
        .where(
            Consent.citizen_id == citizen_id,
            Consent.client_id == client_id,
            Consent.revoked_at.is_(None),
        )
        .order_by(Consent.granted_at.desc())
    ).all()
    for row in rows:
        if row.expires_at is None or row.expires_at > now:
            return row
    return None


def covers(consent: Consent | None, scopes: Iterable[str]) -> bool:
    """True if ``consent`` includes every scope asked for."""
    if consent is None:
        return False
    return set(scopes) <= set(consent.scopes or [])


def grant(*, citizen_id: str, client_id: str, scopes: Iterable[str]) -> Consent:
    """Record the citizen's approval of ``scopes`` for the portal (kept with earlier ones)."""
    now = _now()
    previous = find_active(citizen_id=citizen_id, client_id=client_id, now=now)
    wanted = list(dict.fromkeys(scopes))
    if previous is not None:
        wanted = list(dict.fromkeys([*(previous.scopes or []), *wanted]))
        previous.revoked_at = now
        previous.revoked_by = SUPERSEDED
    record = Consent(citizen_id=citizen_id, client_id=client_id, scopes=wanted, granted_at=now)
    db.session.add(record)
    db.session.commit()
    return record


def revoke(*, citizen_id: str, client_id: str, by: str) -> bool:
    """Withdraw consent: the portal's tokens for this citizen stop working too.

    ``by`` says who withdrew it (``citizen``, an operator id ...). True if anything was
    active.
    """
    now = _now()
    result = db.session.execute(
        update(Consent)
        .where(
            Consent.citizen_id == citizen_id,
            Consent.client_id == client_id,
            Consent.revoked_at.is_(None),
        )
        .values(revoked_at=now, revoked_by=by[:64])
    )
    db.session.execute(
        update(OAuthToken)
        .where(
            OAuthToken.citizen_id == citizen_id,
            OAuthToken.client_id == client_id,
            OAuthToken.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    db.session.commit()
    return int(getattr(result, "rowcount", 0) or 0) > 0
