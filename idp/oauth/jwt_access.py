"""JWT access tokens, RFC 9068 (https://www.rfc-editor.org/rfc/rfc9068).

Issued instead of opaque tokens to clients registered with ``access_token_format``
``"jwt"`` (``idp clients create --access-token-format jwt``), so that a resource server
can read the token's scope and authentication context without a call to the provider.

Header (RFC 9068 2.1): ``typ: at+jwt`` ("the typ value used SHOULD be at+jwt"), ``alg``
``IDP_ACCESS_TOKEN_ALG`` (RS256 by default: "Authorization servers and resource servers
conforming to this specification MUST include RS256 ... among their supported signature
algorithms"), ``kid`` of the provider's current key (``keys``, the JWKS at
``/jwks.json``).

Claims (RFC 9068 2.2): ``iss``, ``exp``, ``aud``, ``sub``, ``client_id``, ``iat``,
``jti``, ``scope`` (2.2.3), and the authentication context of the sign-in behind the
grant, ``auth_time``, ``acr``, ``amr`` (2.2.1), which RFC 9470 step-up relies on, and
``act`` (RFC 8693 4.1) when a member of staff assisted the sign-in.

- ``aud`` is the client_id. RFC 9068 3: "If the request does not include a resource
  parameter, the authorization server MUST use a default resource indicator in the aud
  claim." Resource indicators (RFC 8707) are not supported, so the default is the
  portal's own API: the resource server behind a portal expects the portal's client_id.
- ``sub`` is the pairwise subject the client knows from its ID token (OIDC Core 8.1;
  RFC 9068 6: "the authorization server should ... use pairwise identifiers"), never
  the citizen's internal id or ID number. No other personal data is put in the token.
- A JWT is stored like an opaque token, as a keyed hash of its whole value
  (``tokens.persist``): revocation (RFC 7009), introspection (RFC 7662) and UserInfo
  look it up in the database, so a revoked JWT is inactive there even before it expires.
  A resource server that validates the JWT offline learns of a revocation only by
  introspecting (``idp.resource`` does both).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterable
from typing import Any

from flask import current_app
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from . import keys

TYP = "at+jwt"
# RFC 9068 4: "The resource server MUST verify that the typ header value is at+jwt or
# application/at+jwt and reject tokens carrying any other value."
ACCEPTED_TYPES = ("at+jwt", "application/at+jwt")
ALGORITHMS = ("RS256", "ES256")
MAX_LENGTH = 4096  # far above our tokens (about 1 kB with RS256)


class InvalidAccessToken(Exception):
    """A JWT access token failed RFC 9068 section 4 validation; ``reason`` is for logs."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def looks_like_jwt(token: str) -> bool:
    """A JWS compact serialisation (three base64url parts); opaque tokens have no dot."""
    return token.count(".") == 2 and token.startswith("eyJ")


def signing_alg() -> str:
    alg = str(current_app.config["IDP_ACCESS_TOKEN_ALG"])
    if alg not in ALGORITHMS:
        raise ValueError(f"IDP_ACCESS_TOKEN_ALG must be one of {', '.join(ALGORITHMS)}")
    return alg


def encode(
    *,
    client_id: str,
    subject: str,
    scope: str,
    expires_in: int,
    auth_time: int | None = None,
    acr: str | None = None,
    amr: Iterable[str] = (),
    act: dict[str, str] | None = None,
) -> str:
    """A signed RFC 9068 access token for ``subject`` (the client's pairwise sub)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": current_app.config["IDP_ISSUER"],
        "exp": now + int(expires_in),
        "aud": client_id,
        "sub": subject,
        "client_id": client_id,
        "iat": now,
        "jti": secrets.token_urlsafe(16),
        "scope": scope,
    }
    if auth_time is not None:
        claims["auth_time"] = int(auth_time)
    if acr:
        claims["acr"] = acr
    if methods := list(amr):
        claims["amr"] = methods
    if act:
        # RFC 8693 4.1 (registered for JWTs): the staff member who assisted the sign-in.
        claims["act"] = act
    alg = signing_alg()
    header = {"typ": TYP, "alg": alg, "kid": keys.signing_key_info(alg).kid}
    return jwt.encode(header, claims, keys.private_keyset(alg), algorithms=[alg])


def issued_times(token: str) -> tuple[int, int]:
    """(iat, exp) of a JWT this provider has just signed, read without verification:
    the database row of the token gets exactly the JWT's own times."""
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return int(claims["iat"]), int(claims["exp"])


def validate(
    token: str,
    *,
    keyset: KeySet,
    issuer: str,
    audience: str | None,
    now: int | None = None,
    leeway: int = 0,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """RFC 9068 section 4 checks; returns (header, claims) or raises InvalidAccessToken.

    ``audience`` None skips the ``aud`` check: only for a caller that binds the token
    to its client otherwise (the provider's own database, see ``idp.resource``).
    """
    if not token or len(token) > MAX_LENGTH or not looks_like_jwt(token):
        raise InvalidAccessToken("not a JWT")
    try:
        # RFC 9068 4: "The resource server MUST reject any JWT in which the value of
        # alg is none" (and we accept only what we sign with).
        decoded = jwt.decode(token, keyset, algorithms=list(ALGORITHMS))
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise InvalidAccessToken(f"signature or format: {type(exc).__name__}") from None
    header, claims = dict(decoded.header), dict(decoded.claims)
    if str(header.get("typ", "")).lower() not in ACCEPTED_TYPES:
        raise InvalidAccessToken("typ is not at+jwt")
    options: dict[str, Any] = {
        # RFC 9068 4: "The issuer identifier for the authorization server ... MUST
        # exactly match the value of the iss claim."
        "iss": {"essential": True, "value": issuer},
        # "The current time MUST be before the time represented by the exp claim."
        "exp": {"essential": True},
        "iat": {"essential": True},
        "sub": {"essential": True},
        "client_id": {"essential": True},
        "jti": {"essential": True},
    }
    if audience is not None:
        # "The resource server MUST validate that the aud claim contains a resource
        # indicator value corresponding to an identifier the resource server expects
        # for itself."
        options["aud"] = {"essential": True, "value": audience}
    registry = jwt.JWTClaimsRegistry(
        now=int(time.time()) if now is None else now, leeway=leeway, **options
    )
    try:
        registry.validate(claims)
    except (JoseError, ValueError, TypeError) as exc:
        raise InvalidAccessToken(f"claims: {type(exc).__name__}") from None
    return header, claims
