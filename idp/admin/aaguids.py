"""The authenticator models admitted to high, as operators manage them: list, add,
remove (``idp.authn.passkeys.allowlist``).

Adding or removing a model changes the level of every citizen's passkey sign-in with it,
so both need the ``aaguids:write`` permission with a fresh verification
(``roles.DANGEROUS``) and each is an admin event with the row before and after.
Entries that come from ``IDP_WEBAUTHN_HIGH_AAGUIDS`` are listed, not removable here.
"""

from __future__ import annotations

from typing import Any

from ..authn.passkeys import allowlist
from ..authn.staff.roles import Permission
from .authz import Actor
from .authz import NotFound
from .authz import require
from .events import SUCCESS
from .events import admin_event


def overview(actor: Actor) -> dict[str, Any]:
    """The effective list (table and setting) and the recent removals."""
    require(actor, Permission.AAGUIDS_READ, action="aaguids.list")
    return {
        "models": [m.as_dict() for m in allowlist.listed()],
        "removed": [m.as_dict() for m in allowlist.removed()],
    }


def add(actor: Actor, *, aaguid: object, label: object) -> dict[str, Any]:
    """Raises InvalidInput (``field`` names the bad one; AlreadyListed for a duplicate)."""
    require(actor, Permission.AAGUIDS_WRITE, action="aaguids.add")
    added = allowlist.add(aaguid=aaguid, label=label, by=actor.username).as_dict()
    admin_event(actor, "aaguids.add", added["aaguid"], SUCCESS, after=added)
    return added


def remove(actor: Actor, *, aaguid: object, open_to_any: bool = False) -> dict[str, Any]:
    """Raises NotFound (not on the table), InvalidInput, LastModelRequired."""
    require(actor, Permission.AAGUIDS_WRITE, action="aaguids.remove")
    try:
        gone = allowlist.remove(aaguid=aaguid, by=actor.username, open_to_any=open_to_any)
    except LookupError:
        raise NotFound(detail="aaguid not on the table") from None
    after = gone.as_dict()
    before = {**after, "removed_by": None, "removed_at": None}
    admin_event(actor, "aaguids.remove", gone.aaguid, SUCCESS, before=before, after=after)
    return after
