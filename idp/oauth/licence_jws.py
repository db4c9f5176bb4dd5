"""Signed electronic licences: one compact JWS per licence (RFC 7515, RFC 7519 claims).

A portal receives each licence from ``GET /api/licences`` as a JWT it can verify
offline against the provider's JWKS (``/jwks.json``), keep, and show later as proof:

- header: ``alg`` (the portal's ``id_token_signed_response_alg``, ES256 by default: the
  portal already verifies ID tokens with it), ``kid`` of the current signing key, and
  ``typ: licence+jwt`` (RFC 8725 section 3.11, explicit typing: "the use of explicit
  typing ... to prevent confusion" between kinds of JWT; a licence can never pass for
  an ID token or an access token, whose ``typ`` differ);
- claims: ``iss``; ``sub``, the citizen's pairwise subject for the portal (OIDC Core
  8.1, the same as in its ID tokens); ``aud``, the portal's client_id; ``iat``; ``exp``
  (``IDP_TTL_LICENCE_JWS`` later: how long the statement may be relied on, not the
  licence's own expiry); ``jti``; and ``licence``: type, number, issuing department,
  issue and expiry dates, status (valid, suspended, revoked, expired) and the
  document's fields.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from flask import current_app
from joserfc import jwt

from ..licences.store import LicenceView
from . import keys
from .clients import Client

TYP = "licence+jwt"


def sign(*, client: Client, subject: str, licence: LicenceView, now: int | None = None) -> str:
    issued = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "iss": current_app.config["IDP_ISSUER"],
        "sub": subject,
        "aud": client.client_id,
        "iat": issued,
        "exp": issued + int(current_app.config["IDP_TTL_LICENCE_JWS"]),
        "jti": secrets.token_urlsafe(16),
        "licence": licence.as_claims(),
    }
    alg = client.id_token_signed_response_alg
    header = {"typ": TYP, "alg": alg, "kid": keys.signing_key_info(alg).kid}
    return jwt.encode(header, claims, keys.private_keyset(alg), algorithms=[alg])
