"""The website's "sign in with the app": a QR code to scan, or a push to the citizen's
phone for a step-up (``idp.authn.approvals``); the approval is the mobile channel's
proof (``adapters.mobile.authenticate``).

Routes, on the website blueprint (only with ``IDP_FEATURE_MOBILE_APP``):

- ``GET /login/<uid>/app`` (``website.app``): a new QR request for this interaction:
  the QR code (an SVG rendered here), the matching code and the portal asking. The
  browser gets the request's secret in an HttpOnly cookie (``idp_app``, path
  ``/login/``, SameSite=Strict): only it can follow and finish the request.
- ``POST /login/<uid>/app/push`` (``website.app_push``): on a step-up, for the citizen
  already signed in and holding a bound device: a push request instead of a QR code.
- ``GET /login/<uid>/app/status`` (``website.app_status``): JSON ``{"status":
  "pending" | "scanned" | "approved" | "denied" | "expired"}``; ``static/js/app.js``
  polls it every two seconds and moves on when it is no longer pending or scanned.
- ``GET /login/<uid>/app/done`` (``website.app_done``): claims the approval once and
  ends like every website sign-in (``website._finish``: ``complete_login``, then
  ``interaction.resume``); otherwise says why (refused, expired, not yet approved).
- ``GET|POST /login/continue/<code>`` (``website.handoff_continue``): the hand-off's
  last step in the phone's browser (``idp.authn.handoff``).
"""

from __future__ import annotations

import base64
import ipaddress
from typing import Any

import qrcode
import qrcode.image.svg
from flask import current_app
from flask import jsonify
from flask import make_response
from flask import render_template
from flask import request
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _

from adapters import mobile
from adapters import website
from adapters import website_pages as pages
from adapters.website import bp
from idp.authn import approvals
from idp.authn import devices
from idp.authn import handoff as handoffs
from idp.authn.approvals import Status
from idp.authn.interaction import Interaction
from idp.authn.service import step_up_plan
from idp.errors import TooManyAttempts
from idp.web.browser import client_ip
from idp.web.browser import set_strict_cookie
from idp.web.browser import sso_cookie

COOKIE = "idp_app"
COOKIE_PATH = "/login/"
WAITING = (Status.PENDING, Status.SCANNED)


def qr_data_uri(payload: str) -> str:
    """The payload as an SVG QR code in a data: URI (the CSP allows img data: only)."""
    image = qrcode.make(
        payload,
        image_factory=qrcode.image.svg.SvgPathImage,
        box_size=10,
        border=2,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
    )
    svg = image.to_string(encoding="unicode")
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def place() -> str:
    """What the app shows as "from where": the browser and a coarse network address
    (IPv4 /24, IPv6 /48), never the full address."""
    agent = request.user_agent.string or ""
    browser = next(
        (n for n in ("Edg", "Firefox", "Chrome", "Safari") if n in agent), _("a browser")
    )
    browser = {"Edg": "Edge"}.get(str(browser), str(browser))
    try:
        address = ipaddress.ip_address(client_ip())
        prefix = 24 if address.version == 4 else 48
        network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
        where = str(network)
    except ValueError:
        where = "?"
    return f"{browser}, {where}"


def _set_cookie(response: Any, value: str) -> Any:
    return set_strict_cookie(
        response, COOKIE, value, path=COOKIE_PATH, max_age=approvals.MAX_TTL + approvals.GRACE
    )


def _render(
    interaction: Interaction,
    started: approvals.Started | None,
    *,
    status: int = 200,
    error: str | None = None,
    state: str | None = None,
) -> Any:
    qr = started.qr_payload if started is not None else None
    page = render_template(
        "app_signin.html",
        interaction=interaction,
        qr=qr_data_uri(qr) if qr else None,
        qr_link=qr,
        match=started.request.match if started is not None else None,
        portal=started.request.client_name if started is not None else None,
        push=started is not None and started.request.kind == approvals.Kind.PUSH,
        ttl=int(started.request.expires_at - started.request.created_at) if started else 0,
        error=error,
        state=state,
        waiting=started is not None,
        can_push=_push_citizen(interaction) is not None,
    )
    response = make_response(page, status)
    if started is not None:
        _set_cookie(response, approvals.cookie_value(started))
    return response


def _push_citizen(interaction: Interaction) -> str | None:
    """The signed-in citizen a push may go to: only on a step-up whose plan offers the
    app (a stranger cannot make pushes to someone else's phone)."""
    if "website.app_push" not in current_app.view_functions:
        return None
    plan = step_up_plan(interaction, cookie=sso_cookie())
    return plan.citizen_id if plan is not None and plan.offers(devices.APP) else None


def app(uid: str) -> Any:
    interaction = pages.load(uid)
    if (done := pages.already_signed_in(interaction)) is not None:
        return done
    approvals.cancel(request.cookies.get(COOKIE))
    started = approvals.start_qr(
        channel=str(website.NAME),
        place=place(),
        client_name=approvals.portal_name(interaction.client_id),
        required_acr=interaction.required_acr,
        interaction_uid=interaction.uid,
    )
    return _render(interaction, started)


