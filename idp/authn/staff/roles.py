"""Staff roles and what each may do (issue 6: "Roles enforced on every page and call").

- **administrator**: everything.
- **client manager**: the clients of their own department only (``Staff.department`` =
  ``OAuthClient.department``): list, register, edit, rotate the secret, disable, and the
  consents given to those clients.
- **auditor**: read-only over clients, citizens, consents, keys, staff and the
  authenticator models admitted to high (and, with the audit trail, its search and
  verification).
- **counter staff**: no console at all (the service-hall counter uses the account).
- **hotline agent**: no console at all; the hotline names the agent in its CIBA
  requests (``agent_id``) and tokens name them in ``act`` (``idp.authn.decoupled``).

Dangerous permissions need a fresh WebAuthn verification (``DANGEROUS``).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Role(StrEnum):
    ADMINISTRATOR = "administrator"
    CLIENT_MANAGER = "client_manager"
    AUDITOR = "auditor"
    COUNTER_STAFF = "counter_staff"
    HOTLINE_AGENT = "hotline_agent"  # may be named as agent_id in CIBA requests (issue 5)


class Permission(StrEnum):
    CLIENTS_READ = "clients:read"
    CLIENTS_WRITE = "clients:write"  # register, edit, rotate the secret
    CLIENTS_DISABLE = "clients:disable"
    CITIZENS_READ = "citizens:read"
    CITIZENS_MANAGE = "citizens:manage"  # lock, unlock, end sessions, unblock
    CONSENTS_READ = "consents:read"
    CONSENTS_REVOKE = "consents:revoke"
    KEYS_READ = "keys:read"
    KEYS_ROTATE = "keys:rotate"
    KEYS_RETIRE = "keys:retire"
    STAFF_READ = "staff:read"
    STAFF_CREATE = "staff:create"
    STAFF_ROLES = "staff:roles"
    STAFF_DISABLE = "staff:disable"
    AUDIT_READ = "audit:read"
    # The authenticator models admitted to high (idp.authn.passkeys.allowlist).
    AAGUIDS_READ = "aaguids:read"
    AAGUIDS_WRITE = "aaguids:write"


PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMINISTRATOR: frozenset(Permission),
    Role.CLIENT_MANAGER: frozenset(
        {
            Permission.CLIENTS_READ,
            Permission.CLIENTS_WRITE,
            Permission.CLIENTS_DISABLE,
            Permission.CONSENTS_READ,
            Permission.CONSENTS_REVOKE,
        }
    ),
    Role.AUDITOR: frozenset(
        {
            Permission.CLIENTS_READ,
            Permission.CITIZENS_READ,
            Permission.CONSENTS_READ,
            Permission.KEYS_READ,
            Permission.STAFF_READ,
            Permission.AUDIT_READ,
            Permission.AAGUIDS_READ,
        }
    ),
    Role.COUNTER_STAFF: frozenset(),
    Role.HOTLINE_AGENT: frozenset(),
}

# Roles whose every right is bounded by their department.
DEPARTMENT_BOUND = frozenset({Role.CLIENT_MANAGER})

# Issue 6: "dangerous actions (disable a client, retire a key, change roles) need a
# fresh verification"; disabling a staff member changes what they may do as much, and
# the models admitted to high change what every citizen's passkey sign-in is worth.
DANGEROUS = frozenset(
    {
        Permission.CLIENTS_DISABLE,
        Permission.KEYS_RETIRE,
        Permission.STAFF_ROLES,
        Permission.STAFF_DISABLE,
        Permission.AAGUIDS_WRITE,
    }
)


def parse_roles(values: Iterable[str]) -> list[Role]:
    """Known roles in a stable order; raises ValueError naming an unknown one."""
    chosen = set()
    for value in values:
        try:
            chosen.add(Role(str(value).strip()))
        except ValueError:
            raise ValueError(f"unknown role {str(value)[:40]!r}") from None
    return [r for r in Role if r in chosen]


def granted(roles: Iterable[str]) -> frozenset[Permission]:
    """Every permission the roles give together (unknown role names give none)."""
    found: set[Permission] = set()
    for name in roles:
        try:
            found |= PERMISSIONS[Role(name)]
        except ValueError:
            continue
    return frozenset(found)


def console_access(roles: Iterable[str]) -> bool:
    """Counter staff (and anyone with no other role) have no console."""
    return bool(granted(roles))
