"""The kiosk channel: chip ID card + face match, signed by a registered kiosk.

The kiosk's own browser is the session's browser. Its reader software reads the chip
(and checks the chip's certificate), matches the face and tests liveness on the device,
signs a card assertion with the kiosk's registered key (format:
``idp.authn.methods.terminal``) and posts it from the kiosk's browser:

- ``POST /kiosk/card`` (``kiosk.card``), form ``assertion`` and optionally ``uid`` (the
  sign-in page the kiosk browser shows, ``/login/<uid>``, when a portal opened on the
  kiosk asked for a sign-in). The assertion is verified by the core, and the result
  (``amr`` ``sc`` + ``face``, level high, channel kiosk, the kiosk as device and its
  place) goes to ``idp.authn.service.complete_login``, which starts a short kiosk session
  (``idp.authn.kiosk_sessions``). The cookie is a browser-session cookie (no Expires or
  Max-Age). Any portal opened on the kiosk then signs in through ``/authorize`` with it.
- ``GET /kiosk`` (``kiosk.home``): who is signed in here, until when, and the "end"
  button; or, signed out, the invitation to insert the card.
- ``POST /kiosk/end`` (``kiosk.end``, CSRF-checked): the citizen ends the session; the
  kiosk browser's UI cookie is cleared too, so the next person starts afresh.
- ``POST /kiosk/event`` (``kiosk.event``, an API call): a signed ``card_removed`` event
  ends the session at that kiosk, wherever its browser is.

No CSRF token on ``/kiosk/card`` and ``/kiosk/event``: each request carries a
single-use assertion only the kiosk's key can sign. This module never writes a session
or mints a token.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any
from typing import cast

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from adapters import website_pages as pages
from idp.authn import kiosk_sessions
from idp.authn.assurance import level_for
from idp.authn.interaction import Interaction
from idp.authn.interaction import State
from idp.authn.methods.terminal import AssertionRejected
from idp.authn.methods.terminal import verify_card_assertion
from idp.authn.methods.terminal import verify_event
from idp.authn.result import Acr
from idp.authn.result import Amr
from idp.authn.result import AuthResult
from idp.authn.result import Channel
from idp.authn.service import complete_login
from idp.authn.service import current_session
from idp.errors import CitizenLocked
from idp.errors import InteractionExpired
from idp.web.browser import browser_id
from idp.web.browser import clear_sso_cookie
from idp.web.browser import set_sso_cookie
from idp.web.browser import sso_cookie

NAME = Channel.KIOSK
bp = Blueprint("kiosk", __name__, url_prefix="/kiosk")

CARD_PATH = "/kiosk/card"  # the audience of card assertions
EVENT_PATH = "/kiosk/event"  # the audience of kiosk events
METHODS = (Amr.SC, Amr.FACE)


def N_(message: str) -> str:  # noqa: N802 - the gettext no-op marker (extracted, shown via _())
    return message


# What the citizen is told for each refusal (the reason code stays in the page's markup
# for the kiosk software; it holds no personal data).
_MESSAGES = {
    "face_mismatch": N_("The face check did not match the ID card. Try again, or ask staff."),
    "liveness_failed": N_("The face check did not pass. Look at the camera and try again."),
    "card_not_verified": N_("The ID card could not be verified. Insert it again, or ask staff."),
    "unknown_id_number": N_(
        "There is no account for this ID card yet. Register online or at a service counter."
    ),
    "invalid_id_number": N_("The ID card could not be read. Insert it again, or ask staff."),
}
_GENERIC = N_("This kiosk could not sign you in. Insert the card again, or ask staff.")


def _audience(path: str) -> str:
    return str(current_app.config["IDP_ISSUER"]).rstrip("/") + path


def _max_age() -> int:
    return int(current_app.config["IDP_KIOSK_ASSERTION_MAX_AGE"])


# --- the channel interface -----------------------------------------------------------------


def authenticate(*, interaction: Interaction, form: Mapping[str, Any]) -> AuthResult:
    """Turn a posted card assertion into an AuthResult (``adapters.base.ChannelAdapter``).

    The kiosk vouches for the card and the face; the result says which kiosk, and where.
    Raises ``AssertionRejected`` (``reason`` says why).
    """
    verified = verify_card_assertion(
        assertion=form.get("assertion"),
        audience=_audience(CARD_PATH),
        now=int(time.time()),
        max_age=_max_age(),
    )
    return AuthResult(
        citizen_id=verified.citizen_id,
        methods=METHODS,
        acr=level_for(METHODS, channel=NAME),
        channel=NAME,
        auth_time=datetime.now(UTC),
        device_id=verified.kiosk.client_id,
        place=verified.kiosk.place,
        extra={"kiosk": verified.kiosk.name},
    )


# --- pages ----------------------------------------------------------------------------------


def home() -> Any:
    current = current_session(sso_cookie())
    if current is None or current.channel != NAME:
        return render_template("kiosk.html", state="idle")
    return render_template(
        "kiosk.html",
        state="signed_in",
        place=current.place,
        high=current.acr == Acr.HIGH,
        minutes_left=max(1, (current.expires_at - int(time.time()) + 59) // 60),
    )


def card() -> Any:
    uid = str(request.form.get("uid") or "")[:64]
    interaction = None
    if uid:
        try:
            interaction = pages.load(uid)
        except InteractionExpired:
            interaction = None  # another browser's, finished or expired: sign in directly
    if interaction is None or interaction.state != State.PENDING:
        interaction = pages.park(return_to=url_for("kiosk.home"))
    try:
        result = authenticate(interaction=interaction, form=request.form)
    except AssertionRejected as exc:
        message = _(_MESSAGES.get(exc.reason, _GENERIC))
        page = render_template("kiosk.html", state="refused", error=message, reason=exc.reason)
        return page, 400
    try:
        outcome = complete_login(
            interaction.uid,
            result,
            browser=browser_id(),
            current_cookie=sso_cookie(),
            user_agent=request.user_agent.string or "",
        )
    except CitizenLocked as exc:
        page = render_template("kiosk.html", state="refused", error=_(exc.public), reason="locked")
        return page, 403
    # A new CSRF token for the signed-in browser (OWASP: renew tokens on privilege change).
    session.pop("csrf_token", None)
    response = cast(Response, redirect(url_for("interaction.resume", uid=interaction.uid), 303))
    # A browser-session cookie: gone when the kiosk browser closes, and the session
    # behind it is short anyway (IDP_KIOSK_SESSION_SECONDS).
    return set_sso_cookie(response, outcome.cookie_value, persistent=False)


def end() -> BaseResponse:
    current = current_session(sso_cookie())
    if current is not None:
        kiosk_sessions.end_current(current)
    # The next person at this kiosk gets a new browser id and CSRF token.
    session.clear()
    response = cast(Response, redirect(url_for("kiosk.ended"), 303))
    return clear_sso_cookie(response)


def ended() -> Any:
    return render_template("kiosk.html", state="ended")


def event() -> Any:
    """A signed kiosk event (``card_removed``): end the session at that kiosk."""
    payload = request.get_json(silent=True) if request.is_json else request.form
    assertion = payload.get("assertion") if isinstance(payload, Mapping) else None
    try:
        verified = verify_event(
            assertion=assertion,
            audience=_audience(EVENT_PATH),
            now=int(time.time()),
            max_age=_max_age(),
        )
    except AssertionRejected as exc:
        body = {"error": "invalid_assertion", "error_description": exc.public, "reason": exc.reason}
        return jsonify(body), 400
    ended_one = kiosk_sessions.end_for_kiosk(verified.kiosk.client_id)
    return jsonify(event=verified.event, session_ended=ended_one)


def _routes(state: BlueprintSetupState) -> None:
    # A disabled feature registers no route (STYLE.md 7.3).
    if not state.app.config["IDP_FEATURE_KIOSK"]:
        return
    state.add_url_rule("", endpoint="home", view_func=home, methods=["GET"])
    state.add_url_rule("/card", endpoint="card", view_func=card, methods=["POST"])
    state.add_url_rule("/end", endpoint="end", view_func=end, methods=["POST"])
    state.add_url_rule("/ended", endpoint="ended", view_func=ended, methods=["GET"])
    state.add_url_rule("/event", endpoint="event", view_func=event, methods=["POST"])
    # Signed, single-use assertions stand in for the CSRF token on these two.
    csrf = state.app.extensions["csrf"]
    csrf.exempt(card)
    csrf.exempt(event)


bp.record(_routes)
