"""Protect a resource server's Flask views with this provider's access tokens.

RFC 6750 (bearer tokens), RFC 9068 (JWT access tokens), RFC 7662 (introspection) and
RFC 9470 (step-up authentication challenge): https://www.rfc-editor.org/rfc/rfc9470

Usage, in the provider itself (its data APIs) or in any other Flask application::

    from idp.authn.result import Acr
    from idp.resource import current_token, require_token

    @app.get("/api/pension")
    @require_token(scope="pension", acr=Acr.HIGH, max_age=900)
    def pension():
        token = current_token()  # TokenInfo: sub, client_id, scopes, acr, auth_time ...

The token must come in the ``Authorization: Bearer`` header (RFC 6750 2.1; the form
and query methods of 2.2 and 2.3 are not accepted). Answers, each with a
``WWW-Authenticate: Bearer`` challenge (RFC 6750 section 3) and a small JSON body:

- no token: 401, a bare challenge (3.1: "SHOULD NOT include an error code");
- a malformed header: 400 ``invalid_request``;
- unknown, expired, revoked or forged token, a refresh token, a token for another
  audience: 401 ``invalid_token``;
- a scope missing: 403 ``insufficient_scope`` with ``scope="..."``;
- ``acr`` below the level required or ``auth_time`` older than ``max_age``: 401
  ``insufficient_user_authentication`` (RFC 9470 section 3) with ``acr_values`` and/or
  ``max_age``, e.g.::

      WWW-Authenticate: Bearer error="insufficient_user_authentication",
        error_description="A different authentication level is required",
        acr_values="urn:idp:acr:high"

  The client then sends the citizen back through ``/authorize`` with those
  ``acr_values`` / ``max_age`` (RFC 9470 section 4) and retries with the new token;
- the provider cannot be reached (remote mode): 503 ``temporarily_unavailable``.

How a token is checked (``TokenVerifier``), chosen from the configuration:

- In-process (``IDP_RESOURCE_INTROSPECTION_URL`` unset; the application is the
  provider): ``LocalVerifier``. A JWT's signature, ``typ``, ``iss`` and ``exp`` are
  checked against the provider's keys (RFC 9068 section 4), then any token is looked up
  in the database by its keyed hash, as the introspection endpoint does: revoked,
  expired, refresh tokens, locked citizens and disabled clients are refused. ``aud`` is
  checked only if ``IDP_RESOURCE_AUDIENCE`` is set: the provider's own APIs serve every
  portal, and the database row binds the token to its client.
- Remote (a separate resource-server process): ``RemoteVerifier``. Set
  ``IDP_RESOURCE_INTROSPECTION_URL`` (``<issuer>/introspect``), ``IDP_RESOURCE_ISSUER``,
  and the credentials of the client whose tokens this server accepts
  (``IDP_RESOURCE_CLIENT_ID`` / ``IDP_RESOURCE_CLIENT_SECRET``, sent with
  ``client_secret_basic``; RFC 7662 2.2 lets a client introspect only its own tokens,
  and a JWT's ``aud`` is that client_id: ``IDP_RESOURCE_AUDIENCE`` defaults to it).
  A JWT is validated offline against the JWKS (``IDP_RESOURCE_JWKS_URL``, default
  ``<issuer>/jwks.json``, kept ``IDP_RESOURCE_JWKS_MAX_AGE`` seconds and re-fetched for
  an unknown ``kid``), then introspected, so a revoked token is refused before it
  expires; an opaque token is introspected. Nothing is cached between requests.

``init_resource_server(app, verifier=...)`` installs a verifier explicitly.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import threading
import time
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from typing import Protocol
from typing import TypeVar
from typing import cast

import requests
from flask import Flask
from flask import Response
from flask import current_app
from flask import g
from flask import jsonify
from flask import request
from joserfc.jwk import KeySet

from .authn.result import Acr
from .oauth import jwt_access

log = logging.getLogger(__name__)

EXTENSION_KEY = "idp.resource"
F = TypeVar("F", bound=Callable[..., Any])
# RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=")
ACR_DESCRIPTION = "A different authentication level is required"  # RFC 9470 section 3
MAX_AGE_DESCRIPTION = "More recent authentication is required"  # RFC 9470 section 3


@dataclass(frozen=True)
class TokenInfo:
    """A valid access token, as the resource server may use it."""

    client_id: str
    sub: str  # the pairwise subject the client knows
    scopes: frozenset[str]
    exp: int
    acr: str | None = None
    amr: tuple[str, ...] = ()
    auth_time: int | None = None
    jti: str | None = None
    format: str = "opaque"  # "opaque" | "jwt"
    # A client's own token (client credentials grant, RFC 6749 4.4): ``sub`` is the
    # client_id (RFC 9068 section 2.2) and no citizen is behind it.
    client_only: bool = False
    # In-process only (LocalVerifier), for the provider's own data APIs: the citizen
    # behind the token. None for client tokens and for a remote resource server.
    citizen_id: str | None = None


class TokenInvalid(Exception):
    """RFC 6750 ``invalid_token``; ``reason`` goes to logs only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class VerifierUnavailable(Exception):
    """The provider could not be asked (remote mode)."""


