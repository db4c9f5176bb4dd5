"""Data-release records: what went to which portal, under which consent, how, when.

DESIGN.md "Privacy": "Every disclosure of data to a portal is an audit event the
citizen can see." PIPL article 44 gives the citizen the right to know how their data
is handled; article 23 requires the provider to tell them which recipient got which
data. Every channel that releases a citizen's data records it here:

- ``id_token``: an ID token (its ``sub`` and authentication claims) at the token
  endpoint, on a code exchange or a refresh (``idp.oauth.oidc``);
- ``userinfo``: the UserInfo claims (``idp.oauth.userinfo``);
- ``data_api``: signed licences from ``GET /api/licences``.

``record`` is one INSERT (and its audit record's) and no query (the caller knows
everything it needs); the history page reads them back with ``history``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select

from .. import audit
from ..audit import ActorType
from ..audit import EventType
from ..extensions import db
from ..models import DataRelease
from ..models import OAuthClient
from ..models._types import new_id
from ..models._types import utcnow

_INSERT = insert(DataRelease.__table__)


class Via(StrEnum):
    ID_TOKEN = "id_token"
    USERINFO = "userinfo"
    DATA_API = "data_api"


def record(
    *,
    citizen_id: str,
    client_id: str,
    consent_id: str | None,
    categories: Iterable[str],
    via: Via | str,
    items: Iterable[str] = (),
    at: datetime | None = None,
    commit: bool = True,
) -> None:
    """Record one release. ``categories`` are scopes; ``items`` the claims or licence
    types actually released. With ``commit=False`` the caller commits."""
    row = {
        "id": new_id(),
        "citizen_id": citizen_id,
        "client_id": client_id,
        "consent_id": consent_id,
        "categories": list(dict.fromkeys(categories)),
        "items": list(dict.fromkeys(items)),
        "via": str(Via(via)),
        "released_at": at or utcnow(),
    }
    # A Core INSERT built once (no ORM object): this is on every ID token and every
    # UserInfo answer. A Core statement does not autoflush: rows it refers to that
    # the caller added in this transaction go first.
    if db.session.new:
        db.session.flush()
    db.session.execute(_INSERT, row)
    # DESIGN.md "Privacy": every disclosure to a portal is also an audit event, in the
    # same transaction. The claim names and licence types, never their values.
    audit.record(
        EventType.DATA_RELEASE,
        actor_type=ActorType.CLIENT,
        actor_id=client_id,
        citizen_id=citizen_id,
        client_id=client_id,
        details={
            "via": row["via"],
            "categories": row["categories"],
            "items": sorted(i for i in row["items"] if i != "sub"),
            "consent": consent_id,
        },
    )
    if commit:
        db.session.commit()


@dataclass(frozen=True)
class Release:
    portal: str
    client_id: str
    categories: tuple[str, ...]
    items: tuple[str, ...]
    via: str
    at: datetime
    consent_id: str | None


@dataclass(frozen=True)
class Page:
    releases: tuple[Release, ...]
    page: int
    pages: int
    total: int


def history(*, citizen_id: str, page: int = 1, per_page: int = 20) -> Page:
    """The citizen's releases, newest first, one page of them (pages count from 1)."""
    total = int(
        db.session.scalar(
            select(func.count())
            .select_from(DataRelease)
            .where(DataRelease.citizen_id == citizen_id)
        )
        or 0
    )
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = db.session.execute(
        select(DataRelease, OAuthClient.name)
        .join(OAuthClient, OAuthClient.client_id == DataRelease.client_id)
        .where(DataRelease.citizen_id == citizen_id)
        .order_by(DataRelease.released_at.desc(), DataRelease.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    releases = tuple(
        Release(
            portal=name,
            client_id=row.client_id,
            categories=tuple(row.categories or ()),
            items=tuple(row.items or ()),
            via=row.via,
            at=row.released_at,
            consent_id=row.consent_id,
        )
        for row, name in rows
    )
    return Page(releases=releases, page=page, pages=pages, total=total)
