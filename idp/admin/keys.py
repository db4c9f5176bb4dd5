"""Token-signing keys as operators manage them: list, rotate, retire (``idp.oauth.keys``).

Rotation publishes the successor ``IDP_KEY_PROPAGATION_DELAY`` before it signs, so the
JWKS holds both keys through the change (portals that cache it never meet an unknown
``kid``); ``immediate`` skips the delay, for a compromised key, and is then followed by
retiring the old key with ``immediate`` so it leaves the JWKS at once."""

from __future__ import annotations

from typing import Any

from flask import current_app

from ..authn.staff.roles import Permission
from ..errors import InvalidInput
from ..oauth import keys
from .authz import Actor
from .authz import NotFound
from .authz import require
from .events import SUCCESS
from .events import admin_event


def list_keys(actor: Actor) -> list[dict[str, Any]]:
    require(actor, Permission.KEYS_READ, action="keys.list")
    return keys.list_keys()


def rotate(actor: Actor, *, algs: list[str] | None = None, immediate: bool = False) -> list[str]:
    require(actor, Permission.KEYS_ROTATE, action="keys.rotate")
    chosen = tuple(algs or keys.ALGORITHMS)
    if not chosen or any(a not in keys.ALGORITHMS for a in chosen):
        raise InvalidInput("alg must be ES256 or RS256.", field="algs")
    cfg = current_app.config
    created = keys.rotate(
        algs=chosen,
        propagation_delay=0 if immediate else int(cfg["IDP_KEY_PROPAGATION_DELAY"]),
        retire_grace=int(cfg["IDP_KEY_RETIRE_GRACE"]),
    )
    kids = [k.kid for k in created]
    admin_event(
        actor, "keys.rotate", ",".join(kids), SUCCESS, after={"kids": kids, "immediate": immediate}
    )
    return kids


def retire(actor: Actor, kid: str, *, immediate: bool = False) -> dict[str, Any]:
    require(actor, Permission.KEYS_RETIRE, action="keys.retire", target=str(kid)[:64])
    try:
        info = keys.retire(
            kid, retire_grace=int(current_app.config["IDP_KEY_RETIRE_GRACE"]), immediate=immediate
        )
    except LookupError:
        raise NotFound(detail="unknown kid") from None
    except keys.KeyRetirementRefused:
        raise InvalidInput(
            "No other key of this algorithm signs yet: rotate first (immediately, if the key "
            "is compromised).",
            field="kid",
        ) from None
    after = {
        "kid": info.kid,
        "retired_at": info.retired_at.isoformat() if info.retired_at else None,
        "expires_at": info.expires_at.isoformat() if info.expires_at else None,
    }
    admin_event(actor, "keys.retire", info.kid, SUCCESS, after={**after, "immediate": immediate})
    return after
