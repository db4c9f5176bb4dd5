"""OAuth 2.0 / OpenID Connect errors Authlib does not define, one class per wire code.

Authlib already has the RFC 6749 section 5.2 and 4.1.2.1 codes
(``authlib.oauth2.rfc6749.errors``) and the OpenID Connect Core 3.1.2.6 codes
(``authlib.oidc.core.errors``); they are re-exported here so the protocol layer imports
every error from one place. What follows them is what Authlib lacks.

The ``error`` attribute is the wire value; ``description`` is public ASCII
(RFC 6749 section 5.2: ``%x20-21 / %x23-5B / %x5D-7E``) and never carries an ID
number, a token or a secret.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.rfc6749.errors import AccessDeniedError
from authlib.oauth2.rfc6749.errors import InvalidClientError
from authlib.oauth2.rfc6749.errors import InvalidGrantError
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6749.errors import InvalidScopeError
from authlib.oauth2.rfc6749.errors import UnauthorizedClientError
from authlib.oauth2.rfc6749.errors import UnsupportedGrantTypeError
from authlib.oauth2.rfc6749.errors import UnsupportedResponseTypeError
from authlib.oauth2.rfc6750.errors import InvalidTokenError
from authlib.oidc.core.errors import ConsentRequiredError
from authlib.oidc.core.errors import InteractionRequiredError
from authlib.oidc.core.errors import LoginRequiredError
from authlib.oidc.core.errors import RegistrationNotSupportedError
from authlib.oidc.core.errors import RequestNotSupportedError
from authlib.oidc.core.errors import RequestURINotSupportedError

__all__ = [
    "AccessDeniedError",
    "BearerInvalidRequestError",
    "BearerInvalidTokenError",
    "ConsentRequiredError",
    "InsufficientScopeError",
    "InteractionRequiredError",
    "InvalidClientError",
    "InvalidGrantError",
    "InvalidRequestError",
    "InvalidScopeError",
    "InvalidTokenError",
    "LoginRequiredError",
    "MissingBearerTokenError",
    "OAuth2Error",
    "RegistrationNotSupportedError",
    "RequestNotSupportedError",
    "RequestURINotSupportedError",
    "ServerError",
    "TemporarilyUnavailableError",
    "UnauthorizedClientError",
    "UnmetAuthenticationRequirementsError",
    "UnsupportedGrantTypeError",
    "UnsupportedResponseTypeError",
]

BEARER_REALM = "idp"


class ServerError(OAuth2Error):  # type: ignore[misc]
    """RFC 6749 section 4.1.2.1: "The authorization server encountered an unexpected
    condition that prevented it from fulfilling the request. (This error code is needed
    because a 500 Internal Server Error HTTP status code cannot be returned to the client
    via an HTTP redirect.)"

    https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1
    """

    error = "server_error"
    status_code = 500


class TemporarilyUnavailableError(OAuth2Error):  # type: ignore[misc]
    """RFC 6749 section 4.1.2.1: "The authorization server is currently unable to handle
    the request due to a temporary overloading or maintenance of the server."

    https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1
    """

    error = "temporarily_unavailable"
    status_code = 503


class UnmetAuthenticationRequirementsError(OAuth2Error):  # type: ignore[misc]
    """OpenID Connect Core Unmet Authentication Requirements 1.0, section 2: "The
    Authorization Server is unable to meet the requirements of the Relying Party for the
    authentication of the End-User." Used when a requested ``acr`` cannot be reached.

    https://openid.net/specs/openid-connect-unmet-authentication-requirements-1_0.html
    """

    error = "unmet_authentication_requirements"


class _BearerChallenge:
    """RFC 6750 section 3: "If the protected resource request does not include
    authentication credentials or does not contain an access token that enables access
    to the protected resource, the resource server MUST include the HTTP
    WWW-Authenticate response header field"."""

    error: str | None
    status_code: int

    def bearer_header(self, description: str | None = None) -> tuple[str, str]:
        params = [f'realm="{BEARER_REALM}"']
        if self.error:
            params.append(f'error="{self.error}"')
        if description:
            params.append('error_description="{}"'.format(description.replace('"', "'")))
        return ("WWW-Authenticate", "Bearer " + ", ".join(params))


class MissingBearerTokenError(_BearerChallenge, OAuth2Error):  # type: ignore[misc]
    """RFC 6750 section 3.1: "If the request lacks any authentication information (e.g.,
    the client was unaware that authentication is necessary or attempted using an
    unsupported authentication method), the resource server SHOULD NOT include an error
    code or other error information." A 401 with a bare ``Bearer realm`` challenge.

    https://www.rfc-editor.org/rfc/rfc6750#section-3.1
    """

    error = None
    status_code = 401

    def __call__(self, uri: str | None = None) -> tuple[int, Any, list[tuple[str, str]]]:
        return 401, "", [self.bearer_header(), ("Cache-Control", "no-store")]


class BearerInvalidTokenError(_BearerChallenge, InvalidTokenError):  # type: ignore[misc]
    """RFC 6750 section 3.1 ``invalid_token``: "The access token provided is expired,
    revoked, malformed, or invalid for other reasons. The resource SHOULD respond with
    the HTTP 401 (Unauthorized) status code."

    https://www.rfc-editor.org/rfc/rfc6750#section-3.1
    """

    def get_headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = OAuth2Error.get_headers(self)
        headers.append(self.bearer_header(self.get_error_description()))
        return headers


class InsufficientScopeError(_BearerChallenge, OAuth2Error):  # type: ignore[misc]
    """RFC 6750 section 3.1 ``insufficient_scope``: "The request requires higher
    privileges than provided by the access token. The resource server SHOULD respond
    with the HTTP 403 (Forbidden) status code and MAY include the "scope" attribute with
    the scope necessary to access the protected resource." Authlib's class omits the
    WWW-Authenticate header that section 3 requires.

    https://www.rfc-editor.org/rfc/rfc6750#section-3.1
    """

    error = "insufficient_scope"
    description = "The access token does not grant the scope this resource needs."
    status_code = 403

    def __init__(self, *, scope: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scope = scope

    def get_headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = super().get_headers()
        name, value = self.bearer_header(self.get_error_description())
        headers.append((name, f'{value}, scope="{self.scope}"'))
        return headers


class BearerInvalidRequestError(_BearerChallenge, InvalidRequestError):  # type: ignore[misc]
    """RFC 6750 section 3.1 ``invalid_request``: "The request is missing a required
    parameter, includes an unsupported parameter or parameter value, repeats the same
    parameter, uses more than one method for including an access token, or is otherwise
    malformed. The resource server SHOULD respond with the HTTP 400 (Bad Request) status
    code."

    https://www.rfc-editor.org/rfc/rfc6750#section-3.1
    """

    def get_headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = OAuth2Error.get_headers(self)
        headers.append(self.bearer_header(self.get_error_description()))
        return headers
