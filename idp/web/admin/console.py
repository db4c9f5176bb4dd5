"""The console's pages (server-rendered, no JavaScript except WebAuthn): clients,
citizens, consents, keys, staff, the authenticator models admitted to high, and the
member's own API tokens.

Every page is declared with ``page(...)``: signed in with console access, else to the
sign-in page; the role check itself is in the ``idp.admin`` service each view calls
(the same one the API calls), so a refusal is audited once, the same way for both.
Dangerous actions without a fresh verification go to ``/admin/verify`` and come back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

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
from ...admin.authz import require
from ...admin.events import AuditUnavailable
from ...authn.staff.roles import Permission
from ...authn.staff.roles import Role
from ...errors import IdpError
from ...errors import InvalidInput
from ...oauth import clients as registry
from ...oauth.claims import SUPPORTED_SCOPES
from .session import console_page

bp = Blueprint("admin", __name__, url_prefix="/admin")


@dataclass(frozen=True)
class Page:
    rule: str
    methods: tuple[str, ...]
    endpoint: str
    permission: Permission | None  # what the GET (or the only method) needs
    post: Permission | None  # what a POST needs, on pages that have both

    def needs(self, method: str) -> Permission | None:
        return self.post if method == "POST" and "GET" in self.methods else self.permission


PAGES: list[Page] = []


def page(
    rule: str,
    *,
    permission: Permission | None,
    methods: tuple[str, ...] = ("GET",),
    post: Permission | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        guarded = console_page(_mapped(view))
        bp.add_url_rule(rule, view.__name__, guarded, methods=list(methods))
        PAGES.append(Page(rule, methods, f"admin.{view.__name__}", permission, post or permission))
        return guarded

    return decorate


def _mapped(view: Callable[..., Any]) -> Callable[..., Any]:
    """Domain refusals to pages: 403, 404, or to re-verification and back."""

    def wrapper(actor: Actor, *args: Any, **kwargs: Any) -> Any:
        try:
            return view(actor, *args, **kwargs)
        except FreshVerificationRequired:
            flash(_("This action needs a fresh check with your security key."))
            back = request.referrer or ""
            path = back.split(request.host, 1)[-1] if request.host in back else ""
            return redirect(url_for("admin_auth.verify", next=path or None), 303)
        except Forbidden:
            return _error(actor, _("Your role does not allow this."), 403)
        except NotFound:
            return _error(actor, _("Not found."), 404)
        except AuditUnavailable as exc:
            return _error(actor, _(exc.public), 503)
        except IdpError as exc:
            return _error(actor, _(exc.public), 400)

    wrapper.__name__ = view.__name__
    return wrapper


def _error(actor: Actor, message: str, status: int) -> tuple[str, int]:
    page = render_template(
        "admin/error.html", actor=actor, P=Permission, message=message, status=status
    )
    return page, status


def _render(template: str, actor: Actor, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(template, actor=actor, P=Permission, **context), status


# --- home ------------------------------------------------------------------------------------


@page("/", permission=None)
def home(actor: Actor) -> Any:
    return _render("admin/home.html", actor)


# --- clients ---------------------------------------------------------------------------------


def _lines(value: str | None) -> list[str]:
    return [line.strip() for line in (value or "").splitlines() if line.strip()]


def _json_field(form: MultiDict[str, str], name: str) -> Any:
    text = (form.get(name) or "").strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise InvalidInput(_("%(field)s is not valid JSON.", field=name), field=name) from None


def _int_field(form: MultiDict[str, str], name: str) -> int | None:
    text = (form.get(name) or "").strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 9:
        raise InvalidInput(_("%(field)s must be a whole number.", field=name), field=name)
    return int(text)


def _client_form(actor: Actor, form: MultiDict[str, str], *, creating: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": form.get("name", ""),
        "department": form.get("department") or None,
        "logo_uri": form.get("logo_uri") or None,
        "redirect_uris": _lines(form.get("redirect_uris")),
        "post_logout_redirect_uris": _lines(form.get("post_logout_redirect_uris")),
        "auth_method": form.get("auth_method", "client_secret_basic"),
        "scope": form.get("scope", ""),
        "first_party": form.get("first_party") == "on",
        "id_token_alg": form.get("id_token_alg") or None,
        "default_acr": form.get("default_acr") or None,
        "minimum_acr": form.get("minimum_acr") or None,
        "scope_policy": _json_field(form, "scope_policy"),
        "access_token_format": form.get("access_token_format", "opaque"),
        "access_token_ttl": _int_field(form, "access_token_ttl"),
        "refresh_token_ttl": _int_field(form, "refresh_token_ttl"),
    }
    if "grant_types_shown" in form:
        # Unticked boxes are not posted: the marker tells "none ticked" from "not shown".
        data["grant_types"] = form.getlist("grant_types")
    for name in registry.CIBA_FIELDS:
        if name in form:
            data[name] = (form.get(name) or "").strip() or None
    for channel in ("backchannel", "frontchannel"):
        uri_field = f"{channel}_logout_uri"
        if uri_field in form:
            # The URI's text box is always posted: it marks the unticked box as "no".
            data[uri_field] = (form.get(uri_field) or "").strip() or None
            required_field = f"{channel}_logout_session_required"
            data[required_field] = form.get(required_field) == "on"
    if actor.department_only(Permission.CLIENTS_WRITE):
        data["department"] = actor.department  # the field is read-only for them
    jwks = _json_field(form, "jwks")
    if jwks is not None or creating:
        data["jwks"] = jwks
    if creating:
        data["sector_identifier"] = form.get("sector_identifier") or None
    elif data["id_token_alg"] is None:
        data.pop("id_token_alg")
    return data


def _grant_labels() -> list[tuple[str, str]]:
    return [
        ("authorization_code", _("Citizens sign in through the browser (authorization code)")),
        ("client_credentials", _("A department's back office with service scopes")),
        (registry.CIBA_GRANT_TYPE, _("The hotline signs callers in (CIBA)")),
    ]


def _client_context() -> dict[str, Any]:
    return {
        "grant_types": _grant_labels(),
        "ciba_modes": registry.CIBA_MODES,
        "auth_methods": registry.AUTH_METHODS,
        "algs": registry.ID_TOKEN_ALGS,
        "scopes": SUPPORTED_SCOPES,
        "levels": ["low", "substantial", "high"],
    }


@page("/clients", permission=Permission.CLIENTS_READ)
def client_list(actor: Actor) -> Any:
    return _render("admin/clients.html", actor, clients=clients.list_clients(actor))


@page("/clients/new", permission=Permission.CLIENTS_WRITE, methods=("GET", "POST"))
def client_new(actor: Actor) -> Any:
    if request.method == "GET":
        require(actor, Permission.CLIENTS_WRITE, action="clients.create")
        return _render("admin/client_form.html", actor, client=None, form={}, **_client_context())
    try:
        created, secret = clients.create_client(
            actor, _client_form(actor, request.form, creating=True)
        )
    except InvalidInput as exc:
        return _render(
            "admin/client_form.html",
            actor,
            400,
            client=None,
            form=request.form,
            error=_(exc.public),
            field=exc.field,
            **_client_context(),
        )
    return _render("admin/secret.html", actor, client=created, secret=secret)


@page(
    "/clients/<client_id>",
    permission=Permission.CLIENTS_READ,
    methods=("GET", "POST"),
    post=Permission.CLIENTS_WRITE,
)
def client_detail(actor: Actor, client_id: str) -> Any:
    if request.method == "GET":
        found = clients.get_client(actor, client_id)
        return _render("admin/client_form.html", actor, client=found, form={}, **_client_context())
    try:
        updated, secret = clients.update_client(
            actor, client_id, _client_form(actor, request.form, creating=False)
        )
    except InvalidInput as exc:
        found = clients.get_client(actor, client_id)
        return _render(
            "admin/client_form.html",
            actor,
            400,
            client=found,
            form=request.form,
            error=_(exc.public),
            field=exc.field,
            **_client_context(),
        )
    if secret:
        return _render("admin/secret.html", actor, client=updated, secret=secret)
    flash(_("Saved."))
    return redirect(url_for("admin.client_detail", client_id=client_id), 303)


@page("/clients/<client_id>/secret", permission=Permission.CLIENTS_WRITE, methods=("POST",))
def client_secret(actor: Actor, client_id: str) -> Any:
    try:
        secret = clients.rotate_secret(actor, client_id)
    except InvalidInput as exc:
        flash(_(exc.public))
        return redirect(url_for("admin.client_detail", client_id=client_id), 303)
    return _render(
        "admin/secret.html", actor, client=clients.get_client(actor, client_id), secret=secret
    )


@page("/clients/<client_id>/disable", permission=Permission.CLIENTS_DISABLE, methods=("POST",))
def client_disable(actor: Actor, client_id: str) -> Any:
    clients.disable_client(actor, client_id)
    flash(_("The client is disabled and its tokens are revoked."))
    return redirect(url_for("admin.client_detail", client_id=client_id), 303)


@page("/clients/<client_id>/enable", permission=Permission.CLIENTS_DISABLE, methods=("POST",))
def client_enable(actor: Actor, client_id: str) -> Any:
    clients.enable_client(actor, client_id)
    flash(_("The client is enabled."))
    return redirect(url_for("admin.client_detail", client_id=client_id), 303)


# --- citizens --------------------------------------------------------------------------------


@page("/citizens", permission=Permission.CITIZENS_READ, methods=("GET", "POST"))
def citizen_search(actor: Actor) -> Any:
    if request.method == "GET":
        require(actor, Permission.CITIZENS_READ, action="citizens.search")
        return _render("admin/citizen_search.html", actor)
    try:
        found = citizens.lookup(actor, str(request.form.get("id_number") or "")[:40])
    except InvalidInput as exc:
        return _render("admin/citizen_search.html", actor, 400, error=_(exc.public))
    except NotFound:
        return _render(
            "admin/citizen_search.html", actor, 404, error=_("No citizen has this ID number.")
        )
    return redirect(url_for("admin.citizen_detail", citizen_id=found["id"]), 303)


@page("/citizens/<citizen_id>", permission=Permission.CITIZENS_READ)
def citizen_detail(actor: Actor, citizen_id: str) -> Any:
    return _render("admin/citizen.html", actor, citizen=citizens.overview(actor, citizen_id))


@page("/citizens/<citizen_id>/lock", permission=Permission.CITIZENS_MANAGE, methods=("POST",))
def citizen_lock(actor: Actor, citizen_id: str) -> Any:
    citizens.lock(actor, citizen_id)
    flash(_("The account is locked and its sessions ended."))
    return redirect(url_for("admin.citizen_detail", citizen_id=citizen_id), 303)


@page("/citizens/<citizen_id>/unlock", permission=Permission.CITIZENS_MANAGE, methods=("POST",))
def citizen_unlock(actor: Actor, citizen_id: str) -> Any:
    citizens.unlock(actor, citizen_id)
    flash(_("The account is unlocked."))
    return redirect(url_for("admin.citizen_detail", citizen_id=citizen_id), 303)


@page(
    "/citizens/<citizen_id>/sessions/end", permission=Permission.CITIZENS_MANAGE, methods=("POST",)
)
def citizen_end_sessions(actor: Actor, citizen_id: str) -> Any:
    sid = request.form.get("sid") or None
    count = citizens.end_sessions(actor, citizen_id, sid)
    flash(_("%(count)d session(s) ended.", count=count))
    return redirect(url_for("admin.citizen_detail", citizen_id=citizen_id), 303)


@page("/citizens/<citizen_id>/unblock", permission=Permission.CITIZENS_MANAGE, methods=("POST",))
def citizen_unblock(actor: Actor, citizen_id: str) -> Any:
    citizens.unblock(actor, citizen_id, str(request.form.get("authenticator") or "")[:300])
    flash(_("The sign-in method is unblocked."))
    return redirect(url_for("admin.citizen_detail", citizen_id=citizen_id), 303)


# --- consents --------------------------------------------------------------------------------


@page("/consents", permission=Permission.CONSENTS_READ)
def consent_list(actor: Actor) -> Any:
    client_id = str(request.args.get("client_id") or "")[:64]
    visible = clients.list_clients(actor) if actor.can(Permission.CLIENTS_READ) else []
    if not client_id:
        require(actor, Permission.CONSENTS_READ, action="consents.list")
    rows = consents.by_client(actor, client_id) if client_id else None
    return _render("admin/consents.html", actor, clients=visible, client_id=client_id, rows=rows)


@page("/consents/revoke", permission=Permission.CONSENTS_REVOKE, methods=("POST",))
def consent_revoke(actor: Actor) -> Any:
    citizen_id = str(request.form.get("citizen_id") or "")[:36]
    client_id = str(request.form.get("client_id") or "")[:64]
    consents.revoke(actor, citizen_id=citizen_id, client_id=client_id)
    flash(_("The consent is revoked; the portal's tokens for this citizen stopped working."))
    if request.form.get("back") == "citizen":
        return redirect(url_for("admin.citizen_detail", citizen_id=citizen_id), 303)
    return redirect(url_for("admin.consent_list", client_id=client_id), 303)


# --- keys ------------------------------------------------------------------------------------


@page("/keys", permission=Permission.KEYS_READ)
def key_list(actor: Actor) -> Any:
    return _render("admin/keys.html", actor, keys=keys.list_keys(actor))


@page("/keys/rotate", permission=Permission.KEYS_ROTATE, methods=("POST",))
def key_rotate(actor: Actor) -> Any:
    alg = request.form.get("alg") or ""
    kids = keys.rotate(
        actor, algs=[alg] if alg else None, immediate=request.form.get("immediate") == "on"
    )
    flash(_("New keys published: %(kids)s", kids=", ".join(kids)))
    return redirect(url_for("admin.key_list"), 303)


@page("/keys/<kid>/retire", permission=Permission.KEYS_RETIRE, methods=("POST",))
def key_retire(actor: Actor, kid: str) -> Any:
    try:
        keys.retire(actor, kid, immediate=request.form.get("immediate") == "on")
    except InvalidInput as exc:
        flash(_(exc.public))
        return redirect(url_for("admin.key_list"), 303)
    flash(_("The key is retired."))
    return redirect(url_for("admin.key_list"), 303)


# --- authenticator models admitted to high ---------------------------------------------------


def _aaguid_page(actor: Actor, status: int = 200, **context: Any) -> tuple[str, int]:
    return _render("admin/aaguids.html", actor, status, listing=aaguids.overview(actor), **context)


@page(
    "/authenticators",
    permission=Permission.AAGUIDS_READ,
    methods=("GET", "POST"),
    post=Permission.AAGUIDS_WRITE,
)
def aaguid_list(actor: Actor) -> Any:
    if request.method == "GET":
        return _aaguid_page(actor)
    form = {
        "aaguid": str(request.form.get("aaguid") or "")[:200],
        "label": str(request.form.get("label") or "")[:300],
    }
    try:
        added = aaguids.add(actor, aaguid=form["aaguid"], label=form["label"])
    except InvalidInput as exc:
        return _aaguid_page(actor, 400, form=form, error=_(exc.public), field=exc.field)
    flash(_("%(label)s (%(aaguid)s) is admitted to high.", **added))
    return redirect(url_for("admin.aaguid_list"), 303)


@page("/authenticators/remove", permission=Permission.AAGUIDS_WRITE, methods=("POST",))
def aaguid_remove(actor: Actor) -> Any:
    try:
        gone = aaguids.remove(
            actor,
            aaguid=str(request.form.get("aaguid") or "")[:200],
            open_to_any=request.form.get("open_to_any") == "on",
        )
    except InvalidInput as exc:
        flash(_(exc.public))
    else:
        flash(_("%(label)s (%(aaguid)s) is removed from the list.", **gone))
    return redirect(url_for("admin.aaguid_list"), 303)


# --- staff -----------------------------------------------------------------------------------


@page("/staff", permission=Permission.STAFF_READ)
def staff_list(actor: Actor) -> Any:
    return _render("admin/staff.html", actor, members=staff.list_staff(actor), roles=list(Role))


@page("/staff/new", permission=Permission.STAFF_CREATE, methods=("POST",))
def staff_new(actor: Actor) -> Any:
    data = {
        "username": request.form.get("username", ""),
        "display_name": request.form.get("display_name", ""),
        "department": request.form.get("department") or None,
        "roles": request.form.getlist("roles"),
    }
    try:
        member, code = staff.create_staff(actor, data)
    except InvalidInput as exc:
        return _render(
            "admin/staff.html",
            actor,
            400,
            members=staff.list_staff(actor),
            roles=list(Role),
            error=_(exc.public),
            form=request.form,
        )
    return _render("admin/enrolment_code.html", actor, member=member, code=code)


@page("/staff/<staff_id>", permission=Permission.STAFF_READ)
def staff_detail(actor: Actor, staff_id: str) -> Any:
    member = staff.get_staff(actor, staff_id)
    return _render("admin/staff_member.html", actor, member=member, roles=list(Role))


@page("/staff/<staff_id>/roles", permission=Permission.STAFF_ROLES, methods=("POST",))
def staff_roles(actor: Actor, staff_id: str) -> Any:
    try:
        staff.set_roles(
            actor, staff_id, request.form.getlist("roles"), request.form.get("department") or None
        )
    except InvalidInput as exc:
        flash(_(exc.public))
    else:
        flash(_("Roles saved."))
    return redirect(url_for("admin.staff_detail", staff_id=staff_id), 303)


@page("/staff/<staff_id>/disable", permission=Permission.STAFF_DISABLE, methods=("POST",))
def staff_disable(actor: Actor, staff_id: str) -> Any:
    try:
        staff.disable(actor, staff_id)
    except InvalidInput as exc:
        flash(_(exc.public))
    else:
        flash(_("The account is disabled."))
    return redirect(url_for("admin.staff_detail", staff_id=staff_id), 303)


@page("/staff/<staff_id>/enable", permission=Permission.STAFF_DISABLE, methods=("POST",))
def staff_enable(actor: Actor, staff_id: str) -> Any:
    staff.enable(actor, staff_id)
    flash(_("The account is enabled."))
    return redirect(url_for("admin.staff_detail", staff_id=staff_id), 303)


@page("/staff/<staff_id>/enrolment-code", permission=Permission.STAFF_CREATE, methods=("POST",))
def staff_code(actor: Actor, staff_id: str) -> Any:
    code = staff.new_enrolment_code(actor, staff_id)
    member = staff.get_staff(actor, staff_id)
    return _render("admin/enrolment_code.html", actor, member=member, code=code)


# --- the audit trail -------------------------------------------------------------------------


@page("/audit", permission=Permission.AUDIT_READ, methods=("GET", "POST"))
def audit_search(actor: Actor) -> Any:
    """GET: the newest records, filtered by the query string (no ID number there); POST:
    the search form, whose ID-number field travels only in the body."""
    if request.method == "GET":
        raw = {k: request.args.get(k) for k in request.args}
        if "id_number" in raw:
            # Typed into the address bar: not echoed back (the page repeats its own
            # address), and the form is offered instead.
            require(actor, Permission.AUDIT_READ, action="audit.search")
            flash(_("Enter the ID number in the search form, never in the address."))
            return redirect(url_for("admin.audit_search"), 303)
    else:
        raw = {k: request.form.get(k) for k in request.form if k in audit_view.FIELDS}
    try:
        result = audit_view.search(actor, raw, in_url=request.method == "GET")
    except InvalidInput as exc:
        form = {k: v for k, v in raw.items() if k != "id_number"}
        return _render("admin/audit.html", actor, 400, result=None, form=form, error=_(exc.public))
    form = {k: v for k, v in result["filters"].items() if v is not None and k != "before_seq"}
    for row in result["records"]:
        # Shown as escaped text (autoescape), readable: not tojson's \u003c escapes.
        row["details_text"] = json.dumps(row["details"], ensure_ascii=False, sort_keys=True)
    return _render(
        "admin/audit.html",
        actor,
        result=result,
        form=form,
        next_page=audit_view.next_page(result),
    )


@page("/audit/verify", permission=Permission.AUDIT_READ)
def audit_verify(actor: Actor) -> Any:
    return _render("admin/audit_verify.html", actor, report=audit_view.verify(actor))


# --- the member's own API tokens -------------------------------------------------------------


@page("/tokens", permission=None, methods=("GET", "POST"))
def tokens(actor: Actor) -> Any:
    if request.method == "GET":
        return _render("admin/tokens.html", actor, tokens=staff.list_tokens(actor))
    try:
        view, token = staff.issue_token(
            actor, name=request.form.get("name"), days=request.form.get("days") or None
        )
    except FreshVerificationRequired:
        flash(_("Creating a token needs a fresh check with your security key."))
        return redirect(url_for("admin_auth.verify", next=url_for("admin.tokens")), 303)
    except IdpError as exc:
        return _render(
            "admin/tokens.html", actor, 400, tokens=staff.list_tokens(actor), error=_(exc.public)
        )
    return _render(
        "admin/tokens.html", actor, tokens=staff.list_tokens(actor), created=view, token=token
    )


@page("/tokens/<token_id>/revoke", permission=None, methods=("POST",))
def token_revoke(actor: Actor, token_id: str) -> Any:
    staff.revoke_token(actor, token_id)
    flash(_("The token is revoked."))
    return redirect(url_for("admin.tokens"), 303)
