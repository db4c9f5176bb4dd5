"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).

https://openid.net/specs/openid-connect-rpinitiated-1_0.html

- ``id_token_hint`` is verified against our JWKS (every key still published, retired
  ones too) and issuer; expired tokens are accepted (section 2: "The OP SHOULD accept ID
  Tokens when the RP identified by the ID Token's aud claim and/or sid claim has a
  current session or had a recent session at the OP, even when the exp time has
  passed"); the header's ``typ`` must be an ID token's (``JWT``), so none of the other
  JWTs our keys sign (access tokens, logout tokens, licences) passes for one (RFC 8725
  3.11). ``verify_id_token_hint`` is the same check for CIBA's ``id_token_hint``.
- Redirection only to a ``post_logout_redirect_uri`` registered for the client, named
  by the hint's ``aud`` or by ``client_id`` (section 3: "The OP MUST NOT perform
  post-logout redirection if the post_logout_redirect_uri value supplied does not
  exactly match one of the previously registered post_logout_redirect_uris values"),
  with ``state`` echoed. Errors are never redirected (section 4).
- Confirmation (section 6: "Logout requests without a valid id_token_hint value are a
  potential means of denial of service; therefore, OPs should obtain explicit
  confirmation from the End-User before acting upon them"): asked when there is a
  session to end and no valid hint for it, so a cross-site GET cannot sign anyone out.
"""

from __future__ import annotations

from typing import Any

from authlib.oidc.rpinitiated import EndSessionEndpoint as _EndSessionEndpoint
from authlib.oidc.rpinitiated import EndSessionRequest
from flask import current_app
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

from ..authn import service
from ..authn.sessions import SsoSession
from . import keys
from .clients import ID_TOKEN_ALGS
from .errors import InvalidRequestError

ID_TOKEN_TYP = "JWT"


class EndSessionEndpoint(_EndSessionEndpoint):  # type: ignore[misc]
    def get_server_jwks(self) -> KeySet:
        return keys.public_keyset()

    def get_algorithms(self) -> list[str]:
        return list(ID_TOKEN_ALGS)

    def _validate_id_token_hint(self, id_token_hint: str) -> dict[str, Any]:
        try:
            # Our ID tokens say "typ": "JWT" (idp.oauth.oidc); other JWTs signed with
            # the same keys have their own typ (at+jwt, logout+jwt, licence+jwt).
            header = extract_compact(id_token_hint.encode()).protected
            if str(header.get("typ", "")).upper() != ID_TOKEN_TYP:
                raise InvalidRequestError("Invalid 'id_token_hint'.")
            claims: dict[str, Any] = super()._validate_id_token_hint(id_token_hint)
        except InvalidRequestError:
            raise InvalidRequestError("Invalid 'id_token_hint'.") from None
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise InvalidRequestError("Invalid 'id_token_hint'.") from exc
        # Section 2: "the OP MUST validate that it was the issuer of the ID Token".
        if claims.get("iss") != current_app.config["IDP_ISSUER"]:
            raise InvalidRequestError("Invalid 'id_token_hint'.")
        return claims

    def is_post_logout_redirect_uri_legitimate(
        self, request: Any, post_logout_redirect_uri: str, client: Any, logout_hint: Any
    ) -> bool:
        # Without a hint, an explicit client_id whose registered URI matched exactly
        # names the target; the citizen confirms before anything happens.
        return bool(request.payload.data.get("client_id"))

    def end_session(self, end_session_request: EndSessionRequest) -> None:
        cookie = end_session_request.request.cookies.get(current_app.config["IDP_SESSION_COOKIE"])
        service.logout(cookie, how="rp_initiated")


def verify_id_token_hint(id_token_hint: str) -> dict[str, Any]:
    """The claims of ``id_token_hint`` if it is an ID token this provider signed and
    issued (expired accepted), else ``InvalidRequestError``: the end-session check, for
    the other endpoints that take an ID token back as a hint (CIBA, ``idp.oauth.ciba``).
    Who it was issued to (``aud``) is the caller's to check."""
    return EndSessionEndpoint()._validate_id_token_hint(id_token_hint)


def needs_confirmation(request: EndSessionRequest, session: SsoSession | None) -> bool:
    """Ask the citizen unless the hint proves the RP holds this very session."""
    if session is None:
        return False  # nothing to end
    claims = request.id_token_claims
    if claims is None:
        return True
    # The session's id changes at every step-up; the ids it had stay known to it.
    return not session.known_as(claims.get("sid"))
