"""Provider metadata: OpenID Connect Discovery 1.0 section 3 and RFC 8414.

https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderMetadata

Every URL is built from ``IDP_ISSUER`` (section 3: "issuer ... MUST be identical to the
iss Claim value in ID Tokens"), never from the request's Host header.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..authn.result import Acr
from .claims import CLAIMS_SUPPORTED
from .claims import SUPPORTED_SCOPES
from .client_auth import ASSERTION_ALGS
from .clients import AUTH_METHODS
from .clients import CIBA_GRANT_TYPE
from .clients import CIBA_MODES
from .clients import DEVICE_CODE_GRANT_TYPE
from .clients import ID_TOKEN_ALGS
from .oidc import PROMPT_VALUES

# Paths of the endpoints, relative to the issuer (idp.web.oauth_bp routes them).
PATHS = {
    "authorization_endpoint": "/authorize",
    "token_endpoint": "/token",
    "userinfo_endpoint": "/userinfo",
    "jwks_uri": "/jwks.json",
    "revocation_endpoint": "/revoke",
    "introspection_endpoint": "/introspect",
    "end_session_endpoint": "/logout",
}
WELL_KNOWN = "/.well-known/openid-configuration"


def _bcp47(locale: str) -> str:
    return locale.replace("_", "-")


def metadata(config: Mapping[str, Any]) -> dict[str, Any]:
    issuer = str(config["IDP_ISSUER"])
    base = issuer.rstrip("/")
    authenticated = [m for m in AUTH_METHODS if m != "none"]
    data: dict[str, Any] = (
        {
            "issuer": issuer,
            **{name: base + path for name, path in PATHS.items()},
            "scopes_supported": list(SUPPORTED_SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": list(ID_TOKEN_ALGS),
            "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGS),
            "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "revocation_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGS),
            "introspection_endpoint_auth_methods_supported": authenticated,
            "introspection_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGS),
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": list(CLAIMS_SUPPORTED),
            "claim_types_supported": ["normal"],
            # OIDC Core 5.5; only the ID token's acr is acted on (idp.oauth.acr_request).
            "claims_parameter_supported": True,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
            "require_request_uri_registration": False,
            "acr_values_supported": [str(a) for a in Acr],
            "prompt_values_supported": list(PROMPT_VALUES),
            "ui_locales_supported": [_bcp47(loc) for loc in config["IDP_LOCALES"]],
            "authorization_response_iss_parameter_supported": True,
            "frontchannel_logout_supported": False,
            "backchannel_logout_supported": False,
        }
        | _backchannel(config)
        | _frontchannel(config)
    )
    if config.get("IDP_FEATURE_DEVICE_FLOW"):
        # RFC 8628 section 4: device_authorization_endpoint; the grant type (3.4).
        data["device_authorization_endpoint"] = base + "/device_authorization"
        data["grant_types_supported"].append(DEVICE_CODE_GRANT_TYPE)
    if config.get("IDP_FEATURE_CIBA"):
        # CIBA Core 1.0 section 4: the endpoint, modes, no user_code; the grant type.
        data["backchannel_authentication_endpoint"] = base + "/bc-authorize"
        data["backchannel_token_delivery_modes_supported"] = list(CIBA_MODES)
        data["backchannel_user_code_parameter_supported"] = False
        data["grant_types_supported"].append(CIBA_GRANT_TYPE)
    return data


def _backchannel(config: Mapping[str, Any]) -> dict[str, Any]:
    """OpenID Connect Back-Channel Logout 1.0 section 2.1; the logout token carries
    ``sid`` whenever the portal saw one, so sessions are supported too."""
    if not config.get("IDP_FEATURE_BACKCHANNEL_LOGOUT"):
        return {}
    return {"backchannel_logout_supported": True, "backchannel_logout_session_supported": True}


def _frontchannel(config: Mapping[str, Any]) -> dict[str, Any]:
    """OpenID Connect Front-Channel Logout 1.0 section 3: ID tokens always carry ``sid``,
    and the frames add ``iss`` and ``sid`` for portals that ask."""
    if not config.get("IDP_FEATURE_FRONTCHANNEL_LOGOUT"):
        return {}
    return {"frontchannel_logout_supported": True, "frontchannel_logout_session_supported": True}


def metadata_json(config: Mapping[str, Any]) -> bytes:
    """``metadata`` serialised (compact JSON)."""
    return json.dumps(metadata(config), separators=(",", ":")).encode()
