"""The kiosk's "sign in with the app" (a QR code the app scans) and its "continue on your
phone" (a hand-off code): ``idp.authn.approvals`` and ``idp.authn.handoff`` at a kiosk.

Routes, on the kiosk blueprint (only with ``IDP_FEATURE_KIOSK`` and
``IDP_FEATURE_MOBILE_APP``):

- ``POST /kiosk/qr`` (``kiosk.app_qr``): the kiosk software asks for a QR code from the
  kiosk's browser, form ``assertion`` (a ``kiosk-qr+jwt`` it signed with the page's
  nonce, ``idp.authn.methods.terminal``) and optionally ``uid`` (a portal's sign-in
  waiting on the kiosk). The server thus knows which kiosk asks: the app shows channel
  ``kiosk``, the kiosk's *registered* place and the portal's name, with a matching code.
  The request's secret goes into the kiosk browser's cookie (``idp_kiosk_app``, path
  ``/kiosk/``, HttpOnly, SameSite=Strict, no Max-Age), the kiosk's id into its signed UI
  session: only this browser can follow and finish the request, and a relayed code signs
  in nobody else. The code is single use and expires within two minutes.
- ``GET /kiosk/qr/<uid>/status`` (``kiosk.app_status``): ``{"status": ...}`` as on the
  website; ``static/js/kiosk.js`` polls it.
- ``GET /kiosk/qr/<uid>/done`` (``kiosk.app_done``): claims the approval once and
  starts a **kiosk session** (``AuthResult.kiosk_id``: short, browser-session cookie,
  the only one at that kiosk, ended by End and by its lifetime). The proof is the app's:
  ``adapters.mobile.authenticate`` (channel ``mobile``, the app's ``amr``, its level
  capped at the device's bound level), so portals see ``channel`` ``mobile`` and the
  account page lists the session at the kiosk with the kiosk's place.
- The signed-in kiosk screen shows a hand-off code (``handoff_qr``): the app scans it,
  the phone's browser continues at the level reached at the kiosk (until it lapses),
  and the kiosk session ends (``idp.authn.handoff``); the screen's poll notices.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from flask import current_app
from flask import request
from flask import session
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _

from adapters import kiosk
from adapters import mobile
from adapters import website_pages as pages
from adapters.website_app import qr_data_uri
from adapters.website_app import status_response
from idp.authn import approvals
from idp.authn import handoff as handoffs
from idp.authn.approvals import Status
from idp.authn.kiosks import active_kiosk
from idp.authn.methods.terminal import AssertionRejected
from idp.authn.methods.terminal import verify_qr_request
from idp.errors import CitizenLocked
from idp.errors import InteractionExpired
from idp.errors import TooManyAttempts
from idp.web.browser import browser_id
from idp.web.browser import clear_strict_cookie
from idp.web.browser import set_strict_cookie

COOKIE = "idp_kiosk_app"
COOKIE_PATH = "/kiosk/"
SESSION_KEY = "kiosk_app"  # {"kiosk": client_id, "uid": interaction uid}
QR_PATH = "/kiosk/qr"  # the audience of QR requests

# What the kiosk screen says when the app's approval cannot sign anyone in.
_REFUSED = {
    "unknown": kiosk.N_("This code is no longer valid. Get a new code."),
    "waiting": kiosk.N_("The request has not been approved in the app yet."),
    "denied": kiosk.N_("The request was refused in the app."),
    "expired": kiosk.N_("The code has expired. Get a new code."),
}


def _enabled() -> bool:
    return "kiosk.app_qr" in current_app.view_functions


def app_qr() -> Any:
    assertion = request.form.get("assertion")
    try:
        kiosk.check_throttle(assertion)
    except TooManyAttempts as exc:
        return kiosk.throttled(exc)
    try:
        device = verify_qr_request(
            assertion=assertion,
            audience=kiosk._audience(QR_PATH),
            now=int(time.time()),
            max_age=kiosk._max_age(),
            browser=browser_id(),
        )
    except AssertionRejected as exc:
        return kiosk.refusal(exc)
    interaction = kiosk.interaction_for(request.form.get("uid"))
    approvals.cancel(request.cookies.get(COOKIE))
    started = approvals.start_qr(
        channel=str(kiosk.NAME),
        place=device.place,
        client_name=approvals.portal_name(interaction.client_id),
        required_acr=interaction.required_acr,
        interaction_uid=interaction.uid,
    )
    session[SESSION_KEY] = {"kiosk": device.client_id, "uid": interaction.uid}
    request_ = started.request
    html, status = kiosk.page(
        "app",
        uid=interaction.uid,
        qr=qr_data_uri(started.qr_payload or ""),
        qr_link=started.qr_payload,
        match=request_.match,
        portal=request_.client_name,
        place=device.place,
        ttl=int(request_.expires_at - request_.created_at),
    )
    response = current_app.make_response((html, status))
    # A browser-session cookie like every kiosk cookie; the request expires anyway.
    return set_strict_cookie(
        response, COOKIE, approvals.cookie_value(started), path=COOKIE_PATH, max_age=None
    )


def app_status(uid: str) -> Any:
    return status_response(request.cookies.get(COOKIE), uid)


def _refused(reason: str, status: int) -> Any:
    return kiosk.page("refused", status=status, error=_(_REFUSED[reason]), reason=f"app_{reason}")


def app_done(uid: str) -> Any:
    try:
        interaction = pages.load(uid)
    except InteractionExpired:
        return _refused("unknown", 400)
    if (done := pages.already_signed_in(interaction)) is not None:
        return done
    started = session.get(SESSION_KEY)
    cookie = request.cookies.get(COOKIE)
    found = approvals.status(cookie, interaction_uid=uid)
    if not isinstance(started, dict) or started.get("uid") != uid or found is None:
        return _refused("unknown", 400)
    if found in (Status.PENDING, Status.SCANNED):
        return _refused("waiting", 409)
    if found == Status.DENIED:
        return _refused("denied", 403)
    if found == Status.EXPIRED:
        return _refused("expired", 410)
    device = active_kiosk(started.get("kiosk"))
    if device is None:  # disabled meanwhile: it signs nobody in
        return _refused("unknown", 400)
    try:
        result = mobile.authenticate(
            interaction=interaction,
            form={"approval": cookie, "via": str(kiosk.NAME), "place": device.place},
        )
    except mobile.NotApproved:
        return _refused("unknown", 400)
    # The proof is the app's (channel, amr, level, device); the session lives at the kiosk.
    result = replace(result, kiosk_id=device.client_id, place=device.place)
    try:
        outcome = pages.complete(interaction, result)
    except CitizenLocked as exc:
        return kiosk.page("refused", status=403, error=_(exc.public), reason="locked")
    return kiosk.signed_in(interaction, outcome.cookie_value)


def forget(response: Any) -> None:
    """Drop this browser's waiting QR request (signed in another way, or ended)."""
    if not _enabled():
        return
    approvals.cancel(request.cookies.get(COOKIE))
    session.pop(SESSION_KEY, None)
    if request.cookies.get(COOKIE):
        clear_strict_cookie(response, COOKIE, path=COOKIE_PATH)


def handoff_qr(current: Any) -> dict[str, Any] | None:
    """The signed-in kiosk screen's "continue on your phone" code, or None."""
    if not _enabled():
        return None
    started = handoffs.start(current)
    return {
        "qr": qr_data_uri(started.payload),
        "link": started.payload,
        "minutes": (started.expires_in + 59) // 60,
    }


def _routes(state: BlueprintSetupState) -> None:
    # A disabled feature registers no route (STYLE.md 7.3).
    config = state.app.config
    if not (config["IDP_FEATURE_KIOSK"] and config["IDP_FEATURE_MOBILE_APP"]):
        return
    state.add_url_rule("/qr", endpoint="app_qr", view_func=app_qr, methods=["POST"])
    state.add_url_rule("/qr/<uid>/status", endpoint="app_status", view_func=app_status)
    state.add_url_rule("/qr/<uid>/done", endpoint="app_done", view_func=app_done)
    # A signed, single-use request stands in for the CSRF token (as on /kiosk/card).
    state.app.extensions["csrf"].exempt(app_qr)


kiosk.bp.record(_routes)
