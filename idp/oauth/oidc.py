"""OpenID Connect Core 1.0 on the code grant: request rules and the ID token.

https://openid.net/specs/openid-connect-core-1_0.html

- ``AuthenticationRequestRules`` checks what OIDC Core 3.1.2.1 adds to an OAuth
  authorization request (and what this provider refuses), before anything else runs.
- ``OpenIDCode`` (authorization code) and ``OpenIDRefresh`` (refresh, OIDC Core 12.2)
  add the ``id_token``: ``iss``, pairwise ``sub``, ``aud``, ``exp``, ``iat``,
  ``auth_time``, ``nonce``, ``acr``, ``amr``, ``sid`` and ``at_hash``, signed with the
  client's ``id_token_signed_response_alg`` under the current key (``kid`` in the
  header). Profile claims are not put in ID tokens: they go through UserInfo.
  Each ID token issued is a data release (``idp.consent.releases``, via ``id_token``).
"""

from __future__ import annotations

import time
from typing import Any

from authlib.oidc.core import OpenIDCode as _OpenIDCode
from authlib.oidc.core import OpenIDToken as _OpenIDToken
from authlib.oidc.core import UserInfo
from flask import current_app
from joserfc.jwk import KeySet

from ..consent import releases
from . import keys
from .claims import MAX_CLAIMS_LENGTH
from .claims import ClaimsParameterError
from .claims import parse_claims_parameter
from .clients import Client
from .errors import InvalidRequestError
from .errors import InvalidScopeError
from .errors import RegistrationNotSupportedError
from .errors import RequestNotSupportedError
from .errors import RequestURINotSupportedError
from .service_scopes import is_service_scope
from .tokens import AuthorizedUser

PROMPT_VALUES = ("none", "login", "consent")
# Upper bounds on free-form parameters: enough for any real client, small enough that
# a parked interaction stays small.
MAX_LENGTHS = {
    "state": 2048,
    "nonce": 512,
    "login_hint": 256,
    "ui_locales": 128,
    "acr_values": 512,
    "max_age": 10,
    "prompt": 64,
    "id_token_hint": 8192,
    "claims": MAX_CLAIMS_LENGTH,
}


class AuthenticationRequestRules:
    """OIDC Core 3.1.2.1 / 3.1.2.2 checks, as an Authlib grant extension.

    Every error here is redirected to the (already validated) redirect URI.
    """

    def __call__(self, grant: Any) -> None:
        grant.register_hook("after_validate_authorization_request_payload", self.validate)

    def validate(self, grant: Any, redirect_uri: str) -> None:
        request = grant.request
        data = request.payload.data
        # RFC 6749 section 3.1: "Request and response parameters MUST NOT be included
        # more than once."
        if request.payload.has_duplicates():
            raise InvalidRequestError("A parameter is repeated.")
        for name, limit in MAX_LENGTHS.items():
            if len(data.get(name) or "") > limit:
                raise InvalidRequestError(f"The '{name}' parameter is too long.")
        # OIDC Core 3.1.2.1: "OpenID Connect requests MUST contain the openid scope value."
        if "openid" not in (request.scope or "").split():
            raise InvalidScopeError("The 'openid' scope is required.")
        # Service scopes are for a client's own tokens (RFC 6749 4.4), never a citizen's.
        if any(is_service_scope(s) for s in (request.scope or "").split()):
            raise InvalidScopeError("Service scopes are only granted to clients.")
        # OIDC Core 6.1 / 6.2 / 7.2.1: the OP does not support request objects or
        # self-issued registration, and says so with the dedicated error codes.
        if "request" in data:
            raise RequestNotSupportedError()
        if "request_uri" in data:
            raise RequestURINotSupportedError()
        if "registration" in data:
            raise RegistrationNotSupportedError()
        if data.get("response_mode", "query") != "query":
            raise InvalidRequestError("Only response_mode=query is supported.")
        prompts = (data.get("prompt") or "").split()
        unknown = [p for p in prompts if p not in PROMPT_VALUES]
        if unknown:
            raise InvalidRequestError("Unsupported 'prompt' value.")
        # OIDC Core 3.1.2.1: "If this parameter contains none with any other value, an
        # error is returned."
        if "none" in prompts and len(prompts) > 1:
            raise InvalidRequestError("prompt=none cannot be combined with other values.")
        max_age = data.get("max_age")
        well_formed = max_age is None or (
            max_age.isascii() and max_age.isdigit() and len(max_age) <= 9
        )
        if not well_formed:
            raise InvalidRequestError("max_age must be a non-negative integer.")
        # OIDC Core 5.5: the claims parameter is a JSON object (parsed again, for the
        # requested acr, by idp.oauth.acr_request).
        try:
            parse_claims_parameter(data.get("claims"))
        except ClaimsParameterError as exc:
            raise InvalidRequestError(str(exc)) from None


