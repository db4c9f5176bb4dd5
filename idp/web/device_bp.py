"""RFC 8628 over HTTP: the device authorization endpoint and the verification page.

- ``POST /device_authorization`` (a kiosk's API call, client-authenticated, no CSRF).
- ``GET /device[?user_code=...]``: the citizen's page, on their phone (section 3.3). A
  signed-out visitor signs in first and comes back; the code is typed, or prefilled
  from the QR code's ``verification_uri_complete`` (section 3.3.1). The page names the
  kiosk and where it stands (section 5.4: the citizen checks it is the one in front of
  them) and what it will receive.
- ``POST /device`` (CSRF-checked): approve or deny.

Wrong codes are throttled (``idp.oauth.device.find_request``): 429 with Retry-After.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _

from ..authn.result import Acr
from ..authn.service import level_policy
from ..authn.service import require_reauthentication
from ..consent.categories import category
from ..errors import TooManyAttempts
from ..extensions import csrf
from ..oauth import device
from ..oauth.server import current_server
from .browser import browser_id
from .browser import client_ip
from .i18n import page_locale
from .oauth_bp import protocol_request
from .oauth_bp import to_flask
from .signed_in import sign_in_first
from .signed_in import signed_in_citizen

bp = Blueprint("device", __name__)


@bp.post(device.PATH)
@csrf.exempt
def device_authorization() -> Response:
    preq = protocol_request(device.PATH)
    return to_flask(current_server().create_endpoint_response("device_authorization", preq))


def _self(user_code: str | None) -> str:
    query = "?" + urlencode({"user_code": user_code}) if user_code else ""
    return url_for("device.verify") + query


def _page(state: str, *, status: int = 200, **values: Any) -> tuple[str, int]:
    return render_template("device.html", state=state, **values), status


def _too_many(exc: TooManyAttempts, code: str) -> Response:
    seconds = max(1, int(exc.resets_in))
    page, status = _page(
        "enter",
        status=429,
        user_code=code,
        error=_("Too many wrong codes. Try again in %(seconds)d seconds.", seconds=seconds),
    )
    response = current_app.make_response((page, status))
    response.headers["Retry-After"] = str(seconds)
    return response


def _below_minimum(found: device.PendingApproval, sso: Any) -> Acr | None:
    """The kiosk's minimum level (its client policy), when the session is below it."""
    required = device.minimum_level(found.request.client_id)
    if required is None:
        return None
    standing = sso.standing(level_policy(), int(time.time()), at_least=required)
    return required if standing is None else None


@bp.route(device.VERIFICATION_PATH, methods=["GET", "POST"])
def verify() -> Any:
    raw = request.values.get("user_code")
    code = str(raw)[:32] if raw else ""
    signed_in = signed_in_citizen()
    if signed_in is None:
        return sign_in_first(return_to=_self(code or None))
    sso, citizen = signed_in
    if not code:
        return _page("enter", user_code="")
    try:
        found = device.find_request(code, ip=client_ip())
    except TooManyAttempts as exc:
        return _too_many(exc, code)
    if found is None:
        error = _("This code is not valid or has expired. Check the code on the kiosk screen.")
        return _page("enter", status=400, user_code=code, error=error)
    required = _below_minimum(found, sso)
    if required is not None:
        parked = require_reauthentication(
            browser=browser_id(), return_to=_self(code), required_acr=required
        )
        return redirect(url_for("interaction.show", uid=parked.uid), 303)
    if request.method == "GET":
        locale = str(page_locale())
        scopes = [c.name(locale) for s in found.request.scope.split() if (c := category(s))]
        return _page("confirm", found=found, citizen=citizen, scopes=scopes, user_code=code)
    decision = request.form.get("decision")
    if decision not in ("approve", "deny"):
        abort(400)
    try:
        decided = device.decide(code, approve=decision == "approve", session=sso, ip=client_ip())
    except TooManyAttempts as exc:
        return _too_many(exc, code)
    if decided is None:
        error = _("This code is not valid or has expired. Check the code on the kiosk screen.")
        return _page("enter", status=400, user_code=code, error=error)
    return _page("done", found=decided, approved=decision == "approve")
