"""The kiosk channel: chip ID card + face match, signed by a registered kiosk.

The kiosk's own browser is the session's browser. Its reader software reads the chip
(and checks the chip's certificate), matches the face and tests liveness on the device,
signs a card assertion with the kiosk's registered key (format:
``idp.authn.methods.terminal``) and posts it from the kiosk's browser:

- ``GET /kiosk`` (``kiosk.home``), optionally ``?uid=<uid>`` (the kiosk screen for the
  sign-in a portal opened on the kiosk asked for, ``/login/<uid>``): signed out, the
  invitation to insert the card and "sign in with the app" (``adapters.kiosk_app``);
  signed in, who is signed in here, until when, "continue on your phone" and the "end"
  button. Every kiosk page carries a fresh server nonce (``data-nonce`` on
  ``#kiosk-screen``, ``idp.authn.kiosk_nonces``) that the kiosk software signs into its
  next assertion; the page reloads itself before the nonce expires.
- ``POST /kiosk/card`` (``kiosk.card``), form ``assertion`` and optionally ``uid``. The
  assertion is verified by the core (signature, freshness, single use, the page's
  nonce ...), and the result (``amr`` ``sc`` + ``face``, level high, channel kiosk, the
  kiosk as device and its place, ``kiosk_id``) goes to
  ``idp.authn.service.complete_login``, which starts a short kiosk session
  (``idp.authn.kiosk_sessions``). The cookie is a browser-session cookie (no Expires or
  Max-Age). Any portal opened on the kiosk then signs in through ``/authorize`` with it.
  Refused assertions are throttled per kiosk (``idp.authn.kiosk_throttle``): 429 with
  ``Retry-After``.
- ``GET /kiosk/status`` (``kiosk.status``): JSON ``{"signed_in": true|false}`` for the
  signed-in screen's poll (``static/js/kiosk.js``): it shows "ended" once the session is
  gone (timed out, card removed, continued on the phone, signed out elsewhere).
- ``POST /kiosk/end`` (``kiosk.end``, CSRF-checked): the citizen ends the session; the
  kiosk browser's UI cookie is cleared too, so the next person starts afresh.
- ``POST /kiosk/event`` (``kiosk.event``, an API call): a signed ``card_removed`` event
  ends the session at that kiosk, wherever its browser is.

No CSRF token on ``/kiosk/card`` and ``/kiosk/event``: each request carries a
single-use assertion only the kiosk's key can sign. This module never writes a session
or mints a token.
"""

from __future__ import annotations

import logging
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
from idp.authn import kiosk_nonces
from idp.authn import kiosk_sessions
from idp.authn import kiosk_throttle
from idp.authn.assurance import level_for
from idp.authn.interaction import Interaction
from idp.authn.interaction import State
from idp.authn.methods.terminal import AssertionRejected
from idp.authn.methods.terminal import claimed_kiosk
from idp.authn.methods.terminal import verify_card_assertion
from idp.authn.methods.terminal import verify_event
from idp.authn.result import Acr
from idp.authn.result import Amr
from idp.authn.result import AuthResult
from idp.authn.result import Channel
from idp.authn.service import current_session
from idp.authn.service import peek_session
from idp.errors import CitizenLocked
from idp.errors import InteractionExpired
from idp.errors import TooManyAttempts
from idp.web.browser import browser_id
from idp.web.browser import clear_sso_cookie
from idp.web.browser import client_ip
from idp.web.browser import set_sso_cookie
from idp.web.browser import sso_cookie

