"""The composition root of the protocol layer: ``build_server(app)``.

One Authlib ``AuthorizationServer`` per application, with every grant, extension and
endpoint attached here and nowhere else:

- authorization code (RFC 6749 4.1) + OIDC request rules + PKCE S256 (RFC 7636) +
  ``OpenIDCode`` (OIDC Core 3.1);
- refresh token with rotation (RFC 6749 6) + ``OpenIDRefresh`` (OIDC Core 12.2);
- client credentials (RFC 6749 4.4) for clients an administrator allowed it;
- client authentication: Authlib's ``client_secret_basic``, ``client_secret_post``,
  ``none``, and ``private_key_jwt`` (RFC 7523);
- the ``iss`` authorization response parameter (RFC 9207);
- revocation (RFC 7009), introspection (RFC 7662), UserInfo (OIDC Core 5.3) and
  RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0);
- the device authorization grant (RFC 8628) for kiosks, with ``IDP_FEATURE_DEVICE_FLOW``;
- CIBA (OpenID Connect CIBA Core 1.0, poll and ping) for the hotline, with
  ``IDP_FEATURE_CIBA``.

The server never sees Flask: it takes ``ProtocolRequest`` values and returns
``ProtocolResponse`` values (``idp.web.oauth_bp`` converts both ways).
"""

from __future__ import annotations

import logging
from typing import Any

from authlib.oauth2.rfc6749 import AuthorizationServer as _AuthorizationServer
from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oauth2.rfc9207 import IssuerParameter as _IssuerParameter
from flask import Flask
from flask import current_app

from ..authn import session_events
from . import backchannel
from . import backchannel_delivery
from . import client_cache
from . import keys
from . import tokens
from .claims import SUPPORTED_SCOPES
from .client_auth import PrivateKeyJwt
from .client_auth import authenticate_client_secret_basic
from .clients import Client
from .clients import query_client
from .device import DeviceAuthorizationEndpoint
from .device import DeviceCodeGrant
from .device import OpenIDDevice
from .errors import InvalidRequestError
from .errors import UnsupportedResponseTypeError
from .grants import AuthorizationCodeGrant
from .grants import ClientCredentialsGrant
from .grants import RefreshTokenGrant
from .grants import S256CodeChallenge
from .introspection import IntrospectionEndpoint
from .logout import EndSessionEndpoint
from .oidc import AuthenticationRequestRules
from .oidc import OpenIDCode
from .oidc import OpenIDRefresh
from .requests import ProtocolRequest
from .requests import ProtocolResponse
from .revocation import RevocationEndpoint
from .service_scopes import SERVICE_SCOPES
from .userinfo import UserInfoEndpoint

EXTENSION_KEY = "idp.oauth"


class IssuerParameter(_IssuerParameter):  # type: ignore[misc]
    """RFC 9207 section 2: "In authorization responses to the client, including error
    responses, an authorization server supporting this specification MUST indicate its
    identity by including the iss parameter in the response." """

    def get_issuer(self) -> str:
        return str(current_app.config["IDP_ISSUER"])


