"""Citizens as operators see them: found by ID number (through the blind index, never
a scan), their credentials, blocked authenticators, sessions and consents; lock and
unlock; end sessions; re-enable a blocked authenticator.

The ID number is shown masked (``idp.ids.redact``) and never logged; the record is
named by its row id everywhere else (URLs, API paths, admin events).
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from typing import Any

from sqlalchemy import select

from ..authn import authenticator_limits
from ..authn import devices
from ..authn import passkeys
from ..authn import sessions
from ..authn.citizens import find_by_id_number
from ..authn.citizens import id_number_of
from ..authn.methods import totp
from ..authn.staff.roles import Permission
from ..consent import service as consents
from ..errors import InvalidInput
from ..extensions import db
from ..ids import redact
from ..models import AuthenticatorLockout
from ..models import Citizen
from ..models import OAuthClient
from ..models import PasswordCredential
from ..store import current_store
from .authz import Actor
from .authz import NotFound
from .authz import require
from .events import SUCCESS
from .events import admin_event
from .fields import row_id


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _citizen(actor: Actor, citizen_id: str, permission: Permission, action: str) -> Citizen:
    require(actor, permission, action=action, target=str(citizen_id)[:36])
    citizen = db.session.get(Citizen, citizen_id) if row_id(citizen_id) else None
    if citizen is None:
        raise NotFound(detail=f"citizen {str(citizen_id)[:36]}")
    return citizen


def lookup(actor: Actor, id_number: str) -> dict[str, Any]:
    """Find a citizen by ID number (any accepted form). Looking someone up is itself
    recorded (target: the row id, never the number)."""
    require(actor, Permission.CITIZENS_READ, action="citizens.lookup")
    if not isinstance(id_number, str) or not id_number.strip() or len(id_number) > 40:
        raise InvalidInput("Enter an ID number.", field="id_number")
    citizen = find_by_id_number(id_number)
    if citizen is None:
        admin_event(actor, "citizens.lookup", "-", SUCCESS, detail="no match")
        raise NotFound(detail="no citizen for the number looked up")
    admin_event(actor, "citizens.lookup", citizen.id, SUCCESS)
    return summary(citizen)


def summary(citizen: Citizen) -> dict[str, Any]:
    return {
        "id": citizen.id,
        "name": citizen.name,
        "id_type": citizen.id_type,
        "id_number_masked": redact(id_number_of(citizen)),
        "proofing": citizen.proofing,
        "locked": citizen.locked_at is not None,
        "locked_at": _iso(citizen.locked_at),
        "created_at": _iso(citizen.created_at),
    }


def _authenticator_keys(citizen: Citizen) -> list[str]:
    keys = [f"{kind}:{citizen.id}" for kind in ("password", "totp", "recovery", "sms")]
    keys += [f"webauthn:{p.id}" for p in passkeys.list_passkeys(citizen_id=citizen.id)]
    return keys


def overview(actor: Actor, citizen_id: str) -> dict[str, Any]:
    """Everything an operator needs on one page: credentials, bound devices (passkeys and
    app phones),
    blocked authenticators, live sessions and current consents."""
    citizen = _citizen(actor, citizen_id, Permission.CITIZENS_READ, "citizens.read")
    admin_event(actor, "citizens.read", citizen.id, SUCCESS)
    keys = _authenticator_keys(citizen)
    blocked = set(
        db.session.scalars(
            select(AuthenticatorLockout.authenticator).where(
                AuthenticatorLockout.authenticator.in_(keys)
            )
        )
    )
    live = sessions.list_for(current_store(), citizen.id)
    active = consents.list_active(citizen_id=citizen.id)
    names = {
        c.client_id: c.name
        for c in db.session.scalars(
            select(OAuthClient).where(OAuthClient.client_id.in_([c.client_id for c in active]))
        )
    }
    return {
        **summary(citizen),
        "credentials": {
            "password": db.session.get(PasswordCredential, citizen.id) is not None,
            "totp": totp.has_confirmed(citizen_id=citizen.id),
            "phone": bool(citizen.phone),
        },
        "devices": [
            {
                "id": p.id,
                "name": p.name,
                "kind": "passkey" if p.discoverable else "security-key",
                "synced": p.synced,
                "aaguid": p.aaguid,
                "created_at": _iso(p.created_at),
                "last_used_at": _iso(p.last_used_at),
                "disabled": p.disabled_at is not None,
            }
            for p in passkeys.list_passkeys(citizen_id=citizen.id)
        ]
        # Phones bound to the government app (issue 5), with the level they were bound at.
        + [
            {
                "id": d.id,
                "name": d.name,
                "kind": "app",
                "synced": False,
                "aaguid": None,
                "platform": d.platform,
                "bound_acr": str(d.bound_acr),
                "created_at": _iso(d.created_at),
                "last_used_at": _iso(d.last_used_at),
                "disabled": False,
            }
            for d in devices.list_devices(citizen_id=citizen.id)
        ],
        "blocked_authenticators": sorted(blocked),
        "sessions": [
            {
                "sid": s.sid,
                "channel": s.channel,
                "acr": s.acr,
                "amr": list(s.amr),
                "created_at": datetime.fromtimestamp(s.created_at, UTC).isoformat(),
                "last_seen": datetime.fromtimestamp(s.last_seen, UTC).isoformat(),
                "clients": list(s.clients),
                "user_agent": s.user_agent,
            }
            for s in live
        ],
        "consents": [
            {
                "id": c.id,
                "client_id": c.client_id,
                "client_name": names.get(c.client_id, c.client_id),
                "scopes": list(c.scopes or []),
                "granted_at": _iso(c.granted_at),
                "expires_at": _iso(c.expires_at),
            }
            for c in active
        ],
    }


def lock(actor: Actor, citizen_id: str) -> dict[str, Any]:
    """Lock the account: no sign-in on any channel, every session ended, and the
    portals' tokens refused (token, UserInfo and introspection check the lock)."""
    citizen = _citizen(actor, citizen_id, Permission.CITIZENS_MANAGE, "citizens.lock")
    if citizen.locked_at is None:
        citizen.locked_at = datetime.now(UTC)
        db.session.commit()
    ended = sessions.end_all(current_store(), citizen.id)
    admin_event(
        actor,
        "citizens.lock",
        citizen.id,
        SUCCESS,
        after={"locked": True, "sessions_ended": len(ended)},
    )
    return summary(citizen)


