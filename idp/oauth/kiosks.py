"""Registering kiosks: an OAuth client of its own (``private_key_jwt``, its own key) plus
the ``Kiosk`` row that marks it as a kiosk and says where it stands.

A kiosk has no redirect URI: it signs citizens in with the device authorization grant
(RFC 8628, ``idp.oauth.device``) or by a signed card + face assertion
(``idp.authn.methods.terminal``), never through ``/authorize``. Both use the one JWKS
registered here. Operators register, list, disable and re-enable kiosks with
``idp kiosks ...``.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select

from ..errors import InvalidInput
from ..extensions import db
from ..models import Kiosk
from ..models import OAuthClient
from .claims import SUPPORTED_SCOPES
from .clients import _sector
from .clients import new_client_id
from .clients import validate_public_jwks

DEFAULT_SCOPE = "openid profile"
# A counter terminal (adapters/hall) is registered the same way, with kind "counter" and
# its window; its scope is what a portal may get from a session assisted at that counter.
KINDS = ("kiosk", "counter")


def register_kiosk(
    *,
    name: str,
    place: str,
    jwks: dict[str, Any] | None,
    scope: str = DEFAULT_SCOPE,
    sector_identifier: str | None = None,
    kind: str = "kiosk",
    window: str | None = None,
) -> OAuthClient:
    """Register a kiosk; raises ``InvalidInput`` naming the field and the rule broken.

    Kiosks share one pairwise ``sub`` sector (``kiosk.<issuer host>`` unless named), so
    the kiosk service sees one ``sub`` per citizen whichever kiosk they use.
    """
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise InvalidInput("The kiosk name must be 1 to 200 characters.", field="name")
    place = (place or "").strip()
    if not place or len(place) > 200:
        raise InvalidInput("The kiosk place must be 1 to 200 characters.", field="place")
    if kind not in KINDS:
        raise InvalidInput("The device kind must be kiosk or counter.", field="kind")
    window = (window or "").strip() or None
    if kind == "counter" and (window is None or len(window) > 64):
        raise InvalidInput(
            "A counter terminal needs its window (1 to 64 characters).", field="window"
        )
    jwks = validate_public_jwks(jwks)
    scopes = list(dict.fromkeys(scope.split()))
    if "openid" not in scopes or set(scopes) - set(SUPPORTED_SCOPES) or "offline_access" in scopes:
        raise InvalidInput(
            "The scope must include openid and only: "
            + " ".join(s for s in SUPPORTED_SCOPES if s != "offline_access")
            + " (kiosk sign-ins are short: no offline_access).",
            field="scope",
        )
    host = urlsplit(str(current_app.config["IDP_ISSUER"])).hostname or "localhost"
    client = OAuthClient(
        client_id=new_client_id(),
        name=name,
        redirect_uris=[],
        post_logout_redirect_uris=[],
        token_endpoint_auth_method="private_key_jwt",
        jwks=jwks,
        scope=" ".join(scopes),
        sector_identifier=_sector(sector_identifier or f"kiosk.{host}", []),
        id_token_signed_response_alg=str(current_app.config["IDP_DEFAULT_ID_TOKEN_ALG"]),
        first_party=True,
    )
    db.session.add(client)
    db.session.flush()
    db.session.add(
        Kiosk(
            client_id=client.client_id,
            place=place,
            kind=kind,
            window=window if kind == "counter" else None,
        )
    )
    db.session.commit()
    return client


def list_kiosks() -> list[tuple[OAuthClient, Kiosk]]:
    rows = db.session.execute(
        select(OAuthClient, Kiosk)
        .join(Kiosk, Kiosk.client_id == OAuthClient.client_id)
        .order_by(Kiosk.created_at)
    )
    return [(client, kiosk) for client, kiosk in rows]


def get_kiosk(client_id: str) -> tuple[OAuthClient, Kiosk] | None:
    kiosk = db.session.get(Kiosk, client_id) if isinstance(client_id, str) else None
    if kiosk is None:
        return None
    client = db.session.get(OAuthClient, client_id)
    return (client, kiosk) if client is not None else None


def set_disabled(client_id: str, disabled: bool) -> bool:
    """Disable (its assertions and client authentication are refused from then on) or
    re-enable a kiosk; False for an unknown kiosk. Disabling revokes its tokens."""
    from .tokens import revoke_client_tokens

    found = get_kiosk(client_id)
    if found is None:
        return False
    client, kiosk = found
    if disabled:
        # The client too: a disabled kiosk cannot even authenticate (query_client).
        kiosk.disabled_at = kiosk.disabled_at or datetime.now(UTC)
        client.disabled_at = client.disabled_at or kiosk.disabled_at
        revoke_client_tokens(client_id)
    else:
        kiosk.disabled_at = None
        client.disabled_at = None
    db.session.commit()
    return True


def is_active_kiosk(client_id: str) -> bool:
    kiosk = db.session.get(Kiosk, client_id)
    return kiosk is not None and kiosk.disabled_at is None and (kiosk.kind or "kiosk") == "kiosk"


def describe(client: OAuthClient, kiosk: Kiosk) -> dict[str, Any]:
    """Operator-facing view (public keys are not repeated)."""
    return {
        "client_id": client.client_id,
        "name": client.name,
        "place": kiosk.place,
        "kind": kiosk.kind or "kiosk",
        "window": kiosk.window,
        "scope": client.scope,
        "sector_identifier": client.sector_identifier,
        "keys": [k.get("kid") or k.get("kty") for k in (client.jwks or {}).get("keys", [])],
        "disabled": kiosk.disabled_at is not None or client.disabled_at is not None,
        "created_at": kiosk.created_at.isoformat() if kiosk.created_at else None,
    }