class AuthorizationServer(_AuthorizationServer):  # type: ignore[misc]
    def query_client(self, client_id: str | None) -> Client | None:
        return query_client(client_id)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        raise NotImplementedError("each grant saves its own tokens")

    def create_oauth2_request(self, request: Any) -> ProtocolRequest:
        if not isinstance(request, ProtocolRequest):
            raise TypeError("the protocol layer takes ProtocolRequest values only")
        return request

    def create_json_request(self, request: Any) -> ProtocolRequest:
        return self.create_oauth2_request(request)

    def handle_response(self, status: int, body: Any, headers: Any) -> ProtocolResponse:
        return ProtocolResponse(status=status, body=body, headers=list(headers or []))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signal subscribers (audit comes in a later issue)."""

    def get_authorization_grant(self, request: ProtocolRequest) -> Any:
        """Authlib's lookup, with fixed error descriptions: Authlib puts the raw
        ``response_type`` into its description, and a hostile value with characters RFC
        6749 forbids there would turn into a 500."""
        # RFC 6749 section 4.1.1: response_type is REQUIRED; a missing one is a malformed
        # request (invalid_request), not an unsupported type.
        if not request.payload.response_type:
            raise InvalidRequestError(
                "Missing 'response_type' in request.",
                state=request.payload.state,
                redirect_uri=self.safe_redirect_uri(request),
            )
        for grant_cls, extensions in self._authorization_grants:
            if grant_cls.check_authorization_endpoint(request):
                grant = grant_cls(request, self)
                for extension in extensions or ():
                    extension(grant)
                return grant
        raise UnsupportedResponseTypeError(
            request.payload.response_type,
            "Only response_type=code is supported.",
            state=request.payload.state,
            redirect_uri=self.safe_redirect_uri(request),
        )

    def get_token_grant(self, request: ProtocolRequest) -> Any:
        # RFC 6749 section 3.2: "Request and response parameters MUST NOT be included
        # more than once", and grant_type is REQUIRED (section 4.1.3): both are
        # malformed requests, not an unsupported grant type.
        if request.payload.has_duplicates():
            raise InvalidRequestError("A parameter is repeated.")
        if not request.payload.grant_type:
            raise InvalidRequestError("Missing 'grant_type' in request.")
        return super().get_token_grant(request)

    def create_token_response(self, request: Any = None) -> ProtocolResponse:
        """Authlib's, with every error (ours from ``get_token_grant`` too) rendered."""
        request = self.create_oauth2_request(request)
        # The signing keys exist before the grant writes anything: on a fresh install
        # they are created in a session of their own, which SQLite's single writer
        # would otherwise make wait on this request's own uncommitted token INSERT.
        keys.ensure_keys()
        try:
            grant = self.get_token_grant(request)
            grant.validate_token_request()
            response: ProtocolResponse = self.handle_response(*grant.create_token_response())
        except OAuth2Error as error:
            response = self.handle_error_response(request, error)
        return response

    def safe_redirect_uri(self, request: ProtocolRequest) -> str | None:
        """The redirect URI an error may go to: only a registered one of a known client
        (RFC 6749 section 4.1.2.1)."""
        client = self.query_client(request.payload.client_id)
        uri = request.payload.redirect_uri
        if client is None or not uri or not client.check_redirect_uri(uri):
            return None
        return str(uri)

    def authorization_error(self, request: ProtocolRequest, error: OAuth2Error) -> ProtocolResponse:
        """An authorization-endpoint error raised outside ``create_authorization_response``
        (validation, prompt=none): same rendering, same ``iss`` parameter."""
        if error.state is None:
            error.state = request.payload.state
        response: ProtocolResponse = self.handle_error_response(request, error)
        self.execute_hook("after_create_authorization_response", response)
        return response


def build_server(app: Flask) -> AuthorizationServer:
    """Create the application's authorization server (once) and return it."""
    existing: AuthorizationServer | None = app.extensions.get(EXTENSION_KEY)
    if existing is not None:
        return existing
    # Authlib logs every issued token dict at DEBUG ("Issue token %r to %r"): tokens
    # must never reach a log, whatever level the deployment sets for the root logger.
    logging.getLogger("authlib").setLevel(max(logging.INFO, logging.getLogger("authlib").level))
    server = AuthorizationServer(scopes_supported=[*SUPPORTED_SCOPES, *SERVICE_SCOPES])
    client_cache.init_app(app)
    client_cache.listen()
    server.register_token_generator("default", tokens.generate_bearer)
    server.register_client_auth_method("private_key_jwt", PrivateKeyJwt())
    server.register_client_auth_method("client_secret_basic", authenticate_client_secret_basic)
    server.register_grant(
        AuthorizationCodeGrant,
        [
            AuthenticationRequestRules(),
            S256CodeChallenge(required=True),
            # OIDC Core 3.1.2.1: nonce is OPTIONAL in the code flow unless configured.
            OpenIDCode(require_nonce=bool(app.config["IDP_REQUIRE_NONCE"])),
        ],
    )
    server.register_grant(RefreshTokenGrant, [OpenIDRefresh()])
    server.register_grant(ClientCredentialsGrant)
    server.register_extension(IssuerParameter())
    server.register_endpoint(RevocationEndpoint)
    server.register_endpoint(IntrospectionEndpoint)
    server.register_endpoint(UserInfoEndpoint)
    server.register_endpoint(EndSessionEndpoint)
    # OpenID Connect Back-Channel Logout 1.0: ended sessions tell their portals.
    session_events.subscribe(app, backchannel.on_session_ended)
    backchannel_delivery.init_app(app)
    if app.config["IDP_FEATURE_DEVICE_FLOW"]:
        # RFC 8628 for kiosks (idp.oauth.device).
        server.register_grant(DeviceCodeGrant, [OpenIDDevice()])
        server.register_endpoint(DeviceAuthorizationEndpoint)
    if app.config["IDP_FEATURE_CIBA"]:
        # OpenID Connect CIBA Core 1.0 for the hotline (idp.oauth.ciba).
        from . import ciba

        server.register_grant(ciba.CibaGrant, [ciba.OpenIDCiba()])
        server.register_endpoint(ciba.BackchannelAuthenticationEndpoint)
        server.register_endpoint(ciba.ReadBackEndpoint)
        ciba.init_app(app)
    app.extensions[EXTENSION_KEY] = server
    return server


def current_server() -> AuthorizationServer:
    server: AuthorizationServer | None = current_app.extensions.get(EXTENSION_KEY)
    if server is None:
        server = build_server(current_app._get_current_object())  # type: ignore[attr-defined]
    return server
