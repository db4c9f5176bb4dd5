"""The mobile app's JSON API (README "Mobile app"), under ``/mobile/v1``.

=======  ================================  ==================================================
method   path                              what
=======  ================================  ==================================================
POST     ``/mobile/v1/devices``            bind a device key: ``Authorization: Bearer <access
                                           token>``, body ``{"proof": <binding JWT>}``; 201
GET      ``/mobile/v1/devices``            the citizen's bound devices
DELETE   ``/mobile/v1/devices/<id>``       unbind one (this device or another of the citizen's)
POST     ``/mobile/v1/qr``                 a scanned QR code: ``{"qr": "<what it encodes>"}``;
                                           answers the request to show (portal, channel,
                                           place, matching code)
POST     ``/mobile/v1/handoff``                a scanned hand-off code: ``{"handoff": "<URL>"}``;
                                           answers ``{"continue_url": ...}`` to open in the
                                           phone's browser (``idp.authn.handoff``)
GET      ``/mobile/v1/requests``           pending push requests and QR requests it scanned
POST     ``/mobile/v1/requests/<id>``      the decision: ``{"decision": "approve" | "deny" |
                                           "not_me", "uv": true, "uvm": "fpt" | "face" |
                                           "pin"}``
=======  ================================  ==================================================

Every call but the binding carries ``Authorization: Device <request JWT>`` signed by the
bound key (``idp.authn.devices``), covering method, URL, time, a single-use ``jti`` and
the body's hash. Errors are JSON ``{"error": ..., "error_description": ...}``: 400
``invalid_request``, 401 ``invalid_token`` (RFC 6750 3.1) or ``invalid_signature`` with
a ``WWW-Authenticate`` challenge, 404 ``not_found``, 409 ``already_decided`` /
``too_many_devices``, 410 ``expired``, 415 for a body that is not JSON. No CSRF token:
no cookie authenticates these calls.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint
from flask import Response
from flask import jsonify
from flask import render_template
from flask import request
from flask.blueprints import BlueprintSetupState

from idp.authn import approvals
from idp.authn import devices
from idp.authn import handoff as handoffs
from idp.authn.devices import Device
from idp.errors import IdpError
from idp.errors import InvalidInput

bp = Blueprint("mobile", __name__, url_prefix="/mobile")

MAX_BODY = 16 * 1024


def _error(status: int, error: str, description: str) -> Response:
    response = jsonify(error=error, error_description=description)
    response.status_code = status
    if status == 401:
        scheme = "Bearer" if error == "invalid_token" else devices.SCHEME
        response.headers["WWW-Authenticate"] = (
            f'{scheme} error="{error}", error_description="{description}"'
        )
    return response


def _refused(exc: IdpError) -> Response:
    if isinstance(exc, devices.DeviceRefused):
        return _error(exc.status, exc.error, exc.public)
    if isinstance(exc, InvalidInput):
        return _error(400, "invalid_request", exc.public)
    if isinstance(exc, approvals.UnknownRequest):
        return _error(404, "not_found", exc.public)
    if isinstance(exc, approvals.RequestExpired):
        return _error(410, "expired", exc.public)
    if isinstance(exc, approvals.AlreadyDecided):
        return _error(409, "already_decided", exc.public)
    return _error(400, "invalid_request", exc.public)


def _body() -> tuple[bytes, dict[str, Any]]:
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY:
        raise InvalidInput("The request body is too large.")
    if request.method in ("GET", "DELETE"):
        return raw, {}
    if not request.is_json:
        raise InvalidInput("Send a JSON body (Content-Type: application/json).")
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        raise InvalidInput("The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise InvalidInput("The body must be a JSON object.")
    return raw, data


def _signed() -> tuple[Device, dict[str, Any]]:
    raw, data = _body()
    device = devices.authenticate_request(
        authorization=request.headers.get("Authorization"),
        method=request.method,
        path=request.path,
        body=raw,
    )
    return device, data


def _device_view(device: Device, *, this: str | None = None) -> dict[str, Any]:
    return {
        "id": device.id,
        "name": device.name,
        "platform": device.platform,
        "bound_acr": str(device.bound_acr),
        "created_at": int(device.created_at.timestamp()),
        "last_used_at": int(device.last_used_at.timestamp()) if device.last_used_at else None,
        "this_device": device.id == this,
    }


# --- views ------------------------------------------------------------------------------------


def bind() -> Any:
    scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
    try:
        _, data = _body()
        if scheme != "Bearer" or not token.strip():
            raise devices.InvalidAppToken(detail="no bearer token")
        device = devices.bind(access_token=token.strip(), proof=str(data.get("proof") or ""))
    except IdpError as exc:
        return _refused(exc)
    return jsonify(_device_view(device, this=device.id)), 201


def list_devices() -> Any:
    try:
        device, _ = _signed()
    except IdpError as exc:
        return _refused(exc)
    items = devices.list_devices(citizen_id=device.citizen_id)
    return jsonify(devices=[_device_view(d, this=device.id) for d in items])


def remove_device(device_id: str) -> Any:
    try:
        device, _ = _signed()
    except IdpError as exc:
        return _refused(exc)
    if not devices.remove(citizen_id=device.citizen_id, device_id=device_id):
        return _error(404, "not_found", "No such device on this account.")
    return Response(status=204)


def scan() -> Any:
    try:
        device, data = _signed()
        scanned = approvals.scan(payload=str(data.get("qr") or ""), device=device)
    except IdpError as exc:
        return _refused(exc)
    return jsonify(scanned.view(approvals.now()))


def pending() -> Any:
    try:
        device, _ = _signed()
    except IdpError as exc:
        return _refused(exc)
    at = approvals.now()
    return jsonify(requests=[r.view(at) for r in approvals.pending_for(device)])


def decide(request_id: str) -> Any:
    try:
        device, data = _signed()
        try:
            decision = approvals.Decision(str(data.get("decision") or ""))
        except ValueError:
            raise InvalidInput("decision must be approve, deny or not_me.") from None
        uv = data.get("uv", False)
        if not isinstance(uv, bool):
            raise InvalidInput("uv must be true or false.")
        uvm = data.get("uvm")
        decided = approvals.decide(
            request_id=request_id,
            device=device,
            decision=decision,
            uv=uv,
            uvm=str(uvm) if uvm is not None else None,
        )
    except IdpError as exc:
        return _refused(exc)
    return jsonify(id=decided.id, status=decided.status, acr=decided.acr)


def handoff() -> Any:
    """The app scanned a hand-off code shown by the website (``idp.authn.handoff``)."""
    try:
        device, data = _signed()
        url = handoffs.redeem(payload=str(data.get("handoff") or ""), device=device)
    except handoffs.HandoffUnavailable as exc:
        return _error(404, "not_found", exc.public)
    except IdpError as exc:
        return _refused(exc)
    return jsonify(continue_url=url)


def qr_link(token: str) -> Any:
    """What a QR code's https link shows when it is opened outside the app (the app
    claims these links, RFC 8252 section 7.2): how to use it, nothing of the request."""
    return render_template("app_qr_link.html"), 200


ROUTES = (
    ("/qr/<token>", "qr_link", qr_link, ["GET"]),
    ("/handoff/<token>", "handoff_link", qr_link, ["GET"]),
    ("/v1/handoff", "handoff", handoff, ["POST"]),
    ("/v1/devices", "bind", bind, ["POST"]),
    ("/v1/devices", "devices", list_devices, ["GET"]),
    ("/v1/devices/<device_id>", "remove_device", remove_device, ["DELETE"]),
    ("/v1/qr", "scan", scan, ["POST"]),
    ("/v1/requests", "pending", pending, ["GET"]),
    ("/v1/requests/<request_id>", "decide", decide, ["POST"]),
)


def _routes_for_features(state: BlueprintSetupState) -> None:
    # A disabled feature registers no route (STYLE.md 7.3).
    if not state.app.config["IDP_FEATURE_MOBILE_APP"]:
        return
    for rule, endpoint, view, methods in ROUTES:
        state.add_url_rule(rule, endpoint=endpoint, view_func=view, methods=methods)
    # No cookie authenticates the API (bearer token or device signature): no CSRF token.
    state.app.extensions["csrf"].exempt(bp)


bp.record(_routes_for_features)
