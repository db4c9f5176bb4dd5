"""Staff sign-in, enrolment of a first security key, re-verification, sign-out.

- ``GET /admin/sign-in``; ``POST /admin/sign-in/options`` (JSON request options, a
  discoverable credential, UV required); ``POST /admin/sign-in`` (the assertion).
- ``GET|POST /admin/enrol``: username and one-time code (from ``idp staff create``);
  then ``POST /admin/enrol/options`` and ``POST /admin/enrol/finish`` register the key
  and sign the member in.
- ``GET /admin/verify?next=...``; ``POST /admin/verify/options``; ``POST /admin/verify``:
  a fresh WebAuthn assertion for dangerous actions (``IDP_ADMIN_FRESH_VERIFICATION``).
- ``POST /admin/sign-out``.

Challenges are bound to the browser (the signed UI cookie's random id) or, for
re-verification, to the console session.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import session as ui_session
from flask import url_for
from flask_babel import gettext as _

from ...admin.events import REFUSED
from ...admin.events import SUCCESS
from ...admin.events import admin_event
from ...authn.staff import accounts
from ...authn.staff import ceremonies
from ...authn.staff import console_access
from ...authn.staff import console_session
from ...authn.staff.errors import StaffError
from ...store import current_store
from ..browser import browser_id
from ..browser import client_ip
from . import session as admin_session

log = logging.getLogger(__name__)

bp = Blueprint("admin_auth", __name__, url_prefix="/admin")

MAX_RESPONSE_BYTES = 64 * 1024
ENROL_KEY = "admin_enrol"


def _credential() -> str:
    if (request.content_length or 0) > MAX_RESPONSE_BYTES:
        return ""
    return str(request.form.get("credential") or "")


def _refused(action: str, detail: str) -> None:
    admin_event(None, action, "-", REFUSED, detail=f"{detail} from {client_ip()}")


# --- sign-in ---------------------------------------------------------------------------------


@bp.get("/sign-in")
def sign_in() -> Any:
    if admin_session.current() is not None:
        return redirect(admin_session.safe_next(request.args.get("next")), 303)
    return render_template("admin/sign_in.html", next=request.args.get("next") or "")


@bp.post("/sign-in/options")
def sign_in_options() -> Any:
    return jsonify(ceremonies.start_sign_in(binding=browser_id()))


@bp.post("/sign-in")
def sign_in_finish() -> Any:
    next_path = str(request.form.get("next") or "")
    try:
        staff = ceremonies.finish_sign_in(binding=browser_id(), response=_credential())
    except StaffError as exc:
        _refused("sign_in", exc.detail)
        page = render_template("admin/sign_in.html", next=next_path, error=_(exc.public))
        return page, 401
    if not console_access(staff.roles or []):
        admin_event(None, "sign_in", staff.id, REFUSED, detail="no console role")
        page = render_template(
            "admin/sign_in.html",
            next=next_path,
            error=_("Your account has no access to the console."),
        )
        return page, 403
    cookie = admin_session.start(staff)
    admin_event(None, "sign_in", staff.id, SUCCESS, detail=f"from {client_ip()}")
    response = redirect(admin_session.safe_next(next_path), 303)
    return admin_session.set_cookie(response, cookie)


@bp.post("/sign-out")
def sign_out() -> Any:
    found = admin_session.current()
    if found is not None:
        console_session.end(current_store(), found[0])
        admin_event(None, "sign_out", found[1].id, SUCCESS)
    response = redirect(url_for("admin_auth.sign_in"), 303)
    return admin_session.clear_cookie(response)


# --- enrolment -------------------------------------------------------------------------------


@bp.get("/enrol")
def enrol() -> Any:
    return render_template("admin/enrol.html", step="code")


@bp.post("/enrol")
def enrol_code() -> Any:
    username = str(request.form.get("username") or "")[:64]
    try:
        staff = accounts.check_enrolment(
            username=username, code=str(request.form.get("code") or "")[:100]
        )
    except StaffError as exc:
        _refused("enrol", exc.detail)
        page = render_template(
            "admin/enrol.html", step="code", username=username, error=_(exc.public)
        )
        return page, 400
    ui_session[ENROL_KEY] = staff.id
    return render_template("admin/enrol.html", step="key", staff=staff)


@bp.post("/enrol/options")
def enrol_options() -> Any:
    staff = accounts.get(str(ui_session.get(ENROL_KEY) or ""))
    if staff is None:
        return jsonify(error=_("Enter your username and enrolment code first.")), 400
    try:
        return jsonify(ceremonies.start_enrolment(staff=staff, binding=browser_id()))
    except StaffError as exc:
        return jsonify(error=_(exc.public)), 400


@bp.post("/enrol/finish")
def enrol_finish() -> Any:
    try:
        staff, credential = ceremonies.finish_enrolment(
            binding=browser_id(),
            response=_credential(),
            name=str(request.form.get("name") or "")[:64],
        )
    except StaffError as exc:
        _refused("enrol", exc.detail)
        staff = accounts.get(str(ui_session.get(ENROL_KEY) or ""))
        step = "key" if staff is not None and staff.enrolment_hash else "code"
        page = render_template("admin/enrol.html", step=step, staff=staff, error=_(exc.public))
        return page, 400
    ui_session.pop(ENROL_KEY, None)
    admin_event(None, "enrol", staff.id, SUCCESS, after={"credential": credential.id})
    if not console_access(staff.roles or []):
        return render_template("admin/enrol.html", step="done", staff=staff)
    response = redirect(url_for("admin.home"), 303)
    return admin_session.set_cookie(response, admin_session.start(staff))


# --- re-verification -------------------------------------------------------------------------


@bp.get("/verify")
def verify() -> Any:
    if admin_session.current() is None:
        return redirect(url_for("admin_auth.sign_in"), 303)
    return render_template("admin/verify.html", next=request.args.get("next") or "")


@bp.post("/verify/options")
def verify_options() -> Any:
    found = admin_session.current()
    if found is None:
        return jsonify(error=_("Your console session has ended. Sign in again.")), 401
    session, staff = found
    return jsonify(ceremonies.start_verification(staff_id=staff.id, binding=session.sid))


@bp.post("/verify")
def verify_finish() -> Any:
    found = admin_session.current()
    if found is None:
        return redirect(url_for("admin_auth.sign_in"), 303)
    session, staff = found
    next_path = str(request.form.get("next") or "")
    try:
        ceremonies.finish_verification(
            staff_id=staff.id, binding=session.sid, response=_credential()
        )
    except StaffError as exc:
        _refused("verify", exc.detail)
        page = render_template("admin/verify.html", next=next_path, error=_(exc.public))
        return page, 401
    console_session.mark_verified(current_store(), session, idle=admin_session._idle())
    admin_event(None, "verify", staff.id, SUCCESS)
    return redirect(admin_session.safe_next(next_path), 303)
