"""Mobile-app device keys bound to a citizen, and the alerts shown on the account page.

A device key is an ES256 public key (RFC 7518 section 3.4) that the citizen's phone
keeps behind its biometric or passcode; the private key never leaves the phone. The
server keeps the public JWK (RFC 7517), its RFC 7638 thumbprint (one binding per key),
and the level of the sign-in that bound it: NIST SP 800-63B 6.1.2.1 ("the CSP SHALL
require the subscriber to authenticate at the AAL (or a higher AAL) at which the new
authenticator will be used"), so a device never yields more than that level.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ..extensions import db
from ._types import UTCDateTime
from ._types import new_id
from ._types import utcnow


class DeviceKey(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "device_key"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    citizen_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("citizen.id", ondelete="CASCADE"), index=True
    )
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)  # kty, crv, x, y only
    thumbprint: Mapped[str] = mapped_column(String(64), unique=True)  # RFC 7638, SHA-256
    name: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str | None] = mapped_column(String(32))
    bound_acr: Mapped[str] = mapped_column(String(64))  # level of the binding sign-in
    client_id: Mapped[str] = mapped_column(String(64))  # the app that bound it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AccountAlert(db.Model):  # type: ignore[name-defined,misc]
    """Something the citizen must know about (a refused "not me" approval request)."""

    __tablename__ = "account_alert"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    citizen_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("citizen.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    # What the request said: portal, channel, place (never an ID number or a secret).
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
