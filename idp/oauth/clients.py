"""Relying-party registration and the Authlib view of a registered client.

Metadata follows OpenID Connect Dynamic Client Registration 1.0 section 2
(https://openid.net/specs/openid-connect-registration-1_0.html#ClientMetadata), but
clients are registered by operators (``idp clients create``), not dynamically.

Rules enforced at registration:

- ``redirect_uris``: absolute, no fragment (RFC 6749 section 3.1.2), no userinfo, https
  only, except ``http`` on a loopback host (RFC 8252 section 7.3) for native apps and
  development. They are matched exactly (RFC 9700 section 4.1.3).
- The pairwise ``sub`` sector (OIDC Core 8.1) defaults to the one host of the redirect
  URIs; clients whose redirect URIs span several hosts must name their sector.
- Confidential clients get a secret, shown once; only its keyed hash is stored.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Iterable
from collections.abc import Sequence
from datetime import UTC
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin
from flask import current_app
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select

from ..authn.assurance import parse_acr
from ..authn.result import Acr
from ..consent import policy as consent_policy
from ..errors import InvalidInput
from ..extensions import db
from ..models import OAuthClient
from . import client_cache
from . import hashing
from .claims import SUPPORTED_SCOPES
from .client_cache import ClientRecord
from .fetch_guard import refuse_private_literal
from .service_scopes import SERVICE_SCOPES
from .service_scopes import is_service_scope

DEVICE_CODE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"  # RFC 8628 3.4
CIBA_GRANT_TYPE = "urn:openid:params:grant-type:ciba"  # CIBA Core 1.0 section 4
CIBA_MODES = ("poll", "ping")  # CIBA Core 1.0 section 5 (push is not supported)
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
ID_TOKEN_ALGS = ("ES256", "RS256")
# Grant types an administrator may allow (RFC 7591 2 "grant_types"); refresh_token
# follows from authorization_code + offline_access.
GRANT_TYPES = ("authorization_code", "client_credentials", CIBA_GRANT_TYPE)
# Grants that sign citizens in: their scope includes openid.
SIGN_IN_GRANTS = ("authorization_code", CIBA_GRANT_TYPE)
DEFAULT_GRANT_TYPES = ("authorization_code",)
SECRET_PURPOSE = "client-secret"
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
_HOST = re.compile(
    r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$"
)
# What a client_id may look like: anything else is unknown without a database round
# trip (and a NUL byte never reaches PostgreSQL). Older ids were token_urlsafe, so the
# pattern still admits "-" and "_".
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._~-]{1,64}$")
# New ids use letters and digits only: a token_urlsafe id starting with "-" (one in 64)
# reads as an option to every command line that is given it.
_CLIENT_ID_ALPHABET = string.ascii_letters + string.digits
_CLIENT_ID_LENGTH = 22  # log2(62) * 22 = 131 bits
_PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k", "oth"}


def new_client_id() -> str:
    return "".join(secrets.choice(_CLIENT_ID_ALPHABET) for _ in range(_CLIENT_ID_LENGTH))


class Client(ClientMixin):  # type: ignore[misc]
    """Authlib's ClientMixin over an ``OAuthClient`` row, or the cached read-only copy
    of one (``client_cache.ClientRecord``, same attributes). Nothing here writes."""

    def __init__(self, model: OAuthClient | ClientRecord) -> None:
        self.model = model

    def __repr__(self) -> str:
        return f"<Client {self.client_id}>"

    @property
    def client_id(self) -> str:
        return self.model.client_id

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def first_party(self) -> bool:
        return bool(self.model.first_party)

    @property
    def is_public(self) -> bool:
        return bool(self.model.is_public)

    @property
    def sector_identifier(self) -> str:
        return self.model.sector_identifier

    @property
    def id_token_signed_response_alg(self) -> str:
        return self.model.id_token_signed_response_alg or "ES256"

    @property
    def default_acr(self) -> Acr | None:
        return parse_acr(self.model.default_acr)

    @property
    def minimum_acr(self) -> Acr | None:
        return parse_acr(self.model.minimum_acr)

    @property
    def allowed_scopes(self) -> list[str]:
        return self.model.scope.split()

    @property
    def grant_types(self) -> tuple[str, ...]:
        return tuple(self.model.grant_types or DEFAULT_GRANT_TYPES)

    @property
    def service_scopes(self) -> list[str]:
        """The scopes it may ask for with the client credentials grant."""
        return [s for s in self.allowed_scopes if is_service_scope(s)]

    @property
    def client_metadata(self) -> dict[str, Any]:
        """Registration metadata as Authlib's endpoints read it (RFC 7591 names)."""
        return {
            "client_name": self.model.name,
            "redirect_uris": list(self.model.redirect_uris or []),
            "post_logout_redirect_uris": list(self.model.post_logout_redirect_uris or []),
            "token_endpoint_auth_method": self.model.token_endpoint_auth_method,
            "id_token_signed_response_alg": self.id_token_signed_response_alg,
            "scope": self.model.scope,
            "grant_types": list(self.grant_types),
            "subject_type": "pairwise",
            # OIDC Registration 2: "default_acr_values"; the minimum is our own.
            "default_acr_values": [self.model.default_acr] if self.model.default_acr else [],
            # OpenID Connect Back-Channel Logout 1.0 section 2.2.
            "backchannel_logout_uri": self.model.backchannel_logout_uri,
            "backchannel_logout_session_required": bool(
                self.model.backchannel_logout_session_required
            ),
            # OpenID Connect Front-Channel Logout 1.0 section 2.
            "frontchannel_logout_uri": self.model.frontchannel_logout_uri,
            "frontchannel_logout_session_required": bool(
                self.model.frontchannel_logout_session_required
            ),
            # CIBA Core 1.0 section 4.
            "backchannel_token_delivery_mode": self.model.backchannel_token_delivery_mode,
            "backchannel_client_notification_endpoint": (
                self.model.backchannel_client_notification_endpoint
            ),
        }

    def get_client_id(self) -> str:
        return self.model.client_id

    def get_default_redirect_uri(self) -> None:
        # OIDC Core 3.1.2.1: redirect_uri is REQUIRED, so there is no default.
        return None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The requested scope if the client may ask for all of it, else None
        (which Authlib turns into ``invalid_scope``): no silent narrowing."""
        requested = list(dict.fromkeys((scope or "").split()))
        if not requested or not set(requested) <= set(self.allowed_scopes):
            return None
        return " ".join(requested)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        registered = self.model.redirect_uris or []
        if redirect_uri in registered:
            return True
        # RFC 8252 section 7.3: for a native app's loopback IP redirect "the
        # authorization server MUST allow any port to be specified at the time of the
        # request"; everything else must still match exactly.
        if self.model.application_type == "native":
            return _without_loopback_port(redirect_uri) in {
                _without_loopback_port(uri) for uri in registered
            }
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return hashing.matches(SECRET_PURPOSE, client_secret, self.model.client_secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # One registered method for every endpoint (token, revocation, introspection).
        return bool(method == self.model.token_endpoint_auth_method)

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        if grant_type == DEVICE_CODE_GRANT_TYPE:
            # RFC 8628: only registered, active kiosks use the device grant (issue 5).
            from .kiosks import is_active_kiosk

            return is_active_kiosk(self.client_id)
        if grant_type in ("client_credentials", CIBA_GRANT_TYPE):
            # RFC 6749 section 4.4: "The client credentials grant type MUST only be
            # used by confidential clients"; CIBA Core 1.0 section 4 likewise.
            return grant_type in self.grant_types and not self.is_public
        if "authorization_code" not in self.grant_types:
            return False
        if grant_type == "authorization_code":
            return True
        return grant_type == "refresh_token" and "offline_access" in self.allowed_scopes


def query_client(client_id: str | None) -> Client | None:
    """The enabled client with this id, or None (unknown and disabled look the same).

    From the per-process cache, checked against the shared generation on every call
    (``client_cache``): a disabled client is refused at once by every process."""
    if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
        return None
    model = client_cache.load(client_id)
    if model is None or model.disabled_at is not None:
        return None
    return Client(model)


def register_client(
    *,
    name: str,
    redirect_uris: Sequence[str],
    post_logout_redirect_uris: Sequence[str] = (),
    auth_method: str = "client_secret_basic",
    scope: str = "openid profile phone offline_access",
    first_party: bool = False,
    jwks: dict[str, Any] | None = None,
    sector_identifier: str | None = None,
    id_token_alg: str | None = None,
    department: str | None = None,
    logo_uri: str | None = None,
    default_acr: str | None = None,
    minimum_acr: str | None = None,
    scope_policy: dict[str, Any] | None = None,
    grant_types: Sequence[str] = DEFAULT_GRANT_TYPES,
    backchannel_logout_uri: str | None = None,
    backchannel_logout_session_required: bool = False,
    frontchannel_logout_uri: str | None = None,
    frontchannel_logout_session_required: bool = False,
    native: bool = False,
    backchannel_token_delivery_mode: str | None = None,
    backchannel_client_notification_endpoint: str | None = None,
    commit: bool = True,
) -> tuple[OAuthClient, str | None]:
    """Register a portal; returns the client and, for confidential clients using a
    secret, the secret (shown once, stored only as a keyed hash).

    ``commit=False`` leaves the new client pending (flushed), for a caller that commits
    it with its audit record in one transaction.

    A client allowed only ``client_credentials`` (a department's back office) needs
    no redirect URI and asks only for service scopes (``idp.oauth.service_scopes``).

    Raises ``InvalidInput`` naming the field and the rule broken.
    """
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise InvalidInput("The client name must be 1 to 200 characters.", field="name")
    grants = validate_grant_types(grant_types, auth_method=auth_method)
    signs_in = "authorization_code" in grants
    redirects = [validate_redirect_uri(uri, field="redirect_uris") for uri in redirect_uris]
    if not redirects and signs_in:
        raise InvalidInput("At least one redirect URI is required.", field="redirect_uris")
    logouts = [
        validate_redirect_uri(uri, field="post_logout_redirect_uris")
        for uri in post_logout_redirect_uris
    ]
    if auth_method not in AUTH_METHODS:
        raise InvalidInput(
            "The token endpoint auth method must be one of: " + ", ".join(AUTH_METHODS) + ".",
            field="auth_method",
        )
    _loopback_rule(redirects, auth_method)
    scopes = list(dict.fromkeys(scope.split()))
    _check_scopes(scopes, grants)
    # OIDC Registration 2: id_token_signed_response_alg; unset = the deployment default.
    id_token_alg = id_token_alg or str(current_app.config["IDP_DEFAULT_ID_TOKEN_ALG"])
    if id_token_alg not in ID_TOKEN_ALGS:
        raise InvalidInput("The ID token algorithm must be ES256 or RS256.", field="id_token_alg")
    if auth_method == "private_key_jwt":
        jwks = validate_public_jwks(jwks)
    elif jwks is not None:
        raise InvalidInput("A JWKS is only used with private_key_jwt.", field="jwks")
    logo_uri = _logo(logo_uri)
    if native:
        _check_native(redirects, auth_method)
    default, minimum = _acr_policy(default_acr, minimum_acr)
    if scope_policy is not None:
        scope_policy = consent_policy.validate(scope_policy, allowed=scopes) or None
    logout_uri = _backchannel_uri(backchannel_logout_uri, backchannel_logout_session_required)
    frame_uri = _frontchannel_uri(frontchannel_logout_uri, frontchannel_logout_session_required)
    ciba_mode, ciba_endpoint = validate_ciba_delivery(
        grants, backchannel_token_delivery_mode, backchannel_client_notification_endpoint
    )

    client = OAuthClient(
        client_id=new_client_id(),
        name=name,
        department=(department or "").strip() or None,
        logo_uri=logo_uri,
        redirect_uris=redirects,
        post_logout_redirect_uris=logouts,
        token_endpoint_auth_method=auth_method,
        jwks=jwks,
        scope=" ".join(scopes),
        sector_identifier=(
            _sector(sector_identifier, redirects) if redirects or sector_identifier else ""
        ),
        id_token_signed_response_alg=id_token_alg,
        first_party=bool(first_party),
        default_acr=default,
        minimum_acr=minimum,
        scope_policy=scope_policy,
        grant_types=list(grants),
        backchannel_logout_uri=logout_uri,
        backchannel_logout_session_required=bool(backchannel_logout_session_required),
        frontchannel_logout_uri=frame_uri,
        frontchannel_logout_session_required=bool(frontchannel_logout_session_required),
        application_type="native" if native else "web",
        backchannel_token_delivery_mode=ciba_mode,
        backchannel_client_notification_endpoint=ciba_endpoint,
    )
    if not client.sector_identifier:
        # A service client signs no citizen in: its sector only fills the column.
        client.sector_identifier = client.client_id.lower()
    secret = None
    if auth_method in ("client_secret_basic", "client_secret_post"):
        secret = hashing.new_secret()
        client.client_secret_hash = hashing.keyed_hash(SECRET_PURPOSE, secret)
    db.session.add(client)
    _save(commit)
    return client, secret


def validate_grant_types(grant_types: Sequence[str], *, auth_method: str) -> tuple[str, ...]:
    grants = tuple(dict.fromkeys(grant_types or ()))
    if not grants:
        raise InvalidInput("Choose at least one grant type.", field="grant_types")
    if not set(grants) <= set(GRANT_TYPES):
        raise InvalidInput(
            "The grant types must be among: " + ", ".join(GRANT_TYPES) + ".", field="grant_types"
        )
    if "client_credentials" in grants and auth_method == "none":
        # RFC 6749 section 4.4: only confidential clients.
        raise InvalidInput(
            "client_credentials needs a confidential client (not auth method none).",
            field="grant_types",
        )
    if CIBA_GRANT_TYPE in grants and auth_method == "none":
        # CIBA Core 1.0 section 4: CIBA clients are confidential.
        raise InvalidInput(
            "CIBA needs a confidential client (not auth method none).", field="grant_types"
        )
    return grants


CIBA_FIELDS = ("backchannel_token_delivery_mode", "backchannel_client_notification_endpoint")


def validate_ciba_delivery(
    grants: Sequence[str], mode: str | None, endpoint: str | None
) -> tuple[str | None, str | None]:
    """CIBA Core 1.0 section 4: ``backchannel_token_delivery_mode`` (poll by default) and,
    for ping, ``backchannel_client_notification_endpoint`` ("MUST be an https URL"; http
    on a loopback host is allowed outside production, as for back-channel logout). Push
    is refused: it is not supported. The one check for every way a client is registered
    or edited (``idp clients``, the console, the admin API); "" is the same as None."""
    from . import backchannel

    mode_field, field = CIBA_FIELDS
    if CIBA_GRANT_TYPE not in grants:
        if mode or endpoint:
            raise InvalidInput(
                "A token delivery mode and a notification endpoint are only for clients"
                " allowed the CIBA grant.",
                field=mode_field if mode else field,
            )
        return None, None
    mode = mode or "poll"
    if mode not in CIBA_MODES:
        raise InvalidInput(
            "The token delivery mode must be poll or ping (push is not supported).",
            field=mode_field,
        )
    if mode == "poll":
        if endpoint:
            raise InvalidInput("A notification endpoint is only for ping mode.", field=field)
        return mode, None
    local_ok = backchannel.allow_local()
    if endpoint and not local_ok:
        # As for a logout URI: a literal private host is refused here, names at send time.
        refuse_private_literal(endpoint, field=field, what="client notification endpoint")
    try:
        clean = backchannel.validate_logout_uri(endpoint, local_ok=local_ok)
    except InvalidInput:
        clean = None
    if clean is None:
        raise InvalidInput(
            "Ping mode needs an https client notification endpoint"
            " (http only on localhost outside production).",
            field=field,
        )
    return mode, clean


def _check_scopes(scopes: Sequence[str], grants: Sequence[str]) -> None:
    """Citizen scopes (with openid) for sign-in clients; service scopes only with
    client_credentials."""
    citizen = [s for s in scopes if s in SUPPORTED_SCOPES]
    service = [s for s in scopes if s in SERVICE_SCOPES]
    known = " ".join([*SUPPORTED_SCOPES, *SERVICE_SCOPES])
    if len(citizen) + len(service) != len(scopes):
        raise InvalidInput("The scope must be among: " + known + ".", field="scope")
    signs_in = any(g in grants for g in SIGN_IN_GRANTS)
    if signs_in and "openid" not in citizen:
        raise InvalidInput("The scope must include openid.", field="scope")
    if not signs_in and citizen:
        raise InvalidInput(
            "A client that signs nobody in asks for service scopes only.", field="scope"
        )
    if service and "client_credentials" not in grants:
        raise InvalidInput(
            "Service scopes (" + " ".join(service) + ") need the client_credentials grant.",
            field="scope",
        )


def _acr_value(value: str | None, *, field: str) -> str | None:
    """An acr URI or short name (low, substantial, high); "" or "none" clears it."""
    if value is None or value.strip().lower() in ("", "none"):
        return None
    acr = parse_acr(value)
    if acr is None:
        raise InvalidInput(
            "The level must be one of: low, substantial, high (or their acr URIs).", field=field
        )
    return str(acr)


def _acr_policy(default_acr: str | None, minimum_acr: str | None) -> tuple[str | None, str | None]:
    default = _acr_value(default_acr, field="default_acr")
    minimum = _acr_value(minimum_acr, field="minimum_acr")
    if default and minimum and not Acr(default).satisfies(Acr(minimum)):
        raise InvalidInput("The default level cannot be below the minimum.", field="default_acr")
    return default, minimum


_UNCHANGED: Any = object()


def update_acr_policy(
    client_id: str, *, default_acr: str | None = _UNCHANGED, minimum_acr: str | None = _UNCHANGED
) -> OAuthClient | None:
    """Set (or, with "none", clear) a portal's default and minimum level; an argument
    left out keeps its value. None for an unknown client; ``InvalidInput`` on a bad
    level or a default below the minimum."""
    client = db.session.get(OAuthClient, client_id) if _CLIENT_ID.match(client_id or "") else None
    if client is None:
        return None
    default, minimum = _acr_policy(
        client.default_acr if default_acr is _UNCHANGED else default_acr,
        client.minimum_acr if minimum_acr is _UNCHANGED else minimum_acr,
    )
    client.default_acr, client.minimum_acr = default, minimum
    db.session.commit()
    return client


def set_scope_policy(client_id: str, policy: Any) -> OAuthClient | None:
    """Replace a portal's per-scope policy (idp.consent.policy); None for an unknown
    client, ``InvalidInput`` when it names a scope the portal may not ask for."""
    client = db.session.get(OAuthClient, client_id) if _CLIENT_ID.match(client_id or "") else None
    if client is None:
        return None
    client.scope_policy = consent_policy.validate(policy, allowed=client.scope.split())
    db.session.commit()
    return client


def _backchannel_uri(uri: str | None, session_required: bool | None) -> str | None:
    """OpenID Connect Back-Channel Logout 1.0 section 2.2 (idp.oauth.backchannel)."""
    from . import backchannel

    clean = backchannel.validate_logout_uri(uri, local_ok=backchannel.allow_local())
    # Section 2.2: backchannel_logout_session_required "MAY only be present if
    # backchannel_logout_uri is present" (not silently kept without one).
    if session_required and clean is None:
        raise InvalidInput(
            "Requiring a session id needs a back-channel logout URI.",
            field="backchannel_logout_session_required",
        )
    return clean


def _frontchannel_uri(uri: str | None, session_required: bool | None) -> str | None:
    """OpenID Connect Front-Channel Logout 1.0 section 2 (idp.oauth.frontchannel)."""
    from . import frontchannel

    clean = frontchannel.validate_logout_uri(uri)
    # As for back-channel logout: the flag says how the URI is used, so not without one.
    if session_required and clean is None:
        raise InvalidInput(
            "Requiring iss and sid needs a front-channel logout URI.",
            field=frontchannel.SESSION_FIELD,
        )
    return clean


def _loopback_rule(redirect_uris: Iterable[str], auth_method: str) -> None:
    """RFC 8252 section 7.3: the loopback http redirect is for native apps (public
    clients). A confidential client may use one only outside production (the demo
    portal and local development run on http://localhost)."""
    if auth_method == "none" or current_app.config["IDP_ENV"] != "production":
        return
    if any(urlsplit(uri).scheme == "http" for uri in redirect_uris):
        raise InvalidInput(
            "http loopback redirect URIs are only for native apps (auth method none).",
            field="redirect_uris",
        )


def validate_redirect_uri(uri: str, *, field: str) -> str:
    if not isinstance(uri, str) or not uri or len(uri) > 2000:
        raise InvalidInput("A redirect URI must be 1 to 2000 characters.", field=field)
    try:
        parts = urlsplit(uri)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise InvalidInput(f"{uri} is not a valid URL.", field=field) from None
    if not parts.scheme or not host:
        raise InvalidInput(f"{uri} must be an absolute URL.", field=field)
    if parts.fragment or "#" in uri:
        raise InvalidInput(f"{uri} must not contain a fragment.", field=field)
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(f"{uri} must not contain user information.", field=field)
    if "*" in uri:
        raise InvalidInput(f"{uri} must not contain wildcards.", field=field)
    if parts.scheme == "https":
        return uri
    if parts.scheme == "http" and host in LOOPBACK_HOSTS:
        return uri
    raise InvalidInput(
        f"{uri} must use https (http is allowed only for localhost and 127.0.0.1).",
        field=field,
    )


def _check_native(redirects: Sequence[str], auth_method: str) -> None:
    """RFC 8252: a native app is a public client (8.5: no secret, so ``none`` and PKCE)
    redirecting to a claimed https URI (7.2) or a loopback IP literal (7.3; 8.3:
    ``localhost`` is NOT RECOMMENDED); private-use URI schemes are not accepted."""
    if auth_method != "none":
        raise InvalidInput(
            "A native app is a public client: its auth method must be 'none'.",
            field="auth_method",
        )
    for uri in redirects:
        parts = urlsplit(uri)
        if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "::1"):
            raise InvalidInput(
                f"{uri}: a native app redirects to https or to 127.0.0.1 / [::1].",
                field="redirect_uris",
            )


def _without_loopback_port(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "::1"):
        return uri
    host = "[::1]" if parts.hostname == "::1" else "127.0.0.1"
    return parts._replace(netloc=host).geturl()


def validate_public_jwks(jwks: dict[str, Any] | None) -> dict[str, Any]:
    """private_key_jwt needs the client's public keys (RFC 7523 section 2.2)."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise InvalidInput("private_key_jwt needs a JWKS with at least one key.", field="jwks")
    for key in jwks["keys"]:
        if not isinstance(key, dict) or key.get("kty") not in ("RSA", "EC", "OKP"):
            raise InvalidInput("JWKS keys must be RSA, EC or OKP public keys.", field="jwks")
        if _PRIVATE_JWK_MEMBERS & set(key):
            raise InvalidInput("The JWKS must hold public keys only.", field="jwks")
    try:
        KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError):
        raise InvalidInput("The JWKS could not be read.", field="jwks") from None
    return {"keys": [dict(k) for k in jwks["keys"]]}


def _sector(explicit: str | None, redirect_uris: Iterable[str]) -> str:
    if explicit:
        host = explicit.strip().lower()
        if not _HOST.match(host):
            raise InvalidInput(
                "The sector identifier must be a host name.", field="sector_identifier"
            )
        return host
    hosts = {(urlsplit(uri).hostname or "").lower() for uri in redirect_uris}
    if len(hosts) != 1:
        raise InvalidInput(
            "The redirect URIs span several hosts: name the sector identifier.",
            field="sector_identifier",
        )
    return hosts.pop()


def get_client(client_id: str) -> OAuthClient | None:
    """Any registered client, disabled or not (operators' view)."""
    return db.session.get(OAuthClient, client_id)


def list_clients() -> list[OAuthClient]:
    return list(db.session.scalars(select(OAuthClient).order_by(OAuthClient.created_at)))


def disable_client(client_id: str, *, commit: bool = True) -> bool:
    """Refuse the client from now on and revoke every token it holds (``commit=False``:
    pending, as ``register_client``)."""
    from .tokens import revoke_client_tokens

    client = db.session.get(OAuthClient, client_id)
    if client is None:
        return False
    if client.disabled_at is None:
        client.disabled_at = datetime.now(UTC)
    revoke_client_tokens(client_id)
    _save(commit)
    return True


def describe(client: OAuthClient) -> dict[str, Any]:
    """Operator-facing view (never the secret or its hash)."""
    return {
        "client_id": client.client_id,
        "name": client.name,
        "department": client.department,
        "logo_uri": client.logo_uri,
        "redirect_uris": list(client.redirect_uris or []),
        "post_logout_redirect_uris": list(client.post_logout_redirect_uris or []),
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "scope": client.scope,
        "sector_identifier": client.sector_identifier,
        "id_token_signed_response_alg": client.id_token_signed_response_alg,
        "first_party": bool(client.first_party),
        "default_acr": client.default_acr,
        "minimum_acr": client.minimum_acr,
        "access_token_format": client.access_token_format,
        "grant_types": list(client.grant_types or DEFAULT_GRANT_TYPES),
        "application_type": client.application_type,
        "access_token_ttl": client.access_token_ttl,
        "refresh_token_ttl": client.refresh_token_ttl,
        "jwks": client.jwks,
        "scope_policy": client.scope_policy,
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "backchannel_logout_session_required": bool(client.backchannel_logout_session_required),
        "frontchannel_logout_uri": client.frontchannel_logout_uri,
        "frontchannel_logout_session_required": bool(client.frontchannel_logout_session_required),
        "backchannel_token_delivery_mode": client.backchannel_token_delivery_mode,
        "backchannel_client_notification_endpoint": (
            client.backchannel_client_notification_endpoint
        ),
        "disabled": client.disabled_at is not None,
        "created_at": client.created_at.isoformat() if client.created_at else None,
    }


def _logo(logo_uri: str | None) -> str | None:
    """An https logo. The provider never fetches it: each citizen's browser loads it
    from the consent page, so the rule is the one for URLs the provider posts to, at
    registration only: a host that is, as typed, ``localhost`` or a private, loopback or
    link-local address (an intranet device, the cloud metadata service) is refused,
    names are not resolved (a DNS answer can change, and the browser asks its own).
    ``IDP_ALLOW_PRIVATE_FETCH`` lifts it (tests, local development; refused in
    production): not ``IDP_BACKCHANNEL_ALLOW_LOCAL``, which is about where the provider
    itself connects and is on by default outside production."""
    if logo_uri is None or logo_uri == "":
        return None
    try:
        parts = urlsplit(logo_uri)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
        https = parts.scheme == "https" and bool(parts.hostname)
    except ValueError:
        https = False
    if not https or len(logo_uri) > 2000 or any(ord(c) < 0x21 for c in logo_uri):
        raise InvalidInput("The logo URI must be an https URL.", field="logo_uri")
    if not current_app.config["IDP_ALLOW_PRIVATE_FETCH"]:
        refuse_private_literal(
            logo_uri,
            field="logo_uri",
            what="logo URI",
            why="a logo must be on a public host (every citizen's browser loads it)",
        )
    return logo_uri


ACCESS_TOKEN_TTL_RANGE = (60, 3600)  # seconds; short-lived bearer tokens (RFC 9700 4.11)
REFRESH_TOKEN_TTL_RANGE = (3600, 180 * 24 * 3600)


def _lifetime(value: Any, *, field: str, bounds: tuple[int, int]) -> int | None:
    """A per-client token lifetime in seconds; None or "" = the deployment default."""
    if value is None or value == "":
        return None
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{field} must be a whole number of seconds.", field=field) from None
    if not bounds[0] <= seconds <= bounds[1]:
        raise InvalidInput(
            f"{field} must be between {bounds[0]} and {bounds[1]} seconds.", field=field
        )
    return seconds


# Fields an operator may change after registration. ``sector_identifier`` is not one:
# changing it would change every pairwise ``sub`` the portal knows (OIDC Core 8.1).
EDITABLE = (
    "name",
    "department",
    "logo_uri",
    "redirect_uris",
    "post_logout_redirect_uris",
    "scope",
    "scope_policy",
    "default_acr",
    "minimum_acr",
    "auth_method",
    "jwks",
    "id_token_alg",
    "first_party",
    "access_token_format",
    "access_token_ttl",
    "refresh_token_ttl",
    "grant_types",
    "backchannel_logout_uri",
    "backchannel_logout_session_required",
    "frontchannel_logout_uri",
    "frontchannel_logout_session_required",
    *CIBA_FIELDS,
)


def update_client(
    client_id: str, changes: dict[str, Any], *, commit: bool = True
) -> tuple[OAuthClient, str | None]:
    """Apply ``changes`` (keys from ``EDITABLE``) with the same rules as registration,
    all or nothing: every value is checked before any is set. Returns the client and,
    when it switched to a secret-based method, its new secret (shown once). Raises
    ``InvalidInput`` naming the field, ``LookupError`` for an unknown client.
    ``commit=False`` leaves the change pending (flushed), for a caller that commits it
    with its audit record in one transaction."""
    client = db.session.get(OAuthClient, client_id) if _CLIENT_ID.match(client_id or "") else None
    if client is None:
        raise LookupError(client_id)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InvalidInput(
            "Unknown or read-only field: " + ", ".join(unknown) + ".", field=unknown[0]
        )
    values: dict[str, Any] = {}
    if "name" in changes:
        name = str(changes["name"] or "").strip()
        if not name or len(name) > 200:
            raise InvalidInput("The client name must be 1 to 200 characters.", field="name")
        values["name"] = name
    if "department" in changes:
        department = str(changes["department"] or "").strip()
        if len(department) > 200:
            raise InvalidInput("The department must be at most 200 characters.", field="department")
        values["department"] = department or None
    if "logo_uri" in changes:
        values["logo_uri"] = _logo(changes["logo_uri"])
    for field in ("redirect_uris", "post_logout_redirect_uris"):
        if field in changes:
            uris = changes[field]
            if not isinstance(uris, list | tuple) or len(uris) > 20:
                raise InvalidInput(f"{field} must be a list of at most 20 URIs.", field=field)
            values[field] = [validate_redirect_uri(u, field=field) for u in uris]
    scopes = client.scope.split()
    if "scope" in changes:
        scopes = list(dict.fromkeys(str(changes["scope"] or "").split()))
        values["scope"] = " ".join(scopes)
    grants = list(client.grant_types or DEFAULT_GRANT_TYPES)
    if "grant_types" in changes:
        raw = changes["grant_types"]
        if not isinstance(raw, list | tuple) or not all(isinstance(g, str) for g in raw):
            raise InvalidInput("grant_types must be a list of strings.", field="grant_types")
        grants = list(validate_grant_types(raw, auth_method=client.token_endpoint_auth_method))
        values["grant_types"] = grants
    if "authorization_code" in grants and not values.get("redirect_uris", client.redirect_uris):
        raise InvalidInput("At least one redirect URI is required.", field="redirect_uris")
    if "scope" in changes or "grant_types" in changes:
        _check_scopes(scopes, grants)
    if "grant_types" in changes or any(f in changes for f in CIBA_FIELDS):
        values.update(_ciba_changes(client, grants, changes))
    policy = changes["scope_policy"] if "scope_policy" in changes else client.scope_policy
    if policy is not None:
        # Re-checked when the scopes change too: a policy never names a scope the portal lost.
        # {} is no policy, stored as None (consent_policy.items reads both alike).
        values["scope_policy"] = consent_policy.validate(policy, allowed=scopes) or None
    elif "scope_policy" in changes:
        values["scope_policy"] = None  # cleared: every scope required, no stated purpose
    if "default_acr" in changes or "minimum_acr" in changes:
        values["default_acr"], values["minimum_acr"] = _acr_policy(
            changes.get("default_acr", client.default_acr),
            changes.get("minimum_acr", client.minimum_acr),
        )
    if "id_token_alg" in changes:
        if changes["id_token_alg"] not in ID_TOKEN_ALGS:
            raise InvalidInput(
                "The ID token algorithm must be ES256 or RS256.", field="id_token_alg"
            )
        values["id_token_signed_response_alg"] = changes["id_token_alg"]
    if "first_party" in changes:
        if not isinstance(changes["first_party"], bool):
            raise InvalidInput("first_party must be true or false.", field="first_party")
        values["first_party"] = changes["first_party"]
    if "access_token_format" in changes:
        if changes["access_token_format"] not in ("opaque", "jwt"):
            raise InvalidInput(
                "The access token format must be opaque or jwt.", field="access_token_format"
            )
        values["access_token_format"] = changes["access_token_format"]
    if "access_token_ttl" in changes:
        values["access_token_ttl"] = _lifetime(
            changes["access_token_ttl"], field="access_token_ttl", bounds=ACCESS_TOKEN_TTL_RANGE
        )
    if "refresh_token_ttl" in changes:
        values["refresh_token_ttl"] = _lifetime(
            changes["refresh_token_ttl"], field="refresh_token_ttl", bounds=REFRESH_TOKEN_TTL_RANGE
        )
    method = changes.get("auth_method", client.token_endpoint_auth_method)
    if method not in AUTH_METHODS:
        raise InvalidInput(
            "The token endpoint auth method must be one of: " + ", ".join(AUTH_METHODS) + ".",
            field="auth_method",
        )
    _loopback_rule(values.get("redirect_uris", client.redirect_uris or []), method)
    secret = None
    if method == "private_key_jwt":
        if "jwks" in changes or client.jwks is None:
            values["jwks"] = validate_public_jwks(changes.get("jwks"))
    elif changes.get("jwks") is not None:
        raise InvalidInput("A JWKS is only used with private_key_jwt.", field="jwks")
    if method != client.token_endpoint_auth_method:
        values["token_endpoint_auth_method"] = method
        if method != "private_key_jwt":
            values["jwks"] = None
        if method in ("client_secret_basic", "client_secret_post"):
            if client.client_secret_hash is None:
                secret = hashing.new_secret()
                values["client_secret_hash"] = hashing.keyed_hash(SECRET_PURPOSE, secret)
        else:
            values["client_secret_hash"] = None
    if "client_credentials" in grants and method == "none":
        raise InvalidInput(
            "The client credentials grant is for confidential clients only.", field="grant_types"
        )
    if CIBA_GRANT_TYPE in grants and method == "none":
        # CIBA Core 1.0 section 4: CIBA clients are confidential.
        raise InvalidInput(
            "CIBA needs a confidential client (not auth method none).", field="grant_types"
        )
    for channel, check in (("backchannel", _backchannel_uri), ("frontchannel", _frontchannel_uri)):
        uri_field, required_field = f"{channel}_logout_uri", f"{channel}_logout_session_required"
        if uri_field in changes or required_field in changes:
            uri = changes.get(uri_field, getattr(client, uri_field))
            required = changes.get(required_field, getattr(client, required_field))
            if not isinstance(required, bool):
                raise InvalidInput(f"{required_field} must be true or false.", field=required_field)
            values[uri_field] = check(uri or None, required)
            values[required_field] = required
    for key, value in values.items():
        setattr(client, key, value)
    _save(commit)
    return client, secret


def _ciba_changes(
    client: OAuthClient, grants: Sequence[str], changes: dict[str, Any]
) -> dict[str, str | None]:
    """The CIBA delivery columns after an edit: what ``changes`` gives, else what the
    client has (kept while it keeps the grant, cleared when it loses it; a switch to
    poll drops the ping endpoint), checked by ``validate_ciba_delivery``."""
    mode_field, endpoint_field = CIBA_FIELDS
    for field in CIBA_FIELDS:
        if changes.get(field) is not None and not isinstance(changes[field], str):
            raise InvalidInput(f"{field} must be a string.", field=field)
    if not any(f in changes for f in CIBA_FIELDS) and CIBA_GRANT_TYPE not in grants:
        mode, endpoint = None, None
    else:
        mode = changes.get(mode_field, client.backchannel_token_delivery_mode)
        endpoint = changes.get(endpoint_field, client.backchannel_client_notification_endpoint)
        if endpoint_field not in changes and mode != "ping":
            endpoint = None
    mode, endpoint = validate_ciba_delivery(grants, mode, endpoint)
    return {mode_field: mode, endpoint_field: endpoint}


def rotate_secret(client_id: str, *, commit: bool = True) -> str:
    """A new secret for a confidential client, shown once; the old one stops working at
    once (no overlap: a rotation is most often a suspected leak). Raises LookupError for
    an unknown client, InvalidInput for a client that has no secret. ``commit=False``:
    pending, as ``register_client`` (a caller shows the secret only once it commits)."""
    client = db.session.get(OAuthClient, client_id) if _CLIENT_ID.match(client_id or "") else None
    if client is None:
        raise LookupError(client_id)
    if client.token_endpoint_auth_method not in ("client_secret_basic", "client_secret_post"):
        raise InvalidInput(
            "This client does not authenticate with a secret.", field="token_endpoint_auth_method"
        )
    secret = hashing.new_secret()
    client.client_secret_hash = hashing.keyed_hash(SECRET_PURPOSE, secret)
    _save(commit)
    return secret


def enable_client(client_id: str, *, commit: bool = True) -> bool:
    """Accept the client again (``commit=False``: pending, as ``register_client``)."""
    client = db.session.get(OAuthClient, client_id) if _CLIENT_ID.match(client_id or "") else None
    if client is None:
        return False
    client.disabled_at = None
    _save(commit)
    return True


def _save(commit: bool) -> None:
    """Commit a registry change, or flush it for a caller that commits it together with
    its audit record (``idp.admin.events.admin_event(..., pending=True)``)."""
    if commit:
        db.session.commit()
    else:
        db.session.flush()
