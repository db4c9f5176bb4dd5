"""The JSON admin API: ``/admin/api/...`` (OpenAPI 3.1 at ``/admin/api/openapi.json``).

Authentication: ``Authorization: Bearer <personal admin-API token>`` (RFC 6750 section
2.1). A token is minted by its owner in the console after a fresh WebAuthn
verification, is stored only as a keyed hash, and acts with the roles its owner holds at
each call. Dangerous calls (disable a client, retire a key, change roles, disable staff,
add or remove an authenticator model) need a token created within
``IDP_ADMIN_FRESH_VERIFICATION`` seconds: its creation was the WebAuthn verification.
No cookie authenticates here, so there is no CSRF to defend.

Every route is declared with ``operation(...)``: the declaration registers the view,
checks the token, turns domain errors into RFC 9457 problems, and feeds the OpenAPI
document and the role-matrix tests (``OPERATIONS``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from flask import Blueprint
from flask import jsonify
from flask import request

from ...admin import aaguids
from ...admin import audit_view
from ...admin import citizens
from ...admin import clients
from ...admin import consents
from ...admin import keys
from ...admin import staff
from ...admin.authz import Actor
from ...admin.authz import Forbidden
from ...admin.authz import FreshVerificationRequired
from ...admin.authz import NotFound
from ...admin.events import REFUSED
from ...admin.events import AuditUnavailable
from ...admin.events import admin_event
from ...admin.fields import typed
from ...authn.staff import api_tokens
from ...authn.staff import console_access
from ...authn.staff.roles import DANGEROUS
from ...authn.staff.roles import Permission
from ...errors import IdpError
from ...errors import InvalidInput
from ..browser import client_ip
from .problems import problem

bp = Blueprint("admin_api", __name__, url_prefix="/admin/api")

MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # OpenAPI template, relative to /admin/api
    endpoint: str
    permission: Permission | None  # None: any console role (the caller's own data)
    summary: str
    body: str | None = None  # component schema name of the JSON body
    response: str | None = None  # component schema name of the 2xx body
    status: int = 200
    params: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)  # query-string parameters

    @property
    def dangerous(self) -> bool:
        return self.permission in DANGEROUS


OPERATIONS: list[Operation] = []


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _challenge(error: str | None = None) -> dict[str, str]:
    # RFC 6750 section 3: the WWW-Authenticate challenge of a protected resource.
    value = 'Bearer realm="admin"'
    if error:
        value += f', error="{error}"'
    return {"WWW-Authenticate": value}


def _actor() -> Actor | None:
    found = api_tokens.authenticate(_bearer())
    if found is None:
        return None
    member, token = found
    return Actor(
        staff_id=member.id,
        username=member.username,
        roles=tuple(member.roles or ()),
        department=member.department,
        via="api",
        verified_at=int(token.created_at.timestamp()),
        ip=client_ip(),
    )


def _body() -> Any:
    if (request.content_length or 0) > MAX_BODY:
        raise _TooLarge()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("The request body must be a JSON object.", field="body")
    return body


class _TooLarge(Exception):
    pass


def operation(
    method: str,
    path: str,
    *,
    permission: Permission | None,
    summary: str,
    body: str | None = None,
    response: str | None = None,
    status: int = 200,
    params: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(**kwargs: Any) -> Any:
            provided = _bearer()
            actor = _actor()
            if actor is None:
                if provided:
                    admin_event(None, "api", request.path[:100], REFUSED, detail="bad token")
                    return problem(
                        "unauthenticated",
                        "The token is unknown, expired or revoked.",
                        headers=_challenge("invalid_token"),
                    )
                return problem("unauthenticated", headers=_challenge())
            if not console_access(actor.roles):
                # Counter staff have no console, and so no admin API either.
                admin_event(actor, "api", request.path[:100], REFUSED, detail="no console role")
                return problem("forbidden", "Your role has no access to the admin API.")
            try:
                if body is not None:
                    kwargs["body"] = _body()
                result = view(actor, **kwargs)
            except _TooLarge:
                return problem("too-large", f"At most {MAX_BODY} bytes.")
            except InvalidInput as exc:
                return problem("invalid-input", exc.public, field=exc.field)
            except FreshVerificationRequired:
                return problem(
                    "fresh-verification-required",
                    "Create a new API token (it needs a security-key verification); "
                    "dangerous calls accept tokens created in the last "
                    "IDP_ADMIN_FRESH_VERIFICATION seconds.",
                )
            except Forbidden as exc:
                return problem("forbidden", exc.public)
            except NotFound as exc:
                return problem("not-found", exc.public)
            except AuditUnavailable as exc:
                return problem("audit-unavailable", exc.public)
            except IdpError as exc:
                return problem("invalid-input", exc.public)
            return jsonify(result), status

        bp.add_url_rule(
            path.replace("{", "<").replace("}", ">"),
            view.__name__,
            wrapper,
            methods=[method],
        )
        OPERATIONS.append(
            Operation(
                method=method,
                path=path,
                endpoint=f"admin_api.{view.__name__}",
                permission=permission,
                summary=summary,
                body=body,
                response=response,
                status=status,
                params=dict(params or {}),
                query=dict(query or {}),
            )
        )
        return wrapper

    return decorate


_CLIENT = {"client_id": "The client's id"}
_CITIZEN = {"citizen_id": "The citizen's record id (never the ID number)"}
_STAFF = {"staff_id": "The staff member's id"}


# --- who am I -----------------------------------------------------------------------------


@operation("GET", "/me", permission=None, summary="The token's owner and roles", response="Me")
def me(actor: Actor) -> Any:
    return {
        "id": actor.staff_id,
        "username": actor.username,
        "roles": list(actor.roles),
        "department": actor.department,
        "permissions": sorted(str(p) for p in Permission if actor.can(p)),
    }


# --- clients -------------------------------------------------------------------------------


@operation(
    "GET",
    "/clients",
    permission=Permission.CLIENTS_READ,
    summary="List clients",
    response="ClientList",
)
def list_clients(actor: Actor) -> Any:
    return {"clients": clients.list_clients(actor)}


@operation(
    "POST",
    "/clients",
    permission=Permission.CLIENTS_WRITE,
    summary="Register a client (the secret is in the answer, once)",
    body="ClientCreate",
    response="ClientWithSecret",
    status=201,
)
def create_client(actor: Actor, body: Any) -> Any:
    client, secret = clients.create_client(actor, body)
    return {"client": client, "client_secret": secret}


@operation(
    "GET",
    "/clients/{client_id}",
    permission=Permission.CLIENTS_READ,
    summary="One client",
    response="Client",
    params=_CLIENT,
)
def get_client(actor: Actor, client_id: str) -> Any:
    return clients.get_client(actor, client_id)


@operation(
    "PATCH",
    "/clients/{client_id}",
    permission=Permission.CLIENTS_WRITE,
    summary="Edit a client (only the fields given)",
    body="ClientUpdate",
    response="ClientWithSecret",
    params=_CLIENT,
)
def update_client(actor: Actor, client_id: str, body: Any) -> Any:
    client, secret = clients.update_client(actor, client_id, body)
    return {"client": client, "client_secret": secret}


@operation(
    "POST",
    "/clients/{client_id}/secret",
    permission=Permission.CLIENTS_WRITE,
    summary="Rotate the client secret (the old one stops working at once)",
    response="Secret",
    params=_CLIENT,
)
def rotate_secret(actor: Actor, client_id: str) -> Any:
    return {"client_id": client_id, "client_secret": clients.rotate_secret(actor, client_id)}


@operation(
    "POST",
    "/clients/{client_id}/disable",
    permission=Permission.CLIENTS_DISABLE,
    summary="Disable a client and revoke its tokens (dangerous)",
    response="Client",
    params=_CLIENT,
)
def disable_client(actor: Actor, client_id: str) -> Any:
    return clients.disable_client(actor, client_id)


@operation(
    "POST",
    "/clients/{client_id}/enable",
    permission=Permission.CLIENTS_DISABLE,
    summary="Enable a disabled client (dangerous)",
    response="Client",
    params=_CLIENT,
)
def enable_client(actor: Actor, client_id: str) -> Any:
    return clients.enable_client(actor, client_id)


@operation(
    "GET",
    "/clients/{client_id}/consents",
    permission=Permission.CONSENTS_READ,
    summary="Current consents given to a client",
    response="ConsentList",
    params=_CLIENT,
)
def client_consents(actor: Actor, client_id: str) -> Any:
    return {"consents": consents.by_client(actor, client_id)}


# --- citizens ------------------------------------------------------------------------------


@operation(
    "POST",
    "/citizens/lookup",
    permission=Permission.CITIZENS_READ,
    summary="Find a citizen by ID number (in the body, never in a URL)",
    body="Lookup",
    response="CitizenSummary",
)
def lookup_citizen(actor: Actor, body: Any) -> Any:
    return citizens.lookup(actor, body.get("id_number"))


@operation(
    "GET",
    "/citizens/{citizen_id}",
    permission=Permission.CITIZENS_READ,
    summary="A citizen's credentials, devices, blocked authenticators, sessions and consents",
    response="Citizen",
    params=_CITIZEN,
)
def get_citizen(actor: Actor, citizen_id: str) -> Any:
    return citizens.overview(actor, citizen_id)


@operation(
    "POST",
    "/citizens/{citizen_id}/lock",
    permission=Permission.CITIZENS_MANAGE,
    summary="Lock the account and end its sessions",
    response="CitizenSummary",
    params=_CITIZEN,
)
def lock_citizen(actor: Actor, citizen_id: str) -> Any:
    return citizens.lock(actor, citizen_id)


@operation(
    "POST",
    "/citizens/{citizen_id}/unlock",
    permission=Permission.CITIZENS_MANAGE,
    summary="Unlock the account",
    response="CitizenSummary",
    params=_CITIZEN,
)
def unlock_citizen(actor: Actor, citizen_id: str) -> Any:
    return citizens.unlock(actor, citizen_id)


@operation(
    "POST",
    "/citizens/{citizen_id}/sessions/end",
    permission=Permission.CITIZENS_MANAGE,
    summary="End one session (sid) or all of them",
    body="EndSessions",
    response="Ended",
    params=_CITIZEN,
)
def end_sessions(actor: Actor, citizen_id: str, body: Any) -> Any:
    sid = body.get("sid")
    if sid is not None and not isinstance(sid, str):
        raise InvalidInput("sid must be a string.", field="sid")
    return {"ended": citizens.end_sessions(actor, citizen_id, sid)}


@operation(
    "POST",
    "/citizens/{citizen_id}/authenticators/unblock",
    permission=Permission.CITIZENS_MANAGE,
    summary="Re-enable an authenticator blocked after too many failures",
    body="Unblock",
    response="Unblocked",
    params=_CITIZEN,
)
def unblock(actor: Actor, citizen_id: str, body: Any) -> Any:
    return {"was_blocked": citizens.unblock(actor, citizen_id, body.get("authenticator"))}


@operation(
    "GET",
    "/citizens/{citizen_id}/consents",
    permission=Permission.CONSENTS_READ,
    summary="A citizen's current consents",
    response="ConsentList",
    params=_CITIZEN,
)
def citizen_consents(actor: Actor, citizen_id: str) -> Any:
    return {"consents": consents.by_citizen(actor, citizen_id)}


@operation(
    "POST",
    "/consents/revoke",
    permission=Permission.CONSENTS_REVOKE,
    summary="Revoke a citizen's consent to a client (its tokens stop working)",
    body="Revoke",
    response="Revoked",
)
def revoke_consent(actor: Actor, body: Any) -> Any:
    return {
        "revoked": consents.revoke(
            actor, citizen_id=body.get("citizen_id"), client_id=body.get("client_id")
        )
    }


# --- keys ----------------------------------------------------------------------------------


@operation(
    "GET", "/keys", permission=Permission.KEYS_READ, summary="Signing keys", response="KeyList"
)
def list_keys(actor: Actor) -> Any:
    return {"keys": keys.list_keys(actor)}


@operation(
    "POST",
    "/keys/rotate",
    permission=Permission.KEYS_ROTATE,
    summary="Publish successors (signing after the propagation delay, or at once)",
    body="Rotate",
    response="Rotated",
)
def rotate_keys(actor: Actor, body: Any) -> Any:
    algs, immediate = body.get("algs"), body.get("immediate", False)
    if algs is not None and (
        not isinstance(algs, list) or not all(isinstance(a, str) for a in algs)
    ):
        raise InvalidInput("algs must be a list of ES256 / RS256.", field="algs")
    if not isinstance(immediate, bool):
        raise InvalidInput("immediate must be true or false.", field="immediate")
    return {"kids": keys.rotate(actor, algs=algs, immediate=immediate)}


@operation(
    "POST",
    "/keys/{kid}/retire",
    permission=Permission.KEYS_RETIRE,
    summary="Retire a key (dangerous): stops signing; leaves the JWKS after the grace or at once",
    body="Retire",
    response="Retired",
    params={"kid": "The key id"},
)
def retire_key(actor: Actor, kid: str, body: Any) -> Any:
    immediate = body.get("immediate", False)
    if not isinstance(immediate, bool):
        raise InvalidInput("immediate must be true or false.", field="immediate")
    return keys.retire(actor, kid, immediate=immediate)


# --- authenticator models admitted to high -----------------------------------------------


@operation(
    "GET",
    "/aaguids",
    permission=Permission.AAGUIDS_READ,
    summary="Authenticator models admitted to high (table and setting), recent removals",
    response="AaguidList",
)
def list_aaguids(actor: Actor) -> Any:
    return aaguids.overview(actor)


@operation(
    "POST",
    "/aaguids",
    permission=Permission.AAGUIDS_WRITE,
    summary="Admit an authenticator model to high (dangerous)",
    body="AaguidAdd",
    response="Aaguid",
    status=201,
)
def add_aaguid(actor: Actor, body: Any) -> Any:
    fields = typed(body, {"aaguid": (str,), "label": (str,)})
    return aaguids.add(actor, aaguid=fields.get("aaguid"), label=fields.get("label"))


@operation(
    "POST",
    "/aaguids/remove",
    permission=Permission.AAGUIDS_WRITE,
    summary="Take a model off the table (dangerous; open_to_any to remove the last one)",
    body="AaguidRemove",
    response="Aaguid",
)
def remove_aaguid(actor: Actor, body: Any) -> Any:
    fields = typed(body, {"aaguid": (str,), "open_to_any": (bool,)})
    return aaguids.remove(
        actor, aaguid=fields.get("aaguid"), open_to_any=fields.get("open_to_any", False)
    )


# --- staff ---------------------------------------------------------------------------------


@operation(
    "GET", "/staff", permission=Permission.STAFF_READ, summary="Staff members", response="StaffList"
)
def list_staff(actor: Actor) -> Any:
    return {"staff": staff.list_staff(actor)}


@operation(
    "POST",
    "/staff",
    permission=Permission.STAFF_CREATE,
    summary="Create a staff member (the one-time enrolment code is in the answer, once)",
    body="StaffCreate",
    response="StaffWithCode",
    status=201,
)
def create_staff(actor: Actor, body: Any) -> Any:
    member, code = staff.create_staff(actor, body)
    return {"staff": member, "enrolment_code": code}


@operation(
    "GET",
    "/staff/{staff_id}",
    permission=Permission.STAFF_READ,
    summary="One staff member",
    response="StaffMember",
    params=_STAFF,
)
def get_staff(actor: Actor, staff_id: str) -> Any:
    return staff.get_staff(actor, staff_id)


@operation(
    "PUT",
    "/staff/{staff_id}/roles",
    permission=Permission.STAFF_ROLES,
    summary="Set roles (and department) (dangerous)",
    body="Roles",
    response="StaffMember",
    params=_STAFF,
)
def set_roles(actor: Actor, staff_id: str, body: Any) -> Any:
    if "department" in body:
        return staff.set_roles(actor, staff_id, body.get("roles"), body.get("department"))
    return staff.set_roles(actor, staff_id, body.get("roles"))


@operation(
    "POST",
    "/staff/{staff_id}/disable",
    permission=Permission.STAFF_DISABLE,
    summary="Disable a staff member (dangerous)",
    response="StaffMember",
    params=_STAFF,
)
def disable_staff(actor: Actor, staff_id: str) -> Any:
    return staff.disable(actor, staff_id)


@operation(
    "POST",
    "/staff/{staff_id}/enable",
    permission=Permission.STAFF_DISABLE,
    summary="Enable a staff member (dangerous)",
    response="StaffMember",
    params=_STAFF,
)
def enable_staff(actor: Actor, staff_id: str) -> Any:
    return staff.enable(actor, staff_id)


@operation(
    "POST",
    "/staff/{staff_id}/enrolment-code",
    permission=Permission.STAFF_CREATE,
    summary="A new one-time enrolment code (e.g. a lost security key)",
    response="EnrolmentCode",
    params=_STAFF,
)
def enrolment_code(actor: Actor, staff_id: str) -> Any:
    return {"staff_id": staff_id, "enrolment_code": staff.new_enrolment_code(actor, staff_id)}


# --- the document and unknown paths ---------------------------------------------------------


# --- the audit trail -------------------------------------------------------------------------

_AUDIT_QUERY = {
    "citizen_id": "A citizen's record id (by ID number: POST /audit/search)",
    "client_id": "A client id",
    "actor_id": "Who acted: a staff id, a client id, a citizen's record id",
    "staff": "Who acted: a staff member's username",
    "event": "Event types, comma-separated; one ending in a dot is a prefix (login.)",
    "outcome": "success, failure or refused",
    "since": "From this time on (ISO 8601; no offset means UTC)",
    "until": "Before this time (ISO 8601)",
    "before_seq": "Records numbered below this (the previous page's next_before_seq)",
    "limit": f"Records per page, 1 to {audit_view.MAX_PAGE_SIZE} (default {audit_view.PAGE_SIZE})",
}


@operation(
    "GET",
    "/audit",
    permission=Permission.AUDIT_READ,
    summary="Search the audit trail, newest first (no ID number here: it would be in the URL)",
    response="AuditPage",
    query=_AUDIT_QUERY,
)
def audit_search(actor: Actor) -> Any:
    args = {k: request.args.get(k) for k in request.args}
    return audit_view.search(actor, args, in_url=True)


@operation(
    "POST",
    "/audit/search",
    permission=Permission.AUDIT_READ,
    summary="Search the audit trail with the filters in the body (the ID-number filter)",
    body="AuditSearch",
    response="AuditPage",
)
def audit_search_body(actor: Actor, body: Any) -> Any:
    return audit_view.search(actor, body)


@operation(
    "GET",
    "/audit/verify",
    permission=Permission.AUDIT_READ,
    summary="Verify the hash chain and its signed checkpoints (read-only)",
    response="AuditVerification",
)
def audit_verify(actor: Actor) -> Any:
    return audit_view.verify(actor)


@bp.get("/openapi.json")
def openapi_document() -> Any:
    from .openapi import document

    return jsonify(document())


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(rest: str) -> Any:
    """Anything else under /admin/api: 405 with ``Allow`` for a known path (RFC 9110
    15.5.6), else 404; both as problem details."""
    path = "/" + rest
    allowed = sorted(
        op.method
        for op in OPERATIONS
        # Operation paths are letters, "/", "-" and {params}: no other regex syntax.
        if re.fullmatch(re.sub(r"\{\w+\}", "[^/]+", op.path), path)
    )
    if allowed:
        return problem("method-not-allowed", headers={"Allow": ", ".join(allowed)})
    return problem("not-found", "No such admin API call; see /admin/api/openapi.json.")
