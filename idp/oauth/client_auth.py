"""``private_key_jwt`` client authentication (RFC 7523 section 2.2 and 3, OIDC Core 9).

OIDC Core 9: the JWT "MUST contain the following REQUIRED Claim Values": ``iss`` and
``sub`` (the client_id), ``aud`` ("the URL of the Authorization Server's Token
Endpoint"; RFC 7523 section 3 also allows the issuer), ``jti`` ("A unique identifier
for the token, which can be used to prevent reuse of the token. These tokens MUST only
be used once") and ``exp``.

Replay: each ``jti`` is remembered in the ephemeral store (``put_if_absent``) until the
assertion expires; assertions valid for longer than ``IDP_TTL_CLIENT_ASSERTION_JTI``
are refused, so the replay cache always outlives the assertion.

``client_secret_post`` and ``none`` are Authlib's built-ins; ``client_secret_basic`` is
Authlib's too, with the ``Authorization`` header parsed here (``basic_credentials``):
Authlib's parser raised on credentials that are not UTF-8 (``Basic /w==``) or on a value
ending in a space, which made every client-authenticating endpoint answer 500 instead
of ``invalid_client``. All are checked against ``Client.check_client_secret``
(constant-time keyed-hash comparison).
"""

from __future__ import annotations

import binascii
import logging
import time
from base64 import b64decode
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from flask import current_app
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ..store import current_store
from . import hashing
from .clients import Client
from .errors import InvalidClientError

log = logging.getLogger(__name__)

# Signature algorithms accepted on client assertions (never "none" or HMAC).
ASSERTION_ALGS = ["ES256", "ES384", "RS256", "PS256", "EdDSA"]
JTI_KIND = "client-jti"
LEEWAY = 30


class PrivateKeyJwt(JWTBearerClientAssertion):  # type: ignore[misc]
    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self) -> None:
        super().__init__(validate_jti=True, leeway=LEEWAY)

    def __call__(self, query_client: Any, request: Any) -> Client | None:
        try:
            client: Client | None = super().__call__(query_client, request)
        except InvalidClientError:
            raise
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise InvalidClientError(description="Invalid client assertion.") from exc
        return client

    def get_audiences(self) -> list[str]:
        issuer = str(current_app.config["IDP_ISSUER"]).rstrip("/")
        # The device authorization endpoint (RFC 8628 3.1) authenticates clients too.
        # So do CIBA's (CIBA Core 7.1: the token or backchannel endpoint URL, or issuer).
        return [
            issuer + "/token",
            issuer,
            issuer + "/device_authorization",
            issuer + "/bc-authorize",
            issuer + "/bc-authorize/read-back",
        ]

    def resolve_client_public_key(self, client: Client) -> KeySet:
        if client.model.jwks is None:
            raise InvalidClientError(description="The client has no registered keys.")
        return KeySet.import_key_set(client.model.jwks)  # type: ignore[arg-type]

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Any:
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=ASSERTION_ALGS)
        except (JoseError, ValueError) as exc:
            raise InvalidClientError(description="Invalid client assertion.") from exc
        self.verify_claims(token.claims)
        return token.claims

    def verify_claims(self, claims: Any) -> None:
        exp = claims.get("exp")
        if not isinstance(exp, int | float):
            raise InvalidClientError(description="The client assertion needs an 'exp'.")
        limit = int(current_app.config["IDP_TTL_CLIENT_ASSERTION_JTI"])
        if exp - time.time() > limit:
            raise InvalidClientError(description="The client assertion lives too long.")
        super().verify_claims(claims)

    def validate_jti(self, claims: dict[str, Any], jti: Any) -> bool:
        if not isinstance(jti, str) or not jti or len(jti) > 256:
            return False
        ttl = max(1, int(claims["exp"] - time.time()) + LEEWAY)
        key = hashing.keyed_hash(JTI_KIND, f"{claims['sub']}\x00{jti}")
        return current_store().put_if_absent(JTI_KIND, key, {"client_id": claims["sub"]}, ttl)


def basic_credentials(headers: Mapping[str, str]) -> tuple[str | None, str | None]:
    """``(client_id, secret)`` from ``Authorization: Basic`` (RFC 7617; RFC 6749 2.3.1:
    both form-urlencoded before encoding), ``(None, None)`` for any other or malformed
    value, so a bad header ends as ``invalid_client``, never as an exception."""
    value = (headers.get("Authorization") or "").strip(" \t")  # RFC 9110 5.5: no OWS
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = b64decode(token.strip(" \t"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        return None, None
    return unquote(client_id), unquote(secret)


def authenticate_client_secret_basic(query_client: Any, request: Any) -> Client | None:
    """Authlib's ``client_secret_basic`` with ``basic_credentials`` as its parser."""
    client_id, secret = basic_credentials(request.headers)
    if not client_id or not secret:
        return None
    client: Client | None = query_client(client_id)
    if client is None:
        raise InvalidClientError(
            status_code=401, description="The client does not exist on this server."
        )
    if client.check_client_secret(secret):
        return client
    log.debug("client_secret_basic failed")
    return None
