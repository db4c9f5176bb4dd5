"""Consents as operators see them: listed by portal or by citizen, revoked with the
same cascade as a citizen's own withdrawal (``idp.consent.service.revoke``: the portal's
tokens for that citizen stop working, and the next sign-in asks again)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..authn.staff.roles import Permission
from ..consent import service
from ..errors import InvalidInput
from ..extensions import db
from ..models import Citizen
from ..models import Consent
from ..models import OAuthClient
from ..oauth import clients as registry
from .authz import Actor
from .authz import NotFound
from .authz import require
from .events import SUCCESS
from .events import admin_event
from .fields import row_id


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _view(row: Consent, client_name: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "citizen_id": row.citizen_id,
        "client_id": row.client_id,
        "client_name": client_name,
        "scopes": list(row.scopes or []),
        "granted_at": _iso(row.granted_at),
        "expires_at": _iso(row.expires_at),
    }


def _client(actor: Actor, client_id: str, permission: Permission, action: str) -> OAuthClient:
    client = registry.get_client(client_id) if registry._CLIENT_ID.match(client_id or "") else None
    if client is None:
        require(actor, permission, action=action, target=str(client_id)[:64])
        raise NotFound(detail="unknown client")
    require(actor, permission, action=action, target=client.client_id, department=client.department)
    return client


def by_client(actor: Actor, client_id: str) -> list[dict[str, Any]]:
    client = _client(actor, client_id, Permission.CONSENTS_READ, "consents.list")
    rows = service.list_active_for_client(client_id=client.client_id)
    return [_view(r, client.name) for r in rows]


def by_citizen(actor: Actor, citizen_id: str) -> list[dict[str, Any]]:
    """A citizen's consents; a client manager sees only those given to their department."""
    require(actor, Permission.CONSENTS_READ, action="consents.list", target=str(citizen_id)[:36])
    if not row_id(citizen_id) or db.session.get(Citizen, citizen_id) is None:
        raise NotFound(detail="unknown citizen")
    out = []
    for row in service.list_active(citizen_id=citizen_id):
        client = registry.get_client(row.client_id)
        if client is not None and actor.can_for(Permission.CONSENTS_READ, client.department):
            out.append(_view(row, client.name))
    return out


def revoke(actor: Actor, *, citizen_id: Any, client_id: Any) -> bool:
    require(actor, Permission.CONSENTS_REVOKE, action="consents.revoke")
    if not isinstance(citizen_id, str) or not isinstance(client_id, str):
        raise InvalidInput("citizen_id and client_id are required strings.", field="citizen_id")
    client = _client(actor, client_id, Permission.CONSENTS_REVOKE, "consents.revoke")
    if not row_id(citizen_id) or db.session.get(Citizen, citizen_id) is None:
        raise NotFound(detail="unknown citizen")
    before = service.find_active(citizen_id=citizen_id, client_id=client.client_id)
    done = service.revoke(
        citizen_id=citizen_id, client_id=client.client_id, by=f"admin:{actor.username}"
    )
    admin_event(
        actor,
        "consents.revoke",
        f"{citizen_id}/{client.client_id}",
        SUCCESS,
        before={"scopes": list(before.scopes or [])} if before else None,
        after={"revoked": done},
    )
    return done
