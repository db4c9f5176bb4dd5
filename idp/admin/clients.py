"""Clients (relying-party portals) as operators manage them: register, edit, rotate the
secret, disable, enable. Client managers reach only their department's clients."""

from __future__ import annotations

from typing import Any

from ..authn.staff.roles import Permission
from ..models import OAuthClient
from ..oauth import clients as registry
from .authz import Actor
from .authz import NotFound
from .authz import require
from .events import SUCCESS
from .events import admin_event
from .fields import required
from .fields import typed

_NONE = type(None)
_STR = (str, _NONE)
CREATE_FIELDS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "department": _STR,
    "logo_uri": _STR,
    "redirect_uris": (list,),
    "post_logout_redirect_uris": (list,),
    "auth_method": (str,),
    "scope": (str,),
    "first_party": (bool,),
    "jwks": (dict, _NONE),
    "sector_identifier": _STR,
    "id_token_alg": _STR,
    "default_acr": _STR,
    "minimum_acr": _STR,
    "scope_policy": (dict, _NONE),
    "access_token_format": (str,),
    "access_token_ttl": (int, _NONE),
    "refresh_token_ttl": (int, _NONE),
    "grant_types": (list,),
    "backchannel_logout_uri": _STR,
    "backchannel_logout_session_required": (bool,),
    # OpenID Connect Front-Channel Logout 1.0 section 2 (idp.oauth.frontchannel).
    "frontchannel_logout_uri": _STR,
    "frontchannel_logout_session_required": (bool,),
    # CIBA Core 1.0 section 4 (the hotline): checked by registry.validate_ciba_delivery.
    "backchannel_token_delivery_mode": _STR,
    "backchannel_client_notification_endpoint": _STR,
}
EDIT_FIELDS = {k: v for k, v in CREATE_FIELDS.items() if k in registry.EDITABLE}


def _visible(actor: Actor, client: OAuthClient) -> bool:
    return actor.can_for(Permission.CLIENTS_READ, client.department)


def _load(actor: Actor, client_id: str, permission: Permission, action: str) -> OAuthClient:
    client = registry.get_client(client_id) if registry._CLIENT_ID.match(client_id or "") else None
    if client is None:
        # Checked first on the permission alone, so a caller without the right learns
        # nothing about which ids exist.
        require(actor, permission, action=action, target=str(client_id)[:64])
        raise NotFound(detail=f"client {str(client_id)[:64]}")
    require(actor, permission, action=action, target=client.client_id, department=client.department)
    return client


def list_clients(actor: Actor) -> list[dict[str, Any]]:
    require(actor, Permission.CLIENTS_READ, action="clients.list")
    return [registry.describe(c) for c in registry.list_clients() if _visible(actor, c)]


def get_client(actor: Actor, client_id: str) -> dict[str, Any]:
    return registry.describe(_load(actor, client_id, Permission.CLIENTS_READ, "clients.read"))


def create_client(actor: Actor, data: Any) -> tuple[dict[str, Any], str | None]:
    """Register a portal. A client manager's portals are always in their department."""
    require(actor, Permission.CLIENTS_WRITE, action="clients.create")
    fields = typed(data, CREATE_FIELDS)
    required(fields, "name")
    # Redirect URIs are required by the registry for the clients that need them
    # (authorization_code); a CIBA or client-credentials client has none.
    fields.setdefault("redirect_uris", [])
    department = fields.get("department") or None
    if actor.department_only(Permission.CLIENTS_WRITE):
        if department not in (None, actor.department):
            require(actor, Permission.CLIENTS_WRITE, action="clients.create", department=department)
        department = actor.department
    require(actor, Permission.CLIENTS_WRITE, action="clients.create", department=department)
    extra = {
        k: fields.pop(k)
        for k in ("access_token_format", "access_token_ttl", "refresh_token_ttl")
        if k in fields
    }
    fields["department"] = department
    # Not committed here: the client commits with its audit record, or not at all (and
    # its secret is never shown), as an edit does.
    client, secret = registry.register_client(**fields, commit=False)
    if extra:
        client, _ = registry.update_client(client.client_id, extra, commit=False)
    after = registry.describe(client)
    admin_event(actor, "clients.create", client.client_id, SUCCESS, after=after, pending=True)
    return after, secret


def update_client(actor: Actor, client_id: str, data: Any) -> tuple[dict[str, Any], str | None]:
    client = _load(actor, client_id, Permission.CLIENTS_WRITE, "clients.update")
    changes = typed(data, EDIT_FIELDS)
    if "department" in changes and actor.department_only(Permission.CLIENTS_WRITE):
        new = (changes["department"] or "").strip() or None
        if new != actor.department:
            require(
                actor,
                Permission.CLIENTS_WRITE,
                action="clients.update",
                target=client_id,
                department=new,
            )
    before = registry.describe(client)
    try:
        # Not committed here: the change commits with its audit record below, or not at
        # all (events.AuditUnavailable), as ``idp clients update`` does.
        client, secret = registry.update_client(client.client_id, changes, commit=False)
    except LookupError:
        raise NotFound(detail=f"client {client_id}") from None
    after = registry.describe(client)
    admin_event(
        actor,
        "clients.update",
        client.client_id,
        SUCCESS,
        before=before,
        after=after,
        pending=True,
    )
    return after, secret


def rotate_secret(actor: Actor, client_id: str) -> str:
    client = _load(actor, client_id, Permission.CLIENTS_WRITE, "clients.rotate_secret")
    # The new secret is kept and shown only if its record is written with it.
    secret = registry.rotate_secret(client.client_id, commit=False)
    admin_event(actor, "clients.rotate_secret", client.client_id, SUCCESS, pending=True)
    return secret


def disable_client(actor: Actor, client_id: str) -> dict[str, Any]:
    client = _load(actor, client_id, Permission.CLIENTS_DISABLE, "clients.disable")
    before = registry.describe(client)
    # The client and its tokens stay as they were if the record cannot be written.
    registry.disable_client(client.client_id, commit=False)
    after = registry.describe(client)
    admin_event(
        actor,
        "clients.disable",
        client.client_id,
        SUCCESS,
        before=before,
        after=after,
        pending=True,
    )
    return after


def enable_client(actor: Actor, client_id: str) -> dict[str, Any]:
    client = _load(actor, client_id, Permission.CLIENTS_DISABLE, "clients.enable")
    registry.enable_client(client.client_id, commit=False)
    after = registry.describe(client)
    admin_event(actor, "clients.enable", client.client_id, SUCCESS, after=after, pending=True)
    return after
