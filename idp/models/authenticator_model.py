"""Authenticator models admitted to the high level (issue 6: the AAGUID allow-list as a
console page).

One row per model an operator allowed: its AAGUID (WebAuthn 3 section 6.5.1, the
authenticator's model identifier), a label people recognise, who added it and when.
Removal is recorded on the row (``removed_at``, ``removed_by``) rather than deleting it,
so the list keeps its history; allowing the same model again adds a new row. At most one
row per AAGUID is live (the partial unique index), whatever two consoles do at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ..extensions import db
from ._types import UTCDateTime
from ._types import new_id
from ._types import utcnow

LIVE = text("removed_at IS NULL")


class HighAuthenticatorModel(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "high_authenticator_model"
    __table_args__ = (
        Index(
            "uq_high_authenticator_model_live",
            "aaguid",
            unique=True,
            sqlite_where=LIVE,
            postgresql_where=LIVE,
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    aaguid: Mapped[str] = mapped_column(String(36))  # lower-case 8-4-4-4-12 hex
    label: Mapped[str] = mapped_column(String(100))
    # Who: a staff username (console) or "operator:<OS user>" (the `idp` command).
    added_by: Mapped[str] = mapped_column(String(80))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    removed_by: Mapped[str | None] = mapped_column(String(80))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
