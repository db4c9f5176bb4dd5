"""Who is acting, and whether they may: the role checks behind every page and call.

Issue 6: "A request outside the role is refused and audited." ``require`` raises
``Forbidden`` (and records the refusal) when the actor lacks the permission, when a
client manager reaches outside their department, and ``FreshVerificationRequired`` when
a dangerous permission (``roles.DANGEROUS``) comes without a WebAuthn verification in
the last ``IDP_ADMIN_FRESH_VERIFICATION`` seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from flask import current_app

from ..authn.staff.roles import DANGEROUS
from ..authn.staff.roles import DEPARTMENT_BOUND
from ..authn.staff.roles import PERMISSIONS
from ..authn.staff.roles import Permission
from ..authn.staff.roles import Role
from ..errors import IdpError
from .events import REFUSED
from .events import admin_event


class Forbidden(IdpError):
    public = "Your role does not allow this."


class FreshVerificationRequired(IdpError):
    public = "Confirm it is you with your security key, then try again."


class NotFound(IdpError):
    public = "Not found."


@dataclass(frozen=True)
class Actor:
    staff_id: str
    username: str
    roles: tuple[str, ...]
    department: str | None
    via: str  # "console" or "api"
    verified_at: int  # last WebAuthn assertion (console) or the token's creation (API)
    ip: str = ""

    def _roles(self) -> list[Role]:
        found = []
        for name in self.roles:
            try:
                found.append(Role(name))
            except ValueError:
                continue
        return found

    def unbounded(self) -> frozenset[Permission]:
        perms: set[Permission] = set()
        for role in self._roles():
            if role not in DEPARTMENT_BOUND:
                perms |= PERMISSIONS[role]
        return frozenset(perms)

    def bounded(self) -> frozenset[Permission]:
        perms: set[Permission] = set()
        for role in self._roles():
            if role in DEPARTMENT_BOUND:
                perms |= PERMISSIONS[role]
        return frozenset(perms)

    def can(self, permission: Permission) -> bool:
        """Holds the permission for some target (a page may be shown)."""
        return permission in self.unbounded() or permission in self.bounded()

    def department_only(self, permission: Permission) -> bool:
        """Holds it only within their own department (lists are filtered)."""
        return permission not in self.unbounded() and permission in self.bounded()

    def can_for(self, permission: Permission, department: str | None) -> bool:
        if permission in self.unbounded():
            return True
        return (
            permission in self.bounded()
            and self.department is not None
            and department is not None
            and department == self.department
        )

    def fresh(self) -> bool:
        within = int(current_app.config["IDP_ADMIN_FRESH_VERIFICATION"])
        return int(time.time()) - self.verified_at <= within


_ANY = object()


def require(
    actor: Actor,
    permission: Permission,
    *,
    action: str,
    target: str = "",
    department: str | None | object = _ANY,
) -> None:
    """Refuse (and audit the refusal) unless ``actor`` may do ``permission`` on a target
    of ``department`` (left out: on some target, e.g. a list filtered afterwards)."""
    allowed = (
        actor.can(permission) if department is _ANY else actor.can_for(permission, department)  # type: ignore[arg-type]
    )
    if not allowed:
        admin_event(actor, action, target, REFUSED, detail=f"role lacks {permission}")
        raise Forbidden(detail=f"{actor.username} lacks {permission} on {target or '-'}")
    if permission in DANGEROUS and not actor.fresh():
        admin_event(actor, action, target, REFUSED, detail="fresh verification required")
        raise FreshVerificationRequired(detail=f"{actor.username}: verification too old")
