"""Staff and administrators: create (with a one-time enrolment code), assign roles,
disable, enable, new enrolment code; and each member's own API tokens.

Safeguards: nobody changes their own roles or disables themselves, and the last
enabled administrator cannot be demoted or disabled (the console would have no one
left to run it).
"""

from __future__ import annotations

from typing import Any

from ..authn.staff import accounts
from ..authn.staff import api_tokens
from ..authn.staff import console_session
from ..authn.staff.roles import Permission
from ..authn.staff.roles import Role
from ..errors import InvalidInput
from ..models import Staff
from ..store import current_store
from .authz import Actor
from .authz import Forbidden
from .authz import FreshVerificationRequired
from .authz import NotFound
from .authz import require
from .events import REFUSED
from .events import SUCCESS
from .events import admin_event
from .fields import required
from .fields import typed

CREATE_FIELDS: dict[str, tuple[type, ...]] = {
    "username": (str,),
    "display_name": (str,),
    "department": (str, type(None)),
    "roles": (list,),
}


def _member(actor: Actor, staff_id: str, permission: Permission, action: str) -> Staff:
    require(actor, permission, action=action, target=str(staff_id)[:36])
    member = accounts.get(staff_id)
    if member is None:
        raise NotFound(detail="unknown staff member")
    return member


def _refuse(actor: Actor, action: str, target: str, why: str) -> None:
    admin_event(actor, action, target, REFUSED, detail=why)
    raise InvalidInput(why, field="roles")


def _other_admins(member: Staff) -> int:
    return sum(
        1
        for s in accounts.list_staff()
        if s.id != member.id and s.disabled_at is None and Role.ADMINISTRATOR in (s.roles or [])
    )


def list_staff(actor: Actor) -> list[dict[str, Any]]:
    require(actor, Permission.STAFF_READ, action="staff.list")
    return [accounts.view(s) for s in accounts.list_staff()]


def get_staff(actor: Actor, staff_id: str) -> dict[str, Any]:
    member = _member(actor, staff_id, Permission.STAFF_READ, "staff.read")
    view = accounts.view(member)
    view["credentials"] = [
        {
            "id": c.id,
            "name": c.name,
            "created_at": c.created_at.isoformat(),
            "disabled": c.disabled_at is not None,
        }
        for c in accounts.credentials(member.id)
    ]
    return view


def create_staff(actor: Actor, data: Any) -> tuple[dict[str, Any], str]:
    require(actor, Permission.STAFF_CREATE, action="staff.create")
    fields = typed(data, CREATE_FIELDS)
    required(fields, "username", "display_name", "roles")
    member, code = accounts.create_staff(**fields)
    after = accounts.view(member)
    admin_event(actor, "staff.create", member.id, SUCCESS, after=after)
    return after, code


def set_roles(actor: Actor, staff_id: str, roles: Any, department: Any = ...) -> dict[str, Any]:
    member = _member(actor, staff_id, Permission.STAFF_ROLES, "staff.roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidInput("roles must be a list of role names.", field="roles")
    if member.id == actor.staff_id:
        _refuse(actor, "staff.roles", member.id, "You cannot change your own roles.")
    if (
        Role.ADMINISTRATOR in (member.roles or [])
        and Role.ADMINISTRATOR not in roles
        and _other_admins(member) == 0
    ):
        _refuse(actor, "staff.roles", member.id, "The last administrator keeps the role.")
    before = accounts.view(member)
    accounts.set_roles(member, roles)
    if department is not ...:
        if department is not None and not isinstance(department, str):
            raise InvalidInput("department must be a string.", field="department")
        accounts.set_department(member, department)
    after = accounts.view(member)
    admin_event(actor, "staff.roles", member.id, SUCCESS, before=before, after=after)
    return after


def disable(actor: Actor, staff_id: str) -> dict[str, Any]:
    member = _member(actor, staff_id, Permission.STAFF_DISABLE, "staff.disable")
    if member.id == actor.staff_id:
        _refuse(actor, "staff.disable", member.id, "You cannot disable your own account.")
    if Role.ADMINISTRATOR in (member.roles or []) and _other_admins(member) == 0:
        _refuse(actor, "staff.disable", member.id, "The last administrator cannot be disabled.")
    accounts.disable(member)
    ended = console_session.end_all(current_store(), member.id)
    after = accounts.view(member)
    admin_event(
        actor, "staff.disable", member.id, SUCCESS, after={**after, "sessions_ended": ended}
    )
    return after


def enable(actor: Actor, staff_id: str) -> dict[str, Any]:
    member = _member(actor, staff_id, Permission.STAFF_DISABLE, "staff.enable")
    accounts.enable(member)
    after = accounts.view(member)
    admin_event(actor, "staff.enable", member.id, SUCCESS, after=after)
    return after


def new_enrolment_code(actor: Actor, staff_id: str) -> str:
    """A fresh one-time code, e.g. for a member who lost their security key."""
    member = _member(actor, staff_id, Permission.STAFF_CREATE, "staff.enrolment_code")
    code = accounts.new_enrolment_code(member)
    admin_event(actor, "staff.enrolment_code", member.id, SUCCESS)
    return code


# --- the actor's own API tokens (console only) ------------------------------------------


def issue_token(actor: Actor, *, name: Any, days: Any = None) -> tuple[dict[str, Any], str]:
    """A personal API token; minting one is a dangerous act (it outlives the session)."""
    if not actor.fresh():
        admin_event(
            actor, "tokens.create", actor.staff_id, REFUSED, detail="fresh verification required"
        )
        raise FreshVerificationRequired()
    member = accounts.get(actor.staff_id)
    if member is None:
        raise Forbidden()
    if days not in (None, "") and not (isinstance(days, int) or str(days).isdigit()):
        raise InvalidInput("days must be a whole number.", field="days")
    row, token = api_tokens.issue(
        staff=member, name=str(name or ""), days=int(days) if days not in (None, "") else None
    )
    view = token_view(row)
    admin_event(actor, "tokens.create", row.id, SUCCESS, after=view)
    return view, token


def token_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "created_at": row.created_at.isoformat(),
        "expires_at": row.expires_at.isoformat(),
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
        "revoked": row.revoked_at is not None,
    }


def list_tokens(actor: Actor) -> list[dict[str, Any]]:
    return [token_view(r) for r in api_tokens.list_for(actor.staff_id)]


def revoke_token(actor: Actor, token_id: str) -> None:
    if not api_tokens.revoke(staff_id=actor.staff_id, token_id=token_id):
        raise NotFound(detail="not a token of this member")
    admin_event(actor, "tokens.revoke", token_id, SUCCESS)
