"""Token introspection, RFC 7662 (https://www.rfc-editor.org/rfc/rfc7662).

RFC 7662 section 2.2: "If the introspection call is properly authorized but the token
is not active, does not exist on this server, or the protected resource is not allowed
to introspect this particular token, then the authorization server MUST return an
introspection response with the "active" field set to "false"."

A client may introspect only its own tokens; anything else is ``active: false``.
Opaque and JWT access tokens (RFC 9068) are found alike, by the keyed hash of their
value, so a revoked JWT is inactive here although its signature is still good.

RFC 9470 section 6.2: the response carries the ``acr`` and ``auth_time`` of the
sign-in behind the token, so a resource server can decide on a step-up challenge.
Public clients cannot introspect (section 2.1: the endpoint "MUST also require some
form of authorization").
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint
from flask import current_app

from . import tokens
from .claims import pairwise_sub
from .errors import InvalidRequestError
from .tokens import IssuedToken


class IntrospectionEndpoint(_IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]

    def check_params(self, request: Any, client: Any) -> None:
        if not request.form.get("token"):
            raise InvalidRequestError("Missing 'token' in request.")

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        return tokens.find(token_string, token_type_hint)

    def check_permission(self, token: IssuedToken, client: Any, request: Any) -> bool:
        return token.check_client(client)

    def create_introspection_payload(self, token: IssuedToken | None) -> dict[str, Any]:
        if token is not None and not token.is_usable():
            return {"active": False}
        payload: dict[str, Any] = super().create_introspection_payload(token)
        return payload

    def introspect_token(self, token: IssuedToken) -> dict[str, Any]:
        row = token.row
        client = token.get_client()
        assert client is not None  # checked in create_introspection_payload
        payload: dict[str, Any] = {
            "active": True,
            "scope": row.scope,
            "client_id": row.client_id,
            # RFC 9068 section 2.2: a client's own token has the client as its subject.
            "sub": (
                row.client_id
                if row.citizen_id is None
                else pairwise_sub(
                    sector_identifier=client.sector_identifier, citizen_id=row.citizen_id
                )
            ),
            "aud": row.client_id,
            "iss": current_app.config["IDP_ISSUER"],
            "exp": int(token.expires_at.timestamp()),
            "iat": int(row.issued_at.timestamp()),
            # RFC 7662 section 2.2 token_type is the RFC 6749 5.1 type of an access
            # token; a refresh token is reported as such.
            "token_type": "Bearer" if token.kind == "access_token" else "refresh_token",
        }
        if row.acr:
            payload["acr"] = row.acr
        if row.auth_time:
            payload["auth_time"] = int(row.auth_time.timestamp())
        if row.act:
            # RFC 8693 4.1 / RFC 7662 2.2 (JWT claim names allowed): the acting staff member.
            payload["act"] = row.act
        return payload
