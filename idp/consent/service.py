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

from sqlalchemy import and_
from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy import update

from .. import audit
from ..audit import ActorType
from ..audit import EventType
from ..extensions import db
from ..models import Citizen
from ..models import Consent
from ..models import OAuthToken

SUPERSEDED = "superseded"


def _now() -> datetime:
    return datetime.now(UTC)


_TABLE = Consent.__table__
_CITIZENS = Citizen.__table__


# Built once: this runs on every authorization request, and building the statement
# (and its cache key) cost more CPU than running it.
_ACTIVE_AND_STANDING = (
    select(_CITIZENS.c.locked_at.label("citizen_locked_at"), *_TABLE.c)
    .select_from(
        _CITIZENS.outerjoin(
            _TABLE,
            and_(
                _TABLE.c.citizen_id == _CITIZENS.c.id,
                _TABLE.c.client_id == bindparam("client_id"),
                _TABLE.c.revoked_at.is_(None),
            ),
        )
    )
    .where(_CITIZENS.c.id == bindparam("citizen_id"))
    .order_by(_TABLE.c.granted_at.desc())
)


def find_active_and_standing(
    *, citizen_id: str, client_id: str, now: datetime | None = None
) -> tuple[bool, Any | None]:
    """(the citizen exists and is not locked, their current consent for this portal as
    a read-only row) in one statement: the authorization endpoint asks both on every
    request (``idp.authn.citizens.is_active`` and ``find_active``)."""
    now = now or _now()
    rows = (
        db.session.connection()
        .execute(_ACTIVE_AND_STANDING, {"citizen_id": citizen_id, "client_id": client_id})
        .all()
    )
    if not rows:
        return False, None
    standing = rows[0].citizen_locked_at is None
    for row in rows:
        if row.id is not None and (row.expires_at is None or row.expires_at > now):
            return standing, row
    return standing, None


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


def covers(consent: Consent | None, scopes: Iterable[str], *, optional: Iterable[str] = ()) -> bool:
    """True if ``consent`` answers every scope asked for: granted, or (for the scopes
    the portal marks ``optional``) declined while this record lasts."""
    if consent is None:
        return False
    declined = set(consent.declined_scopes or []) & set(optional)
    return set(scopes) <= set(consent.scopes or []) | declined


DEFAULT_TTL_DAYS = 180


def grant(
    *,
    citizen_id: str,
    client_id: str,
    scopes: Iterable[str],
    shown: Iterable[str] | None = None,
    ttl_days: int = DEFAULT_TTL_DAYS,
    declined: Iterable[str] = (),
) -> Consent:
    """Record the citizen's answer: exactly ``scopes`` out of the ``shown`` ones.

    Scopes granted earlier and not on this page are kept; a scope shown and left
    unticked is dropped (the citizen changed their mind). Without ``shown`` the earlier
    grant is only extended. The record expires after ``ttl_days`` (then the citizen is
    asked again).

    ``declined``: optional scopes left unticked. They are remembered for the record's
    life, so the next sign-in asking for them does not show the page again (the portal
    gets them only if it asks with ``prompt=consent`` and the citizen agrees then).

    Narrowing: when a scope granted before is dropped, every token the portal holds for
    the citizen is revoked (they were issued under the wider grant and would keep
    releasing the dropped data); the code issued with this answer carries only the new
    grant.
    """
    now = _now()
    previous = find_active(citizen_id=citizen_id, client_id=client_id, now=now)
    wanted = list(dict.fromkeys(scopes))
    declined_now = list(declined)
    narrowed = False
    if previous is not None:
        asked = set(shown or ())
        kept = [s for s in (previous.scopes or []) if s not in asked]
        narrowed = bool(set(previous.scopes or []) - set(kept) - set(wanted))
        declined_now = [*(s for s in previous.declined_scopes or [] if s not in asked), *declined]
        wanted = list(dict.fromkeys([*kept, *wanted]))
        previous.revoked_at = now
        previous.revoked_by = SUPERSEDED
    record = Consent(
        citizen_id=citizen_id,
        client_id=client_id,
        scopes=wanted,
        declined_scopes=[s for s in dict.fromkeys(declined_now) if s not in wanted] or None,
        granted_at=now,
        expires_at=now + timedelta(days=ttl_days),
    )
    db.session.add(record)
    if narrowed:
        _revoke_tokens(citizen_id=citizen_id, client_id=client_id, now=now)
    audit.record(
        EventType.CONSENT_GRANT,
        citizen_id=citizen_id,
        client_id=client_id,
        details={"scopes": wanted, "ttl_days": ttl_days},
    )
    db.session.commit()
    return record


def _revoke_tokens(*, citizen_id: str, client_id: str, now: datetime) -> None:
    db.session.execute(
        update(OAuthToken)
        .where(
            OAuthToken.citizen_id == citizen_id,
            OAuthToken.client_id == client_id,
            OAuthToken.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )


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
    _revoke_tokens(citizen_id=citizen_id, client_id=client_id, now=now)
    withdrawn = int(getattr(result, "rowcount", 0) or 0) > 0
    if withdrawn:
        # The actor is whoever withdrew it: the citizen, or the operator named by ``by``.
        by_citizen = by == "citizen"
        audit.record(
            EventType.CONSENT_REVOKE,
            actor_type=ActorType.CITIZEN if by_citizen else ActorType.OPERATOR,
            actor_id=citizen_id if by_citizen else by[:64],
            citizen_id=citizen_id,
            client_id=client_id,
            details={"by": by[:64], "tokens_revoked": True},
        )
    db.session.commit()
    return withdrawn


def list_records(
    *, citizen_id: str | None = None, client_id: str | None = None, include_inactive: bool = False
) -> list[Consent]:
    """Consent records of one citizen or one portal (operators' view), newest first:
    the current ones, or with ``include_inactive`` the history too (revoked, superseded,
    expired)."""
    query = select(Consent).order_by(Consent.granted_at.desc())
    if citizen_id is not None:
        query = query.where(Consent.citizen_id == citizen_id)
    if client_id is not None:
        query = query.where(Consent.client_id == client_id)
    rows = list(db.session.scalars(query.limit(10_000)).all())
    if include_inactive:
        return rows
    now = _now()
    return [
        r for r in rows if r.revoked_at is None and (r.expires_at is None or r.expires_at > now)
    ]


def list_active_for_client(*, client_id: str, now: datetime | None = None) -> list[Consent]:
    """A portal's current consents, one per citizen, newest first (operators' view)."""
    now = now or _now()
    rows = db.session.scalars(
        select(Consent)
        .where(Consent.client_id == client_id, Consent.revoked_at.is_(None))
        .order_by(Consent.granted_at.desc())
    ).all()
    seen: dict[str, Consent] = {}
    for row in rows:
        if row.citizen_id not in seen and (row.expires_at is None or row.expires_at > now):
            seen[row.citizen_id] = row
    return list(seen.values())