class TokenVerifier(Protocol):
    def verify(self, token: str) -> TokenInfo:
        """The token's information; raises TokenInvalid or VerifierUnavailable."""


# --- in-process --------------------------------------------------------------------------


class LocalVerifier:
    """The provider checking its own tokens: keys and database, no HTTP."""

    def __init__(self, *, audience: str | None = None) -> None:
        self.audience = audience

    def verify(self, token: str) -> TokenInfo:
        from .oauth import keys
        from .oauth import tokens
        from .oauth.claims import pairwise_sub

        jti = None
        if jwt_access.looks_like_jwt(token):
            try:
                _, claims = jwt_access.validate(
                    token,
                    keyset=keys.public_keyset(),
                    issuer=str(current_app.config["IDP_ISSUER"]),
                    audience=self.audience,
                )
            except jwt_access.InvalidAccessToken as exc:
                raise TokenInvalid(exc.reason) from None
            jti = str(claims["jti"])
        found = tokens.find_access(token)
        if found is None or found.kind != "access_token":
            raise TokenInvalid("unknown token")
        if found.is_expired() or found.is_revoked():
            raise TokenInvalid("expired or revoked")
        if not found.is_usable():
            raise TokenInvalid("citizen locked or client disabled")
        client = found.get_client()
        assert client is not None  # is_usable
        row = found.row
        if self.audience is not None and row.client_id != self.audience:
            raise TokenInvalid("another audience")
        citizen_id = row.citizen_id
        return TokenInfo(
            client_id=row.client_id,
            sub=(
                pairwise_sub(sector_identifier=client.sector_identifier, citizen_id=citizen_id)
                if citizen_id is not None
                else row.client_id
            ),
            scopes=frozenset(row.scope.split()),
            exp=int(found.expires_at.timestamp()),
            acr=row.acr,
            amr=tuple(row.amr or ()),
            auth_time=int(row.auth_time.timestamp()) if row.auth_time else None,
            jti=jti,
            format="jwt" if jti else "opaque",
            client_only=citizen_id is None,
            citizen_id=citizen_id,
        )


# --- a separate resource server ----------------------------------------------------------


