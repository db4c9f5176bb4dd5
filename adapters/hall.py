"""The service-hall counter channel (issue 5): staff-assisted sign-in and in-person proofing.

The counter terminal is a registered device (``idp kiosks create --kind counter``) whose
browser shows these pages to the staff member; its reader software opens
``/hall?counter=<client_id>`` and posts signed card readings
(``idp.authn.methods.terminal``, ``typ`` ``counter-card+jwt``). The rules live in
``idp.authn.hall``; this module only reads forms and renders pages.

- ``GET /hall`` (``hall.home``): the staff sign-in (security key, UV required, role
  counter_staff) or, signed in, the counter page waiting for a card. That page (and
  each refusal shown on it) carries a fresh server nonce (``data-nonce`` on
  ``#hall-state``, ``idp.authn.hall.page_nonce``) that the reader software signs into
  its next card reading.
- ``POST /hall/sign-in/options``, ``POST /hall/sign-in``, ``POST /hall/sign-out``.
- ``POST /hall/card``: the signed card reading with the page's nonce; opens a case (no
  CSRF token: a single-use assertion only the counter's key can sign, bound to the
  nonce of this staff session's counter page, plus the SameSite=Strict staff cookie of
  that counter). Refused readings are throttled per counter, staff member and address
  (``idp.authn.hall``): 429 with ``Retry-After``.
- ``GET /hall/case/<uid>``; ``POST /hall/case/<uid>/confirm`` (the face matches the card:
  a deliberate tick and button, recorded), ``.../session`` (start the assisted session
  in this browser), ``.../proofing``, ``.../phone``, ``.../phone/verify``,
  ``.../password`` (the citizen types a new password at the counter screen),
  ``.../passkey-code`` (a one-time passkey enrolment code, shown once), ``.../close``.
- ``GET|POST /hall/passkey``, ``POST /hall/passkey/options``, ``POST /hall/passkey/finish``:
  on the citizen's own device, no staff session: type the code, register a passkey
  (``idp.authn.hall_passkeys``).

This module never writes a session or mints a token: the assisted session goes through
``idp.authn.service.complete_login``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any
from typing import cast

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import session as ui_session
from flask import url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from adapters import website_pages as pages
from idp.authn import hall
from idp.authn import hall_passkeys
from idp.authn.citizens import id_number_of
from idp.authn.citizens import mask_phone
from idp.authn.hall import CounterStaff
from idp.authn.hall import HallRefused
from idp.authn.interaction import Interaction
from idp.authn.methods.terminal import AssertionRejected
from idp.authn.result import AuthResult
from idp.authn.result import Channel
from idp.authn.service import current_session
from idp.authn.sms.codes import CodeExpired
from idp.authn.staff import ceremonies
from idp.authn.staff.errors import StaffError
from idp.errors import CitizenLocked
from idp.errors import IdpError
from idp.errors import InvalidInput
from idp.errors import TooManyAttempts
from idp.ids.protect import redact
from idp.web.browser import browser_id
from idp.web.browser import clear_strict_cookie
from idp.web.browser import client_ip
from idp.web.browser import set_sso_cookie
from idp.web.browser import set_strict_cookie
from idp.web.browser import sso_cookie

NAME = Channel.HALL
bp = Blueprint("hall", __name__, url_prefix="/hall")

PATH = "/hall"
CARD_PATH = "/hall/card"  # the audience of counter card readings
MAX_RESPONSE_BYTES = 64 * 1024


def N_(message: str) -> str:  # noqa: N802 - the gettext no-op marker (extracted, shown via _())
    return message


_CARD_MESSAGES = {
    "card_not_verified": N_("The ID card chip could not be verified. Read the card again."),
    "unknown_id_number": N_("There is no account for this ID card. The citizen can register."),
    "invalid_id_number": N_("The ID card could not be read. Read the card again."),
    # The reader signs the nonce of the counter page it reads from (this page has a new one).
    "nonce_missing": N_(
        "The card reading did not carry this counter page's code. Read the card again."
    ),
    "nonce_mismatch": N_(
        "The card reading was made for another or an expired counter page. Read the card again."
    ),
    "nonce_reused": N_(
        "The card reading was made for a counter page that was already used. Read the card again."
    ),
}
_CARD_GENERIC = N_("The card reading was refused. Read the card again.")


def _throttled(exc: TooManyAttempts) -> str:
    """What the staff member is told when card readings are paused (429)."""
    seconds = max(1, int(exc.resets_in))
    if seconds >= 120:
        return _(
            "Too many card readings were refused. Card reading is paused for %(minutes)d "
            "minutes. If this happens again, have the counter terminal checked.",
            minutes=(seconds + 59) // 60,
        )
    return _(
        "Too many card readings were refused. Card reading is paused for %(seconds)d "
        "seconds. If this happens again, have the counter terminal checked.",
        seconds=seconds,
    )


# --- the staff cookie ------------------------------------------------------------------------


def _cookie() -> str | None:
    return request.cookies.get(current_app.config["IDP_HALL_COOKIE"])


def _set_cookie(response: BaseResponse, value: str) -> BaseResponse:
    """Only sent to ``/hall``: the console and citizens' pages never see it."""
    return set_strict_cookie(response, current_app.config["IDP_HALL_COOKIE"], value, path=PATH)


