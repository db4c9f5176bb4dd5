"""Relying-party portals registered as OAuth 2.0 / OpenID Connect clients."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import Boolean
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import false
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ..extensions import db
from ._types import UTCDateTime
from ._types import utcnow


class OAuthClient(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "oauth_client"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Keyed hash of the secret; the secret itself is shown once, at creation or rotation.
    client_secret_hash: Mapped[str | None] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    department: Mapped[str | None] = mapped_column(String(200))
    logo_uri: Mapped[str | None] = mapped_column(Text)
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    # client_secret_basic | client_secret_post | private_key_jwt | none
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32))
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # for private_key_jwt
    scope: Mapped[str] = mapped_column(Text, default="openid")  # scopes it may ask for
    # Pairwise `sub` sector (OIDC Core 8.1); defaults to the host of the redirect URIs.
    sector_identifier: Mapped[str] = mapped_column(String(255))
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(16), default="ES256")
    # First-party portals are run by the same operator and skip the consent page.
    first_party: Mapped[bool] = mapped_column(Boolean, default=False)
    # Assurance policy set by administrators (idp.oauth.acr_request): the level used when
    # a request names none, and a floor no request can go below. acr URIs or NULL.
    default_acr: Mapped[str | None] = mapped_column(String(64))
    minimum_acr: Mapped[str | None] = mapped_column(String(64))
    # "opaque" (default) or "jwt": RFC 9068 JWT access tokens (idp.oauth.jwt_access).
    access_token_format: Mapped[str] = mapped_column(
        String(16), default="opaque", server_default="opaque"
    )
    # Per-scope consent policy (idp.consent.policy): {scope: {"required": bool,
    # "purpose": str}, "ttl_days": int}. NULL: every requested scope required.
    scope_policy: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Grant types an administrator allowed (RFC 7591 "grant_types"): "authorization_code"
    # and/or "client_credentials" (RFC 6749 4.4). NULL: ["authorization_code"]. A refresh
    # token comes with offline_access (idp.oauth.clients.Client.check_grant_type).
    grant_types: Mapped[list[str] | None] = mapped_column(JSON)
    # OpenID Connect Back-Channel Logout 1.0 section 2.2 (idp.oauth.backchannel): where
    # logout tokens are POSTed, and whether every token must carry a ``sid``.
    backchannel_logout_uri: Mapped[str | None] = mapped_column(Text)
    backchannel_logout_session_required: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    # OpenID Connect Front-Channel Logout 1.0 section 2 (idp.oauth.frontchannel): the URI
    # the signed-out page frames, and whether the frame carries ``iss`` and ``sid``.
    frontchannel_logout_uri: Mapped[str | None] = mapped_column(Text)
    frontchannel_logout_session_required: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    # Per-client token lifetimes in seconds (NULL: IDP_TTL_ACCESS_TOKEN / _REFRESH_TOKEN).
    access_token_ttl: Mapped[int | None] = mapped_column(Integer)
    refresh_token_ttl: Mapped[int | None] = mapped_column(Integer)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # OIDC Registration 2 ``application_type``: "web" or "native" (RFC 8252: public,
    # PKCE, claimed https or loopback redirect; the mobile app binds devices with it).
    application_type: Mapped[str] = mapped_column(String(16), default="web", server_default="web")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # OpenID Connect CIBA Core 1.0 section 4 (idp.oauth.ciba): "poll" or "ping", and
    # where pings go (ping mode only).
    backchannel_token_delivery_mode: Mapped[str | None] = mapped_column(String(8))
    backchannel_client_notification_endpoint: Mapped[str | None] = mapped_column(Text)

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"
