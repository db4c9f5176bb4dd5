"""Issued tokens. Only keyed hashes of token values are stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ..extensions import db
from ._types import UTCDateTime
from ._types import new_id
from ._types import utcnow


class OAuthToken(db.Model):  # type: ignore[name-defined,misc]
    """One access token and (optionally) its refresh token.

    ``grant_id`` ties together every token descended from one authorization code: refresh
    rotation keeps it, and revoking a grant (code replay, refresh reuse) revokes them all.
    """

    __tablename__ = "oauth_token"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    grant_id: Mapped[str] = mapped_column(String(64), index=True)
    client_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("oauth_client.client_id", ondelete="CASCADE"), index=True
    )
    # NULL for a client's own token (client_credentials, RFC 6749 section 4.4).
    citizen_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("citizen.id", ondelete="CASCADE"), index=True
    )
    scope: Mapped[str] = mapped_column(Text)
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    access_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the refresh token was exchanged for a new pair; presenting it again is reuse.
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Authentication context of the sign-in behind the grant (kept across refreshes).
    sid: Mapped[str | None] = mapped_column(String(64), index=True)
    acr: Mapped[str | None] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    auth_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The consent the scopes were granted under (NULL: client token, or a first-party
    # portal's administrative consent); data-release records name it.
    consent_id: Mapped[str | None] = mapped_column(String(36))
    channel: Mapped[str | None] = mapped_column(String(16))  # where that sign-in happened
    # RFC 8693 4.1 ``act``: the staff member who assisted that sign-in (idp.authn.acting).
    act: Mapped[dict[str, str] | None] = mapped_column(JSON)