def _clear_cookie(response: BaseResponse) -> BaseResponse:
    return clear_strict_cookie(response, current_app.config["IDP_HALL_COOKIE"], path=PATH)


def _staff_page(view: Callable[..., Any]) -> Callable[..., Any]:
    """A counter staff session, else the sign-in page (401); passes ``staff``."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        staff = hall.load_counter_session(_cookie())
        if staff is None:
            page = render_template("hall_sign_in.html", counter=_counter_arg(), ended=True)
            return _clear_cookie(cast(Response, current_app.make_response((page, 401))))
        return view(staff, *args, **kwargs)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


def _counter_arg() -> str:
    return str(request.values.get("counter") or "")[:64]


# --- the channel interface -------------------------------------------------------------------


def authenticate(*, interaction: Interaction, form: Mapping[str, Any]) -> AuthResult:
    """The AuthResult of a confirmed case (``adapters.base.ChannelAdapter``): ``form``
    carries ``case`` (its uid); the staff member is the one signed in at this counter.
    Raises ``HallRefused``."""
    staff = hall.load_counter_session(_cookie())
    if staff is None:
        raise HallRefused("Sign in at the counter first.", reason="no_staff")
    return hall.assisted_result(staff, hall.get_case(staff, form.get("case")))


# --- sign-in ---------------------------------------------------------------------------------


def home() -> Any:
    staff = hall.load_counter_session(_cookie())
    if staff is None:
        return render_template("hall_sign_in.html", counter=_counter_arg())
    current = current_session(sso_cookie())
    assisted = current is not None and current.channel == NAME
    return _counter_page(
        staff,
        assisted=assisted,
        minutes_left=max(1, (current.expires_at - int(time.time()) + 59) // 60)
        if current is not None and assisted
        else 0,
    )


def _counter_page(staff: CounterStaff, *, status: int = 200, **context: Any) -> Any:
    """The counter page waiting for a card: every one carries a fresh nonce for the next
    reading. It never reloads itself (a reload would keep the staff session alive)."""
    page = render_template("hall.html", staff=staff, nonce=hall.page_nonce(staff), **context)
    return page, status


def sign_in_options() -> Any:
    return jsonify(ceremonies.start_sign_in(binding=browser_id()))


def sign_in() -> Any:
    counter = _counter_arg()
    response = str(request.form.get("credential") or "")
    if (request.content_length or 0) > MAX_RESPONSE_BYTES:
        response = ""
    try:
        member = ceremonies.finish_sign_in(binding=browser_id(), response=response)
    except StaffError as exc:
        page = render_template("hall_sign_in.html", counter=counter, error=_(exc.public))
        return page, 401
    try:
        cookie = hall.start_counter_session(staff=member, counter_id=counter)[1]
    except HallRefused as exc:
        page = render_template("hall_sign_in.html", counter=counter, error=_(exc.public))
        return page, 403
    session_renewed()
    return _set_cookie(redirect(url_for("hall.home"), 303), cookie)


def session_renewed() -> None:
    # A new CSRF token after a privilege change (OWASP).
    ui_session.pop("csrf_token", None)


def sign_out() -> BaseResponse:
    counter = hall.end_counter_session(_cookie())
    ui_session.clear()
    response = _clear_cookie(redirect(url_for("hall.home", counter=counter), 303))
    # The assisted session at this counter ended with the staff session.
    from idp.web.browser import clear_sso_cookie

    return clear_sso_cookie(cast(Response, response))


# --- the card and the case -------------------------------------------------------------------


@_staff_page
def card(staff: CounterStaff) -> Any:
    try:
        case = hall.read_card(
            staff,
            assertion=request.form.get("assertion"),
            audience=str(current_app.config["IDP_ISSUER"]).rstrip("/") + CARD_PATH,
            now=int(time.time()),
            ip=client_ip(),
        )
    except TooManyAttempts as exc:
        page = _counter_page(staff, status=429, error=_throttled(exc), reason=hall.THROTTLED)
        return pages.retry_after(page, exc)
    except AssertionRejected as exc:
        # The precise reason is on the audit trail (hall.read_card); the page says what
        # the sender may learn.
        message = _(_CARD_MESSAGES.get(exc.shown, _CARD_GENERIC))
        return _counter_page(staff, status=400, error=message, reason=exc.shown)
    except HallRefused as exc:
        return _counter_page(staff, status=403, error=_(exc.public), reason=exc.reason)
    return redirect(url_for("hall.case", uid=case.uid), 303)


def _case_page(staff: CounterStaff, case: hall.Case, *, status: int = 200, **extra: Any) -> Any:
    citizen = hall.citizen_of(case)
    page = render_template(
        "hall_case.html",
        staff=staff,
        case=case,
        citizen=citizen,
        masked_number=redact(id_number_of(citizen)),
        masked_phone=mask_phone(citizen.phone),
        pending_phone=mask_phone(case.phone_pending),
        **extra,
    )
    return page, status


def _with_case(view: Callable[..., Any]) -> Callable[..., Any]:
    """The staff member's live case ``uid``, else the counter page (404)."""

    def wrapper(staff: CounterStaff, uid: str) -> Any:
        try:
            case = hall.get_case(staff, uid)
        except HallRefused as exc:
            return _counter_page(staff, status=404, error=_(exc.public), reason=exc.reason)
        try:
            return view(staff, case)
        except HallRefused as exc:
            fresh = hall.get_case(staff, uid)
            return _case_page(staff, fresh, status=400, error=_(exc.public), reason=exc.reason)
        except InvalidInput as exc:
            fresh = hall.get_case(staff, uid)
            return _case_page(staff, fresh, status=400, error=_(exc.public), reason=exc.field)

    wrapper.__name__ = view.__name__
    return _staff_page(wrapper)


