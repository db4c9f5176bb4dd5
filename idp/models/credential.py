"""A citizen's credentials: password, TOTP and its recovery codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ..extensions import db
from ._types import UTCDateTime
from ._types import new_id
from ._types import utcnow


class PasswordCredential(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "password_credential"

    citizen_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("citizen.id", ondelete="CASCADE"), primary_key=True
    )
    hash: Mapped[str] = mapped_column(String(255))  # argon2id PHC string
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TotpCredential(db.Model):  # type: ignore[name-defined,misc]
    """RFC 6238 secret, encrypted. Usable only once ``confirmed_at`` is set."""

    __tablename__ = "totp_credential"

    citizen_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("citizen.id", ondelete="CASCADE"), primary_key=True
    )
    secret_enc: Mapped[bytes] = mapped_column(LargeBinary)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last accepted time step: a code is never accepted twice (RFC 6238 section 5.2).
    last_used_step: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RecoveryCode(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "recovery_code"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    citizen_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("citizen.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
