"""Staff accounts (administrators, client managers, auditors, counter staff), their
WebAuthn credentials and their personal admin-API tokens (issue 6).

Staff are not citizens: their own table, their own credentials (user verification
required), their own session. The service-hall counter (issue 5) uses the same accounts
with the ``counter_staff`` role. Nothing here is a secret in clear: the enrolment code
and API tokens are stored only as keyed hashes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON
from sqlalchemy import BigInteger
from sqlalchemy import Boolean
from sqlalchemy import ForeignKey
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ..extensions import db
from ._types import UTCDateTime
from ._types import new_id
from ._types import utcnow


class Staff(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "staff"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    # Client managers manage only the clients whose ``department`` equals this.
    department: Mapped[str | None] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # One-time enrolment code (keyed hash) and its expiry: how a new member registers
    # a first security key, since nobody can sign in before that.
    enrolment_hash: Mapped[str | None] = mapped_column(String(128))
    enrolment_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # WebAuthn user handle (WebAuthn 3 section 14.6.1: random, no personal data).
    user_handle: Mapped[bytes] = mapped_column(LargeBinary(64), unique=True)


class StaffCredential(db.Model):  # type: ignore[name-defined,misc]
    """A staff member's WebAuthn credential (the credential record of WebAuthn 3 section 4)."""

    __tablename__ = "staff_credential"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    staff_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("staff.id", ondelete="CASCADE"), index=True
    )
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    transports: Mapped[list[str]] = mapped_column(JSON, default=list)
    aaguid: Mapped[str] = mapped_column(String(36))
    backup_eligible: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffApiToken(db.Model):  # type: ignore[name-defined,misc]
    """A personal bearer token for the JSON admin API, acting as its staff member with
    the roles they hold at the time of each call. Shown once; only its keyed hash kept."""

    __tablename__ = "staff_api_token"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    staff_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("staff.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
