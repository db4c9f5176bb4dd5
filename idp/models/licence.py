"""Electronic licences held for citizens (idp.licences)."""

from __future__ import annotations

from datetime import date
from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import Date
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ..extensions import db
from ._types import UTCDateTime
from ._types import new_id
from ._types import utcnow


class Licence(db.Model):  # type: ignore[name-defined,misc]
    """One licence. Unique on (type, number): loading it again updates it in place.

    ``holder_index`` is the blind index of the holder's normalised ID number, the key
    ``Citizen.id_number_index`` has too; the number itself is not stored here.
    ``status`` is what the issuing department set (valid / suspended / revoked); a valid
    licence past ``expires_on`` reads as expired (``idp.licences.store.effective_status``).
    """

    __tablename__ = "licence"
    __table_args__ = (
        UniqueConstraint("type", "number", name="uq_licence_type_number"),
        Index("ix_licence_holder_type", "holder_index", "type"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    holder_index: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(32))
    number: Mapped[str] = mapped_column(String(64))
    department: Mapped[str] = mapped_column(String(200))
    issued_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="valid")
    status_reason: Mapped[str | None] = mapped_column(String(200))
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The document's own fields (idp.licences.types: required and optional per type).
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