def app_push(uid: str) -> Any:
    interaction = pages.load(uid)
    if (done := pages.already_signed_in(interaction)) is not None:
        return done
    citizen_id = _push_citizen(interaction)
    if citizen_id is None:
        return _render(interaction, None, status=400, error=_("Scan the code with the app."))
    approvals.cancel(request.cookies.get(COOKIE))
    try:
        started = approvals.start_push(
            citizen_id=citizen_id,
            channel=str(website.NAME),
            place=place(),
            client_name=approvals.portal_name(interaction.client_id),
            required_acr=interaction.required_acr,
            purpose="step_up",
            interaction_uid=interaction.uid,
        )
    except approvals.ApprovalsLocked as exc:
        return pages.retry_after(_render(interaction, None, status=429, error=_(exc.public)), exc)
    except TooManyAttempts as exc:
        return pages.retry_after(
            _render(interaction, None, status=429, error=pages.too_many(exc)), exc
        )
    return _render(interaction, started)


def status_response(approval_cookie: str | None, uid: str) -> Any:
    """The JSON a waiting screen polls (website or kiosk): the request's status, or 404."""
    found = approvals.status(approval_cookie, interaction_uid=uid)
    if found is None:
        return jsonify(error="not_found", status="unknown"), 404
    response = jsonify(status=str(found))
    response.headers["Cache-Control"] = "no-store"
    return response


def app_status(uid: str) -> Any:
    return status_response(request.cookies.get(COOKIE), uid)


def app_done(uid: str) -> Any:
    interaction = pages.load(uid)
    if (done := pages.already_signed_in(interaction)) is not None:
        return done
    cookie = request.cookies.get(COOKIE)
    found = approvals.status(cookie, interaction_uid=uid)
    if found is None:
        error = _("This code was shown in another browser, or is no longer valid. Get a new code.")
        return _render(interaction, None, status=400, error=error, state="unknown")
    if found in WAITING:
        error = _("The request has not been approved in the app yet.")
        return _render(interaction, None, status=409, error=error, state=str(found))
    if found == Status.DENIED:
        error = _("The request was refused in the app.")
        return _render(interaction, None, status=403, error=error, state=str(found))
    if found == Status.EXPIRED:
        error = _("The code has expired. Get a new code.")
        return _render(interaction, None, status=410, error=error, state=str(found))
    try:
        result = mobile.authenticate(
            interaction=interaction,
            form={"approval": cookie, "via": str(website.NAME), "place": place()},
        )
    except mobile.NotApproved:
        error = _("This code was shown in another browser, or is no longer valid. Get a new code.")
        return _render(interaction, None, status=400, error=error, state="unknown")
    response = website._finish(
        interaction,
        result,
        on_error=lambda e: _render(interaction, None, status=403, error=_(e.public)),
    )
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


def _routes_for_features(state: BlueprintSetupState) -> None:
    # A disabled feature registers no route (STYLE.md 7.3).
    if not state.app.config["IDP_FEATURE_MOBILE_APP"]:
        return
    state.add_url_rule("/login/<uid>/app", endpoint="app", view_func=app)
    state.add_url_rule(
        "/login/<uid>/app/push", endpoint="app_push", view_func=app_push, methods=["POST"]
    )
    state.add_url_rule("/login/<uid>/app/status", endpoint="app_status", view_func=app_status)
    state.add_url_rule("/login/<uid>/app/done", endpoint="app_done", view_func=app_done)


bp.record(_routes_for_features)


# --- hand-off: continuing on the phone (idp.authn.handoff) ------------------------------------


def handoff_continue(code: str) -> Any:
    """The phone's browser, opened by the app with a one-time continue URL: confirm
    (the account is named, against login CSRF), then a session at the website
    session's level, through ``complete_login``."""
    name = handoffs.peek(code)
    if name is None:
        page = render_template("handoff_continue.html", name=None, code=code)
        return page, 400
    if request.method == "GET":
        return render_template("handoff_continue.html", name=name, code=code), 200
    try:
        result = handoffs.claim(code)
    except handoffs.HandoffUnavailable:
        return render_template("handoff_continue.html", name=None, code=code), 400
    interaction = pages.park(return_to="/account")
    return website._finish(
        interaction,
        result,
        on_error=lambda e: (render_template("error.html", message=_(e.public), status=403), 403),
    )


def _handoff_routes(state: BlueprintSetupState) -> None:
    if not state.app.config["IDP_FEATURE_MOBILE_APP"]:
        return
    state.add_url_rule(
        "/login/continue/<code>",
        endpoint="handoff_continue",
        view_func=handoff_continue,
        methods=["GET", "POST"],
    )


bp.record(_handoff_routes)
