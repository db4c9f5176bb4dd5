"""Consent records: grant, find, check, revoke (DESIGN.md "Privacy", OIDC Core 3.1.2.4).

OIDC Core 3.1.2.4: "the Authorization Server MUST obtain an authorization decision
before releasing information to the Relying Party ... or by establishing consent via
conditions for processing the request or other means (for example, via previous
administrative consent)."

A grant is a durable ``Consent`` row per (citizen, portal). Granting more scopes writes
a new row and marks the previous one superseded, so the history of what was agreed when
stays readable. Each row holds exactly the granted scopes and expires (``expires_at``,
default 180 days; ``find_active`` ignores expired rows, so the citizen is asked again).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy import update

from ..extensions import db
from ..models import Consent
from ..models import OAuthToken

SUPERSEDED = "superseded"


def _now() -> datetime:
    return datetime.now(UTC)


_TABLE = Consent.__table__


def find_active(
    *, citizen_id: str, client_id: str, now: datetime | None = None, readonly: bool = False
) -> Consent | None:
    """The citizen's current consent for this portal: not revoked, not expired.

    ``readonly``: a plain read-only row with the same attribute names (one Core select,
    no ORM object), for callers that only read it (the authorization endpoint)."""
    now = now or _now()
    rows: Any
    if readonly:
        rows = (
            db.session.connection()
            .execute(
                select(_TABLE)
                .where(
                    _TABLE.c.citizen_id == citizen_id,
                    _TABLE.c.client_id == client_id,
                    _TABLE.c.revoked_at.is_(None),
                )
                .order_by(_TABLE.c.granted_at.desc())
            )
            .all()
        )
    else:
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


DEFAULT_TTL_DAYS = 180


def grant(
    *,
    citizen_id: str,
    client_id: str,
    scopes: Iterable[str],
    shown: Iterable[str] | None = None,
    ttl_days: int = DEFAULT_TTL_DAYS,
) -> Consent:
    """Record the citizen's answer: exactly ``scopes`` out of the ``shown`` ones.

    Scopes granted earlier and not on this page are kept; a scope shown and left
    unticked is dropped (the citizen changed their mind). Without ``shown`` the earlier
    grant is only extended. The record expires after ``ttl_days`` (then the citizen is
    asked again).
    """
    now = _now()
    previous = find_active(citizen_id=citizen_id, client_id=client_id, now=now)
    wanted = list(dict.fromkeys(scopes))
    if previous is not None:
        asked = set(shown or ())
        kept = [s for s in (previous.scopes or []) if s not in asked]
        wanted = list(dict.fromkeys([*kept, *wanted]))
        previous.revoked_at = now
        previous.revoked_by = SUPERSEDED
    record = Consent(
        citizen_id=citizen_id,
        client_id=client_id,
        scopes=wanted,
        granted_at=now,
        expires_at=now + timedelta(days=ttl_days),
    )
    db.session.add(record)
    db.session.commit()
    return record


def list_active(*, citizen_id: str, now: datetime | None = None) -> list[Consent]:
    """The citizen's current consents, one per portal, newest first."""
    now = now or _now()
    rows = db.session.scalars(
        select(Consent)
        .where(Consent.citizen_id == citizen_id, Consent.revoked_at.is_(None))
        .order_by(Consent.granted_at.desc())
    ).all()
    seen: dict[str, Consent] = {}
    for row in rows:
        if row.client_id not in seen and (row.expires_at is None or row.expires_at > now):
            seen[row.client_id] = row
    return list(seen.values())


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
