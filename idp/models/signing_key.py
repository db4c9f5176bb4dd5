"""Token-signing keys: private halves wrapped with the key-wrap key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ..extensions import db
from ._types import UTCDateTime
from ._types import utcnow


class SigningKey(db.Model):  # type: ignore[name-defined,misc]
    """Lifecycle: published (in JWKS) from ``created_at``; signs from ``active_from``;
    stops signing at ``retired_at``; leaves the JWKS at ``expires_at``."""

    __tablename__ = "signing_key"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))  # ES256 | RS256
    private_jwk_enc: Mapped[bytes] = mapped_column(LargeBinary)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    active_from: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
