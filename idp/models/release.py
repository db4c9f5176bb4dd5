"""Data releases: every time a citizen's data went to a portal (idp.consent.releases)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ..extensions import db
from ._types import UTCDateTime
from ._types import new_id
from ._types import utcnow


class DataRelease(db.Model):  # type: ignore[name-defined,misc]
    """One release: which portal, which categories (scopes) and items (claims, licence
    types), under which consent (None: administrative consent of a first-party portal),
    through which channel (``id_token``, ``userinfo``, ``data_api``), when."""

    __tablename__ = "data_release"
    __table_args__ = (Index("ix_data_release_citizen_time", "citizen_id", "released_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    citizen_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("citizen.id", ondelete="CASCADE")
    )
    client_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("oauth_client.client_id", ondelete="CASCADE")
    )
    consent_id: Mapped[str | None] = mapped_column(String(36))
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    items: Mapped[list[str]] = mapped_column(JSON, default=list)
    via: Mapped[str] = mapped_column(String(16))
    released_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
