"""The citizen's bound app devices and alerts: ``/account/devices``.

- ``GET  /account/devices`` (``devices.index``): the devices bound to the account
  (name, platform, level, added, last used) and the alerts not yet dismissed;
- ``GET|POST /account/devices/<id>/remove`` (``devices.remove``): confirm, then unbind;
  needs a sign-in at most ``IDP_APP_FRESH_SIGN_IN`` seconds old, like passkey removal
  (else the citizen signs in again first and comes back);
- ``POST /account/alerts/<id>/dismiss`` (``devices.dismiss``);
- ``GET  /account/handoff`` (``devices.handoff``): "continue on my phone", a QR code the
  government app scans (``idp.authn.handoff``).

``account_alerts()`` is available to every template (the account page lists them).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from ..authn import alerts
from ..authn import approvals
from ..authn import devices
from ..authn import handoff as handoffs
from ..authn import service
from .account_bp import _qr_data_uri
from .browser import browser_id
from .signed_in import sign_in_first
from .signed_in import signed_in_citizen

bp = Blueprint("devices", __name__, url_prefix="/account")


def _fresh(sso: Any) -> bool:
    within = int(current_app.config["IDP_APP_FRESH_SIGN_IN"])
    return service.fresh_enough(sso, within=within, acr=None)


def _sign_in_again(return_to: str) -> BaseResponse:
    parked = service.require_reauthentication(browser=browser_id(), return_to=return_to)
    return redirect(url_for("interaction.show", uid=parked.uid), 303)


@bp.app_context_processor
def _alerts() -> dict[str, Any]:
    def account_alerts() -> list[alerts.Alert]:
        signed_in = signed_in_citizen()
        return alerts.active(citizen_id=signed_in[1].id) if signed_in else []

    return {"account_alerts": account_alerts}


@bp.get("/devices")
def index() -> Any:
    signed_in = signed_in_citizen()
    if signed_in is None:
        return sign_in_first(url_for("devices.index"))
    _sso, citizen = signed_in
    page = render_template(
        "account_devices.html",
        devices=devices.list_devices(citizen_id=citizen.id),
        locked_for=approvals.locked_for(citizen.id),
    )
    return page, 200


@bp.route("/devices/<device_id>/remove", methods=["GET", "POST"])
def remove(device_id: str) -> Any:
    signed_in = signed_in_citizen()
    if signed_in is None:
        return sign_in_first(url_for("devices.index"))
    sso, citizen = signed_in
    found = next(
        (d for d in devices.list_devices(citizen_id=citizen.id) if d.id == device_id), None
    )
    if found is None:
        flash(_("That device is not bound to your account."))
        return redirect(url_for("devices.index"), 303)
    if request.method == "GET":
        return render_template("device_remove.html", device=found, fresh=_fresh(sso)), 200
    if not _fresh(sso):
        return _sign_in_again(url_for("devices.remove", device_id=device_id))
    devices.remove(citizen_id=citizen.id, device_id=device_id)
    flash(_("“%(name)s” was removed. It can no longer approve sign-ins.", name=found.name))
    return redirect(url_for("devices.index"), 303)


@bp.get("/handoff")
def handoff() -> Any:
    """Continue on the phone (``idp.authn.handoff``): a QR code for the app to scan."""
    signed_in = signed_in_citizen()
    if signed_in is None:
        return sign_in_first(url_for("devices.handoff"))
    sso, _citizen = signed_in
    started = handoffs.start(sso)
    page = render_template(
        "account_handoff.html",
        qr=_qr_data_uri(started.payload),
        minutes=(started.expires_in + 59) // 60,
    )
    response = current_app.make_response((page, 200))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/alerts/<alert_id>/dismiss")
def dismiss(alert_id: str) -> Any:
    signed_in = signed_in_citizen()
    if signed_in is None:
        return sign_in_first(url_for("account.overview"))
    alerts.dismiss(citizen_id=signed_in[1].id, alert_id=alert_id)
    return redirect(url_for("account.overview"), 303)