@_with_case
def case(staff: CounterStaff, case: hall.Case) -> Any:
    return _case_page(staff, case)


@_with_case
def confirm(staff: CounterStaff, case: hall.Case) -> Any:
    # A deliberate step: the tick box says the staff member compared the face.
    if request.form.get("face_matches") != "yes":
        raise HallRefused(
            "Tick the box to confirm that the face matches the ID card.", reason="not_ticked"
        )
    hall.confirm_face(staff, case)
    return redirect(url_for("hall.case", uid=case.uid), 303)


@_with_case
def assisted_session(staff: CounterStaff, case: hall.Case) -> Any:
    interaction = pages.park(return_to=url_for("hall.home"))
    result = authenticate(interaction=interaction, form={"case": case.uid})
    try:
        outcome = pages.complete(interaction, result)
    except CitizenLocked as exc:
        raise HallRefused(exc.public, reason="locked") from None
    session_renewed()
    response = cast(Response, redirect(url_for("interaction.resume", uid=interaction.uid), 303))
    # A browser-session cookie; the session itself is short (IDP_HALL_SESSION_SECONDS).
    return set_sso_cookie(response, outcome.cookie_value, persistent=False)


@_with_case
def proofing(staff: CounterStaff, case: hall.Case) -> Any:
    hall.raise_proofing(staff, case)
    return _case_page(staff, case, done="proofing")


@_with_case
def phone(staff: CounterStaff, case: hall.Case) -> Any:
    try:
        pending = hall.send_phone_code(
            staff, case, phone=str(request.form.get("phone") or "")[:32], ip=client_ip()
        )
    except TooManyAttempts as exc:
        return _case_page(staff, case, status=429, error=pages.too_many(exc), reason="too_many")
    return _case_page(staff, pending, done="code_sent")


@_with_case
def phone_verify(staff: CounterStaff, case: hall.Case) -> Any:
    try:
        done = hall.bind_phone(staff, case, code=str(request.form.get("code") or "")[:32])
    except CodeExpired:
        raise HallRefused("The code has expired. Send a new one.", reason="code_expired") from None
    return _case_page(staff, done, done="phone")