class RemoteVerifier:
    """A resource server of its own, asking the provider over HTTP."""

    def __init__(
        self,
        *,
        issuer: str,
        introspection_url: str,
        client_id: str,
        client_secret: str,
        jwks_url: str | None = None,
        audience: str | None = None,
        timeout: float = 5.0,
        jwks_max_age: int = 300,
        session: requests.Session | None = None,
    ) -> None:
        self.issuer = issuer
        self.introspection_url = introspection_url
        self.jwks_url = jwks_url or issuer.rstrip("/") + "/jwks.json"
        self.audience = audience or client_id
        self.timeout = timeout
        self.jwks_max_age = jwks_max_age
        self._auth = (client_id, client_secret)
        self._session = session or requests.Session()
        self._lock = threading.Lock()
        self._jwks: KeySet | None = None
        self._kids: set[str] = set()
        self._fetched_at = 0.0

    def __repr__(self) -> str:  # never the secret
        return f"<RemoteVerifier {self.introspection_url}>"

    def verify(self, token: str) -> TokenInfo:
        if jwt_access.looks_like_jwt(token):
            keyset = self._keyset(_kid_of(token))
            try:
                _, claims = jwt_access.validate(
                    token, keyset=keyset, issuer=self.issuer, audience=self.audience
                )
            except jwt_access.InvalidAccessToken as exc:
                raise TokenInvalid(exc.reason) from None
            # The signature is good; is the token still live (RFC 7009 revocation)?
            self._introspect(token)
            return TokenInfo(
                client_id=str(claims["client_id"]),
                sub=str(claims["sub"]),
                scopes=frozenset(str(claims.get("scope") or "").split()),
                exp=int(claims["exp"]),
                acr=claims.get("acr"),
                amr=tuple(claims.get("amr") or ()),
                auth_time=_int_or_none(claims.get("auth_time")),
                jti=str(claims["jti"]),
                format="jwt",
                # RFC 9068 2.2: a client's own token has the client_id as its sub.
                client_only=claims["sub"] == claims["client_id"],
            )
        data = self._introspect(token)
        return TokenInfo(
            client_id=str(data.get("client_id") or ""),
            sub=str(data.get("sub") or ""),
            scopes=frozenset(str(data.get("scope") or "").split()),
            exp=int(data.get("exp") or 0),
            acr=data.get("acr"),
            amr=tuple(data.get("amr") or ()),
            auth_time=_int_or_none(data.get("auth_time")),
            format="opaque",
            client_only=bool(data.get("sub")) and data.get("sub") == data.get("client_id"),
        )

    def _introspect(self, token: str) -> dict[str, Any]:
        try:
            response = self._session.post(
                self.introspection_url,
                data={"token": token, "token_type_hint": "access_token"},
                auth=self._auth,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise VerifierUnavailable(type(exc).__name__) from None
        if response.status_code != 200:
            raise VerifierUnavailable(f"introspection answered {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise VerifierUnavailable("introspection answer is not JSON") from None
        if not isinstance(data, dict) or data.get("active") is not True:
            raise TokenInvalid("inactive at introspection")
        # A refresh token is active too, but it is no bearer token for a resource.
        if data.get("token_type") != "Bearer":
            raise TokenInvalid("not an access token")
        if data.get("iss") != self.issuer:
            raise TokenInvalid("another issuer")
        aud = data.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if self.audience not in audiences:
            raise TokenInvalid("another audience")
        return data

    def _keyset(self, kid: str | None) -> KeySet:
        with self._lock:
            stale = time.monotonic() - self._fetched_at > self.jwks_max_age
            # An unknown kid may be a freshly rotated key: fetch again, at most every 30 s.
            unknown = kid is not None and kid not in self._kids
            if (
                self._jwks is None
                or stale
                or (unknown and time.monotonic() - self._fetched_at > 30)
            ):
                self._fetch_jwks()
            assert self._jwks is not None
            return self._jwks

    def _fetch_jwks(self) -> None:
        try:
            response = self._session.get(self.jwks_url, timeout=self.timeout, allow_redirects=False)
            response.raise_for_status()
            document = response.json()
            keyset = KeySet.import_key_set(document)
        except (requests.RequestException, ValueError, TypeError, KeyError) as exc:
            if self._jwks is None:
                raise VerifierUnavailable(f"JWKS: {type(exc).__name__}") from None
            log.warning("JWKS refresh failed (%s); keeping the keys fetched before", exc)
            return
        self._jwks = keyset
        self._kids = {str(k.get("kid")) for k in document.get("keys", []) if k.get("kid")}
        self._fetched_at = time.monotonic()


def _kid_of(token: str) -> str | None:
    try:
        segment = token.split(".", 1)[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


# --- configuration -------------------------------------------------------------------------


def verifier_from_config(config: Any) -> TokenVerifier:
    res = config.get_namespace("IDP_RESOURCE_")
    issuer = str(res.get("issuer") or config.get("IDP_ISSUER") or "")
    if not res.get("introspection_url"):
        return LocalVerifier(audience=res.get("audience"))
    if not (issuer and res.get("client_id") and res.get("client_secret")):
        raise ValueError(
            "IDP_RESOURCE_INTROSPECTION_URL needs IDP_RESOURCE_ISSUER (or IDP_ISSUER), "
            "IDP_RESOURCE_CLIENT_ID and IDP_RESOURCE_CLIENT_SECRET"
        )
    return RemoteVerifier(
        issuer=issuer,
        introspection_url=str(res["introspection_url"]),
        client_id=str(res["client_id"]),
        client_secret=str(res["client_secret"]),
        jwks_url=res.get("jwks_url"),
        audience=res.get("audience"),
        timeout=float(res.get("timeout") or 5),
        jwks_max_age=int(res.get("jwks_max_age") or 300),
    )


def init_resource_server(app: Flask, verifier: TokenVerifier | None = None) -> TokenVerifier:
    """Install the verifier ``require_token`` uses (by default, from the configuration)."""
    chosen = verifier or verifier_from_config(app.config)
    app.extensions[EXTENSION_KEY] = chosen
    return chosen


def _verifier() -> TokenVerifier:
    app = cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    verifier: TokenVerifier | None = app.extensions.get(EXTENSION_KEY)
    return verifier or init_resource_server(app)


# --- the decorator -------------------------------------------------------------------------


def _challenge(
    status: int, error: str | None = None, description: str | None = None, **params: str
) -> Response:
    parts = []
    if error:
        parts.append(f'error="{error}"')
        if description:
            parts.append(f'error_description="{description}"')
    parts += [f'{name}="{value}"' for name, value in params.items()]
    body: dict[str, Any] = {"error": error} if error else {}
    if error and description:
        body["error_description"] = description
    response = jsonify(body) if body else Response("", mimetype="application/json")
    response.status_code = status
    response.headers["WWW-Authenticate"] = ("Bearer " + ", ".join(parts)).strip()
    response.headers["Cache-Control"] = "no-store"
    return response


def bearer_error(
    status: int, error: str, description: str | None = None, **params: str
) -> Response:
    """An RFC 6750 section 3 error response, for checks a view makes after
    ``require_token`` (e.g. ``insufficient_scope`` naming the one scope it needs)."""
    return _challenge(status, error, description, **params)


def _bearer_token() -> str | Response:
    header = request.headers.get("Authorization")
    if not header:
        return _challenge(401)
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return _challenge(401)  # another scheme: as if no credentials were sent
    value = value.strip()
    if not value or len(value) > jwt_access.MAX_LENGTH or not set(value) <= _B64TOKEN:
        return _challenge(400, "invalid_request", "The Authorization header is malformed.")
    return value


def _acr_met(actual: str | None, required: Acr | str) -> bool:
    if actual is None:
        return False
    try:
        return Acr(actual).satisfies(Acr(required))
    except ValueError:
        return actual == str(required)  # a value outside our three levels: exact match


def require_token(
    *,
    scope: str | Iterable[str] | None = None,
    acr: Acr | str | None = None,
    max_age: int | None = None,
) -> Callable[[F], F]:
    """Allow the view only with a valid access token holding every scope in ``scope``,
    from a sign-in at ``acr`` or above, at most ``max_age`` seconds ago."""
    needed = frozenset(scope.split() if isinstance(scope, str) else (scope or ()))

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            token = _bearer_token()
            if isinstance(token, Response):
                return token
            try:
                info = _verifier().verify(token)
            except TokenInvalid as exc:
                log.info("access token refused: %s", exc.reason)
                return _challenge(
                    401, "invalid_token", "The access token is invalid, expired or revoked."
                )
            except VerifierUnavailable as exc:
                log.warning("access token not checked: %s", exc)
                response = jsonify(
                    error="temporarily_unavailable",
                    error_description="The access token cannot be checked now.",
                )
                response.status_code = 503
                response.headers["Retry-After"] = "5"
                return response
            if not needed <= info.scopes:
                return _challenge(
                    403,
                    "insufficient_scope",
                    "The access token does not grant the scope this resource needs.",
                    scope=" ".join(sorted(needed)),
                )
            params: dict[str, str] = {}
            description = None
            if acr is not None and not _acr_met(info.acr, acr):
                params["acr_values"] = str(acr)
                description = ACR_DESCRIPTION
            if max_age is not None and (
                info.auth_time is None or time.time() - info.auth_time > max_age
            ):
                params["max_age"] = str(int(max_age))
                description = description or MAX_AGE_DESCRIPTION
            if params:
                # RFC 9470 section 3: 401 with the insufficient_user_authentication code.
                return _challenge(401, "insufficient_user_authentication", description, **params)
            g.idp_access_token = info
            return view(*args, **kwargs)

        return cast(F, guarded)

    return decorate


def current_token() -> TokenInfo:
    """The token of the request, inside a view decorated with ``require_token``."""
    info = g.get("idp_access_token")
    if not isinstance(info, TokenInfo):
        raise RuntimeError("current_token() outside a view protected by require_token")
    return info
