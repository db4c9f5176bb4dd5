"""The UserInfo endpoint, OIDC Core 5.3, protected as RFC 6750 says.

OIDC Core 5.3.1: "The Client sends the UserInfo Request using either HTTP GET or HTTP
POST. The Access Token obtained from an OpenID Connect Authentication Request MUST be
sent as a Bearer Token, per Section 2 of OAuth 2.0 Bearer Token Usage [RFC6750]."

Accepted: the ``Authorization: Bearer`` header (RFC 6750 2.1) and, on POST, the
``access_token`` form parameter (2.2). Never the query string (2.3 is discouraged: the
token would end up in logs). Errors (RFC 6750 section 3.1), all with a
``WWW-Authenticate: Bearer`` challenge:

- no token: 401 with no error code;
- two ways of sending a token at once: 400 ``invalid_request``;
- unknown, expired or revoked token: 401 ``invalid_token``;
- a token without the ``openid`` scope: 403 ``insufficient_scope``.

Opaque and JWT access tokens (RFC 9068) are accepted alike: both are looked up by the
keyed hash of their value, so a revoked JWT is refused although its signature is good.
"""

from __future__ import annotations

from typing import Any

from authlib.consts import default_json_headers
from authlib.oauth2.rfc6749 import ResourceProtector
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oidc.core import UserInfoEndpoint as _UserInfoEndpoint

from ..consent import releases
from . import tokens
from .claims import SCOPE_CLAIMS
from .claims import pairwise_sub
from .claims import userinfo
from .errors import BearerInvalidRequestError
from .errors import BearerInvalidTokenError
from .errors import InsufficientScopeError
from .errors import MissingBearerTokenError
from .tokens import IssuedToken


class AccessTokenValidator(BearerTokenValidator):  # type: ignore[misc]
    def authenticate_token(self, token_string: str) -> IssuedToken | None:
        # The citizen's claim columns come in the token's statement (no second query).
        return tokens.find_access(token_string, with_claims=True)

    def validate_token(self, token: IssuedToken | None, scopes: list[str], request: Any) -> None:
        if token is None or token.is_expired() or token.is_revoked():
            raise BearerInvalidTokenError()
        citizen = token.get_user()
        if citizen is None or citizen.locked_at is not None or token.get_client() is None:
            raise BearerInvalidTokenError()
        if self.scope_insufficient(token.get_scope(), scopes):
            raise InsufficientScopeError(scope=" ".join(scopes))


class BearerProtector(ResourceProtector):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.register_token_validator(AccessTokenValidator())

    def parse_request_authorization(self, request: Any) -> tuple[AccessTokenValidator, str]:
        header = request.headers.get("Authorization") or ""
        body_token = request.payload.data.get("access_token") if request.method == "POST" else None
        scheme, _, value = header.partition(" ")
        header_token = value.strip() if scheme.lower() == "bearer" else None
        if header_token is not None and body_token:
            raise BearerInvalidRequestError("Use one way of sending the access token.")
        token_string = header_token or body_token
        if not token_string:
            raise MissingBearerTokenError()
        validator: AccessTokenValidator = self._token_validators["bearer"]
        return validator, token_string


class UserInfoEndpoint(_UserInfoEndpoint):  # type: ignore[misc]
    def __init__(self, server: Any = None) -> None:
        super().__init__(server=server, resource_protector=BearerProtector())

    def __call__(self, request: Any) -> tuple[int, Any, list[tuple[str, str]]]:
        token: IssuedToken = self.resource_protector.validate_request(["openid"], request)
        citizen = token.get_user()
        client = token.get_client()
        assert citizen is not None and client is not None  # checked by the validator
        sub = pairwise_sub(sector_identifier=client.sector_identifier, citizen_id=citizen.id)
        scopes = token.get_scope().split()
        body = userinfo(citizen=citizen, sub=sub, scopes=scopes)
        # A data release (idp.consent.releases): the categories whose claims went out.
        releases.record(
            citizen_id=citizen.id,
            client_id=client.client_id,
            consent_id=token.get_consent_id(),
            categories=[s for s in scopes if any(c in body for c in SCOPE_CLAIMS.get(s, ()))],
            items=list(body),
            via=releases.Via.USERINFO,
        )
        return 200, body, default_json_headers