def unlock(actor: Actor, citizen_id: str) -> dict[str, Any]:
    citizen = _citizen(actor, citizen_id, Permission.CITIZENS_MANAGE, "citizens.unlock")
    citizen.locked_at = None
    db.session.commit()
    admin_event(actor, "citizens.unlock", citizen.id, SUCCESS, after={"locked": False})
    return summary(citizen)


def end_sessions(actor: Actor, citizen_id: str, sid: str | None = None) -> int:
    """End one session (``sid``) or all of them; returns how many ended."""
    citizen = _citizen(actor, citizen_id, Permission.CITIZENS_MANAGE, "citizens.end_sessions")
    store = current_store()
    if sid is None:
        count = len(sessions.end_all(store, citizen.id))
    else:
        found = sessions.get_by_sid(store, sid) if len(sid) <= 64 and sid.isprintable() else None
        if found is None or found.citizen_id != citizen.id:
            raise NotFound(detail="no such session for this citizen")
        sessions.end(store, found.sid, citizen.id)
        count = 1
    admin_event(actor, "citizens.end_sessions", citizen.id, SUCCESS, after={"ended": count})
    return count


def unblock(actor: Actor, citizen_id: str, authenticator: Any) -> bool:
    """Re-enable one of the citizen's authenticators disabled after too many failures
    (NIST SP 800-63B 5.2.2), after the operator checked the citizen's identity."""
    citizen = _citizen(actor, citizen_id, Permission.CITIZENS_MANAGE, "citizens.unblock")
    if not isinstance(authenticator, str):
        raise InvalidInput("authenticator must be a string.", field="authenticator")
    if authenticator not in _authenticator_keys(citizen):
        raise NotFound(detail="not an authenticator of this citizen")
    was = authenticator_limits.reenable(authenticator=authenticator)
    admin_event(
        actor, "citizens.unblock", citizen.id, SUCCESS, after={"authenticator": authenticator}
    )
    return was