@_with_case
def password(staff: CounterStaff, case: hall.Case) -> Any:
    hall.reset_password(
        staff,
        case,
        password=str(request.form.get("password") or "")[:1024],
        confirm=str(request.form.get("confirm") or "")[:1024],
    )
    return _case_page(staff, case, done="password")


@_with_case
def passkey_code(staff: CounterStaff, case: hall.Case) -> Any:
    code = hall_passkeys.issue_code(staff, case)
    return _case_page(staff, case, done="passkey_code", passkey_code=code)


# --- passkey enrolment on the citizen's own device -------------------------------------------


def passkey_start() -> Any:
    return render_template("hall_passkey.html", step="code")


def passkey_code_entered() -> Any:
    try:
        enrolment = hall_passkeys.accept_code(
            code=str(request.form.get("code") or ""), browser=browser_id(), ip=client_ip()
        )
    except TooManyAttempts as exc:
        page = render_template("hall_passkey.html", step="code", error=pages.too_many(exc))
        return page, 429
    except hall_passkeys.EnrolmentCodeInvalid as exc:
        page = render_template("hall_passkey.html", step="code", error=_(exc.public))
        return page, 400
    return render_template("hall_passkey.html", step="key", place=enrolment.place)


def passkey_options() -> Any:
    try:
        return jsonify(hall_passkeys.options(browser=browser_id()))
    except IdpError as exc:
        return jsonify(error=_(exc.public)), 400


def passkey_finish() -> Any:
    response = str(request.form.get("credential") or "")
    if (request.content_length or 0) > MAX_RESPONSE_BYTES:
        response = ""
    try:
        hall_passkeys.finish(
            browser=browser_id(),
            response=response,
            name=str(request.form.get("name") or "")[:64] or _("Passkey"),
        )
    except hall_passkeys.EnrolmentCodeInvalid as exc:
        page = render_template("hall_passkey.html", step="code", error=_(exc.public))
        return page, 400
    except IdpError as exc:
        enrolment = hall_passkeys.pending(browser=browser_id())
        step = "key" if enrolment is not None else "code"
        place = enrolment.place if enrolment else None
        page = render_template("hall_passkey.html", step=step, place=place, error=_(exc.public))
        return page, 400
    return render_template("hall_passkey.html", step="done")


@_with_case
def close(staff: CounterStaff, case: hall.Case) -> Any:
    response = cast(Response, redirect(url_for("hall.home"), 303))
    if hall.close_case(staff, case):
        from idp.web.browser import clear_sso_cookie

        return clear_sso_cookie(response)
    return response


def _routes(state: BlueprintSetupState) -> None:
    # A disabled feature registers no route (STYLE.md 7.3).
    if not state.app.config["IDP_FEATURE_HALL"]:
        return
    add = state.add_url_rule
    add("", endpoint="home", view_func=home, methods=["GET"])
    add("/sign-in/options", endpoint="sign_in_options", view_func=sign_in_options, methods=["POST"])
    add("/sign-in", endpoint="sign_in", view_func=sign_in, methods=["POST"])
    add("/sign-out", endpoint="sign_out", view_func=sign_out, methods=["POST"])
    add("/card", endpoint="card", view_func=card, methods=["POST"])
    add("/case/<uid>", endpoint="case", view_func=case, methods=["GET"])
    for name, view in (
        ("confirm", confirm),
        ("session", assisted_session),
        ("proofing", proofing),
        ("phone", phone),
        ("phone/verify", phone_verify),
        ("password", password),
        ("passkey-code", passkey_code),
        ("close", close),
    ):
        endpoint = "assisted_session" if name == "session" else re.sub("[/-]", "_", name)
        add(f"/case/<uid>/{name}", endpoint=endpoint, view_func=view, methods=["POST"])
    add("/passkey", endpoint="passkey", view_func=passkey_start, methods=["GET"])
    entered = passkey_code_entered
    add("/passkey", endpoint="passkey_code_entered", view_func=entered, methods=["POST"])
    add("/passkey/options", endpoint="passkey_options", view_func=passkey_options, methods=["POST"])
    add("/passkey/finish", endpoint="passkey_finish", view_func=passkey_finish, methods=["POST"])
    # The signed, single-use reading stands in for the CSRF token on /hall/card.
    state.app.extensions["csrf"].exempt(card)


bp.record(_routes)
