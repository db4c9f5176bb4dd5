"""WebAuthn credentials (passkeys and security keys) and each citizen's opaque user handle.

W3C Web Authentication Level 3, https://www.w3.org/TR/webauthn-3/. What a Relying Party
must keep per credential is the "credential record" of section 4 (Terminology): type, id,
publicKey, signCount, transports, uvInitialized, backupEligible, backupState. Those are the
columns below, plus the citizen's own name for it and its life cycle.
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


class WebAuthnUser(db.Model):  # type: ignore[name-defined,misc]
    """The citizen's WebAuthn user handle (``user.id`` of the creation options).

    WebAuthn 3 section 14.6.1: "It is RECOMMENDED to let the user handle be 64 random
    bytes" and it "MUST NOT contain personally identifying information". It is never the
    ID number: an authenticator hands the handle to whoever asks for it with a
    discoverable credential. One per citizen, shared by all their credentials, so a
    discoverable sign-in names the account without the ID number being typed.
    """

    __tablename__ = "webauthn_user"

    citizen_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("citizen.id", ondelete="CASCADE"), primary_key=True
    )
    user_handle: Mapped[bytes] = mapped_column(LargeBinary(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebAuthnCredential(db.Model):  # type: ignore[name-defined,misc]
    """One registered public key credential. Never deleted by a failure: a credential
    suspected of being cloned (its signature counter went backwards) is kept with
    ``disabled_at`` set, so the citizen sees what happened and an operator can look."""

    __tablename__ = "webauthn_credential"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    citizen_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("citizen.id", ondelete="CASCADE"), index=True
    )
    # WebAuthn 3 section 5.1: credential ids are at most 1023 bytes.
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # COSE_Key (RFC 9052 section 7)
    # The authenticator's 32-bit signature counter (0 = the authenticator keeps none).
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    transports: Mapped[list[str]] = mapped_column(JSON, default=list)
    aaguid: Mapped[str] = mapped_column(String(36))  # authenticator model, as reported
    attestation_fmt: Mapped[str] = mapped_column(String(32), default="none")
    backup_eligible: Mapped[bool] = mapped_column(Boolean, default=False)  # BE: synced passkey
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False)  # BS, updated on each use
    uv_initialized: Mapped[bool] = mapped_column(Boolean, default=False)  # UV at registration
    discoverable: Mapped[bool] = mapped_column(Boolean, default=False)  # asked as a passkey
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(String(32))
    # Enrolled with a one-time code from a service-hall counter after the staff member
    # verified the citizen in person (adapters/hall, issue 5).
    bound_in_person: Mapped[bool] = mapped_column(Boolean, default=False)
