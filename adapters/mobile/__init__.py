"""The mobile app channel: device binding, signed approvals, QR sign-in, push requests.

``bp`` is the app's JSON API (``adapters.mobile.api``, under ``/mobile/v1``, only with
``IDP_FEATURE_MOBILE_APP``); ``authenticate`` turns an approval the app signed into an
AuthResult for the browser (the website's, a kiosk's, or the CIBA poller) that waited for it. The
channel of that result is ``mobile``: the proof came from the app, whatever screen
showed the QR code. The level is what ``idp.authn.devices.approval_proof`` gave the
approval, capped (``extra["max_acr"]``) at the level the device was bound at. At a
kiosk, ``adapters.kiosk_app`` adds the kiosk (``AuthResult.kiosk_id``, its place) so the
session is a kiosk session; the channel stays ``mobile``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any

from adapters.base import AdapterError
from idp.authn import approvals
from idp.authn.interaction import Interaction
from idp.authn.result import AuthResult
from idp.authn.result import Channel

from .api import bp

NAME = Channel.MOBILE

__all__ = ["NAME", "authenticate", "bp", "result_from"]


class NotApproved(AdapterError):
    def __init__(self) -> None:
        super().__init__("The request was not approved in the app.")


def result_from(approved: approvals.Approved, *, via: str, place: str = "") -> AuthResult:
    return AuthResult(
        citizen_id=approved.citizen_id,
        methods=approved.methods,
        acr=approved.acr,
        channel=NAME,
        auth_time=datetime.fromtimestamp(int(approved.decided_at), UTC),
        device_id=approved.device_id,
        extra={"max_acr": str(approved.max_acr), "via": via, "place": place},
    )


def authenticate(*, interaction: Interaction, form: Mapping[str, Any]) -> AuthResult:
    """``form["approval"]``: the waiting browser's approval cookie (``<id>.<secret>``);
    ``form["via"]``: the channel that showed the request, ``form["place"]`` where it
    is (recorded in the SSO session). Raises NotApproved unless the
    request was approved for this interaction (claimed once)."""
    approved = approvals.claim(str(form.get("approval") or ""), interaction_uid=interaction.uid)
    if approved is None:
        raise NotApproved()
    return result_from(
        approved, via=str(form.get("via") or "website"), place=str(form.get("place") or "")
    )
