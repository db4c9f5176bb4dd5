"""Token revocation, RFC 7009 (https://www.rfc-editor.org/rfc/rfc7009).

RFC 7009 section 2.2: "The authorization server responds with HTTP status code 200 if
the token has been revoked successfully or if the client submitted an invalid token."

- Revoking a refresh token revokes its whole grant (section 2.1: "If the particular
  token is a refresh token and the authorization server supports the revocation of
  access tokens, then the authorization server SHOULD also invalidate all access tokens
  based on the same authorization grant").
- Revoking an access token ends only that access token.
- A token issued to another client is refused (section 2.1: the server "verifies
  whether the token was issued to the client making the revocation request. If this
  validation fails, the request is refused"), with Authlib's ``invalid_grant``.
- An unknown ``token_type_hint`` is ignored (section 2.1: "An authorization server MAY
  ignore this parameter").
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint

from .. import audit
from ..audit import ActorType
from ..audit import EventType
from ..extensions import db
from . import tokens
from .clients import AUTH_METHODS
from .errors import InvalidRequestError
from .tokens import IssuedToken


class RevocationEndpoint(_RevocationEndpoint):  # type: ignore[misc]
    # Public clients may revoke their own tokens (section 5: client_id is enough).
    CLIENT_AUTH_METHODS = list(AUTH_METHODS)

    def check_params(self, request: Any, client: Any) -> None:
        if not request.form.get("token"):
            raise InvalidRequestError("Missing 'token' in request.")

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        return tokens.find(token_string, token_type_hint)

    def revoke_token(self, token: IssuedToken, request: Any) -> None:
        if token.kind == "refresh_token":
            tokens.revoke_grant(token.grant_id)
        else:
            tokens.expire_access_token(token.row)
        audit.record(
            EventType.TOKEN_REVOKE,
            actor_type=ActorType.CLIENT,
            actor_id=token.client_id,
            citizen_id=token.row.citizen_id,
            client_id=token.client_id,
            details={"grant": token.grant_id, "token_type": token.kind, "via": "rfc7009"},
        )
        db.session.commit()