log = logging.getLogger(__name__)

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
    "nonce_missing": N_("This kiosk's screen is out of date. Wait a moment and try again."),
    "nonce_mismatch": N_("This kiosk's screen is out of date. Wait a moment and try again."),
    "nonce_reused": N_("This kiosk's screen is out of date. Wait a moment and try again."),
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
    ``form["browser"]`` is the id of the browser that posted it (its page's nonce).
    Raises ``AssertionRejected`` (``reason`` says why).
    """
    verified = verify_card_assertion(
        assertion=form.get("assertion"),
        audience=_audience(CARD_PATH),
        now=int(time.time()),
        max_age=_max_age(),
        browser=str(form.get("browser") or ""),
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
        kiosk_id=verified.kiosk.client_id,
    )


# --- pages ----------------------------------------------------------------------------------


def page(state: str, *, status: int = 200, uid: str = "", **context: Any) -> Any:
    """A kiosk screen: every one carries a fresh nonce for the next assertion."""
    nonce = kiosk_nonces.issue(pages.store(), channel=NAME, binding=browser_id())
    html = render_template(
        "kiosk.html",
        state=state,
        nonce=nonce,
        uid=uid,
        reload_after=_reload_after(state),
        app_qr="kiosk.app_qr" in current_app.view_functions,
        **context,
    )
    return html, status


def _reload_after(state: str) -> int:
    """Seconds until a signed-out screen reloads itself (0: never): an idle screen before
    its nonce expires, a message after it was read. The QR screen follows its request
    instead (the poll sees "expired"); the signed-in one never reloads (a reload is a
    page view, and the idle limit must still bite)."""
    if state in ("refused", "ended"):
        return 15
    if state == "idle":
        return max(10, min(kiosk_nonces.ttl(NAME), 120) - 10)
    return 0


def kiosk_session() -> Any:
    """The kiosk session in this browser, or None."""
    current = current_session(sso_cookie())
    return current if current is not None and current.kiosk_id else None


def _pending_uid(value: Any) -> str:
    """``uid`` when it names a pending sign-in of this browser, else ""."""
    uid = str(value or "")[:64]
    if not uid:
        return ""
    try:
        interaction = pages.load(uid)
    except InteractionExpired:
        return ""
    return uid if interaction.state == State.PENDING else ""


def home() -> Any:
    current = kiosk_session()
    if current is None:
        return page("idle", uid=_pending_uid(request.args.get("uid")))
    return page(
        "signed_in",
        place=current.place,
        high=current.acr == Acr.HIGH,
        minutes_left=max(1, (current.expires_at - int(time.time()) + 59) // 60),
        handoff=handoff_qr(current),
    )


def status() -> Any:
    # A peek: the screen's poll is not a page view and keeps no session alive.
    current = peek_session(sso_cookie())
    response = jsonify(signed_in=current is not None and current.kiosk_id is not None)
    response.headers["Cache-Control"] = "no-store"
    return response


def handoff_qr(current: Any) -> dict[str, Any] | None:
    """The "continue on your phone" code for the signed-in screen (with the mobile app
    feature; ``adapters.kiosk_app``)."""
    return kiosk_app.handoff_qr(current)


def throttled(exc: TooManyAttempts) -> Any:
    message = pages.too_many(exc)
    return pages.retry_after(page("refused", status=429, error=message, reason="throttled"), exc)


def check_throttle(assertion: Any) -> None:
    """Raise ``TooManyAttempts`` when this kiosk or this address used up its refusals."""
    kiosk = claimed_kiosk(assertion)
    keys = [kiosk_throttle.ip_key(client_ip())]
    if kiosk:
        keys.insert(0, kiosk_throttle.kiosk_key(kiosk))
    record = kiosk_throttle.kiosk_record(kiosk)
    kiosk_throttle.check(pages.store(), channel=NAME, keys=keys, record=record)


def refusal(exc: AssertionRejected) -> Any:
    """The 400 screen for a refused assertion, counted against who is answerable for it.
    The sender sees ``exc.shown``; the precise reason goes to the log for operators."""
    log.info("kiosk assertion refused: %s (shown as %s)", exc.reason, exc.shown)
    count_refusal(exc)
    message = _(_MESSAGES.get(exc.shown, _GENERIC))
    return page("refused", status=400, error=message, reason=exc.shown)


def count_refusal(exc: AssertionRejected) -> None:
    if exc.reason == "missing":
        return  # nothing was sent (the button touched before the software filled it)
    key = (
        kiosk_throttle.kiosk_key(exc.kiosk_id)
        if exc.kiosk_id
        else kiosk_throttle.ip_key(client_ip())
    )
    kiosk_throttle.refused(pages.store(), channel=NAME, key=key)


def interaction_for(uid: Any) -> Interaction:
    """The pending sign-in ``uid`` of this browser, or a new one back to the kiosk screen."""
    uid = str(uid or "")[:64]
    interaction = None
    if uid:
        try:
            interaction = pages.load(uid)
        except InteractionExpired:
            interaction = None  # another browser's, finished or expired: sign in directly
    if interaction is None or interaction.state != State.PENDING:
        interaction = pages.park(return_to=url_for("kiosk.home"))
    return interaction


def card() -> Any:
    assertion = request.form.get("assertion")
    try:
        check_throttle(assertion)
    except TooManyAttempts as exc:
        return throttled(exc)
    interaction = interaction_for(request.form.get("uid"))
    try:
        result = authenticate(
            interaction=interaction, form={"assertion": assertion, "browser": browser_id()}
        )
    except AssertionRejected as exc:
        return refusal(exc)
    try:
        outcome = pages.complete(interaction, result)
    except CitizenLocked as exc:
        return page("refused", status=403, error=_(exc.public), reason="locked")
    return signed_in(interaction, outcome.cookie_value)


def signed_in(interaction: Interaction, cookie_value: str) -> Response:
    """After a kiosk sign-in: on to the portal (or the kiosk screen) with the new cookie."""
    # A new CSRF token for the signed-in browser (OWASP: renew tokens on privilege change).
    session.pop("csrf_token", None)
    response = cast(Response, redirect(url_for("interaction.resume", uid=interaction.uid), 303))
    kiosk_app.forget(response)  # a QR code still waiting here is void now
    # A browser-session cookie: gone when the kiosk browser closes, and the session
    # behind it is short anyway (IDP_KIOSK_SESSION_SECONDS).
    return set_sso_cookie(response, cookie_value, persistent=False)


def end() -> BaseResponse:
    current = current_session(sso_cookie())
    if current is not None:
        kiosk_sessions.end_current(current)
    # The next person at this kiosk gets a new browser id and CSRF token.
    session.clear()
    response = cast(Response, redirect(url_for("kiosk.ended"), 303))
    kiosk_app.forget(response)  # and any QR code still waiting in this browser
    return clear_sso_cookie(response)


def ended() -> Any:
    if kiosk_session() is None:
        # Ended elsewhere (card removed, continued on the phone): the next person gets
        # a new browser id and CSRF token here too.
        session.clear()
    return page("ended")


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
        log.info("kiosk event refused: %s (shown as %s)", exc.reason, exc.shown)
        body = {"error": "invalid_assertion", "error_description": exc.public, "reason": exc.shown}
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
    state.add_url_rule("/status", endpoint="status", view_func=status, methods=["GET"])
    state.add_url_rule("/event", endpoint="event", view_func=event, methods=["POST"])
    # Signed, single-use assertions stand in for the CSRF token on these two.
    csrf = state.app.extensions["csrf"]
    csrf.exempt(card)
    csrf.exempt(event)


bp.record(_routes)

from . import kiosk_app  # noqa: E402,F401 - "sign in with the app" and the hand-off QR