class _IdTokenClaims:
    """What both ID-token extensions share: keys, header, iss/aud/exp, sub."""

    def resolve_client_private_key(self, client: Client) -> KeySet:
        return keys.private_keyset(self.get_client_algorithm(client))

    def get_client_algorithm(self, client: Client) -> str:
        return client.id_token_signed_response_alg

    def get_encode_header(self, client: Client) -> dict[str, str]:
        alg = self.get_client_algorithm(client)
        return {"alg": alg, "kid": keys.signing_key_info(alg).kid, "typ": "JWT"}

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        now = int(time.time())
        return {
            "iss": current_app.config["IDP_ISSUER"],
            # A single audience, as a string: OIDC Core 2 allows it, and RP-initiated
            # logout resolves the client from a string ``aud``.
            "aud": client.client_id,
            "iat": now,
            "exp": now + int(current_app.config["IDP_TTL_ID_TOKEN"]),
        }

    def get_compatible_claims(self, request: Any) -> dict[str, Any]:
        claims = self.get_client_claims(request.client)
        context = request.authorization_code or request.refresh_token
        if context is not None:
            claims.update(_auth_context(context))
        return claims

    def generate_user_info(self, user: AuthorizedUser, scope: str) -> UserInfo:
        # OIDC Core 2 / 8.1: the pairwise subject only; profile claims go to UserInfo.
        return UserInfo(sub=user.subject)

    def process_token(self, grant: Any, response: Any) -> dict[str, Any]:
        """Authlib's (adds the ``id_token``), then the release record: one INSERT."""
        token: dict[str, Any] = super().process_token(grant, response)  # type: ignore[misc]
        if "id_token" in token:
            user: AuthorizedUser = grant.request.user
            releases.record(
                citizen_id=user.citizen_id,
                client_id=grant.request.client.client_id,
                consent_id=user.consent_id,
                categories=["openid"],
                # The ID token's claims about the citizen (the rest describe the token).
                items=[
                    "sub",
                    *(["auth_time"] if user.auth_time else []),
                    *(["acr"] if user.acr else []),
                    *(["amr"] if user.amr else []),
                ],
                via=releases.Via.ID_TOKEN,
                # Grants that commit after this hook keep the release in their one
                # transaction with the token and its audit record.
                commit=not getattr(grant, "COMMITS_AFTER_ID_TOKEN", False),
            )
        return token


def _auth_context(context: Any) -> dict[str, Any]:
    """``auth_time``, ``acr``, ``amr``, ``sid`` of the sign-in behind a code or token."""
    claims: dict[str, Any] = {}
    if (auth_time := context.get_auth_time()) is not None:
        claims["auth_time"] = auth_time
    if acr := context.get_acr():
        claims["acr"] = acr
    if amr := context.get_amr():
        claims["amr"] = amr
    if sid := context.get_sid():
        claims["sid"] = sid
    # Issue 5: the channel the citizen signed in on (website, mobile, kiosk, hall,
    # hotline), a claim of this provider documented in the README.
    if channel := context.get_channel():
        claims["channel"] = channel
    # RFC 8693 4.1: a staff-assisted sign-in names the acting staff member.
    if act := context.get_act():
        claims["act"] = act
    return claims


class OpenIDCode(_IdTokenClaims, _OpenIDCode):  # type: ignore[misc]
    """Authlib's ``OpenIDCode`` with our keys and claims.

    Prompt handling is ``prompts.py``'s job, so Authlib's ``validate_request_prompt``
    hook is not registered.
    """

    def __call__(self, grant: Any) -> None:
        grant.register_hook("after_create_token_response", self.process_token)
        grant.register_hook(
            "after_validate_authorization_request_payload",
            self.validate_openid_authorization_request,
        )

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        """The nonce binds the ID token to the RP's browser session and the RP checks
        it (OIDC Core 15.5.2); the OP does not refuse a repeated nonce, which would
        only break a citizen who reloads a sign-in page."""
        return False

    def get_authorization_code_claims(self, authorization_code: Any) -> dict[str, Any]:
        claims: dict[str, Any] = super().get_authorization_code_claims(authorization_code)
        claims.update(_auth_context(authorization_code))
        return claims


class OpenIDRefresh(_IdTokenClaims, _OpenIDToken):  # type: ignore[misc]
    """OIDC Core 12.2: a refresh returns a new ID token with the same ``iss``, ``sub``
    and ``aud``, a new ``iat``, the original ``auth_time``, and no ``nonce``."""
