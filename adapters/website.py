"""The website channel: ID number + password, a TOTP (or recovery code) when enrolled,
and self-registration against the population registry.

Pages, in order:

- ``/login/<uid>`` (``website.login``): the ID number and password form for an
  interaction parked by ``/interaction/<uid>``. The number may be typed in any form
  ``idp.ids.parse_id_number`` accepts; it travels only in POST bodies.
- ``/login/<uid>/code`` (``website.second_factor``): the TOTP or recovery-code form, when
  the citizen has a confirmed authenticator. The half-done login (password accepted) is
  kept in the signed UI cookie under the interaction uid for ``PENDING_TTL`` seconds, and
  holds only the citizen's internal id, never in a URL.
- ``/login/<uid>`` again, as the step-up page: when the interaction is a step-up
  (reason ``acr_too_low``) and the citizen in the browser's session has earlier proofs
  to build on, ``GET`` shows only the enrolled factors that lift the session to the
  required level (``idp.authn.service.step_up_plan``): a TOTP or recovery code, the
  password (after a passkey-only sign-in), a passkey (a link to ``website.passkey``).
  They post to ``/login/<uid>/step-up`` (``website.step_up``); the result carries only
  the new proof and the core joins it to the earlier ones.
- ``/login`` (``website.start``): a direct visit; parks an interaction that returns to
  the account page.
- ``/register``, ``/register/code``, ``/register/resend`` (``website.register...``, only
  with ``IDP_FEATURE_SELF_REGISTRATION``; ``adapters.website_registration``).

Every ending goes through ``idp.authn.service.complete_login`` and then to
``interaction.resume``: this module never writes a session or mints a token. A failed form
is shown again with what the citizen typed (never the password) and the rule broken.
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
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response as BaseResponse

from adapters import website_pages as pages
from adapters import website_registration
from adapters.base import AdapterError
from idp.authn import login as logins
from idp.authn.assurance import level_for
from idp.authn.interaction import Interaction
from idp.authn.interaction import Reason
from idp.authn.result import Amr
from idp.authn.result import AuthResult
from idp.authn.result import Channel
from idp.authn.service import StepUpPlan
from idp.authn.service import step_up_plan
from idp.errors import AuthenticationFailed
from idp.errors import CitizenLocked
from idp.errors import IdpError
from idp.errors import InvalidInput
from idp.errors import TooManyAttempts
from idp.ids import parse_id_number
from idp.web.browser import client_ip
from idp.web.browser import set_sso_cookie
from idp.web.browser import sso_cookie

NAME = Channel.WEBSITE
bp = Blueprint("website", __name__)

PENDING_TTL = 300  # seconds between the accepted password and the second factor
_PENDING = "pending_login"
_MAX_PENDING = 3  # interactions in other tabs; older half-done logins are dropped


class SecondFactorRequired(AdapterError):
    """The password was right; the citizen must now give a TOTP or recovery code."""

    def __init__(self) -> None:
        super().__init__("Enter the code from your authenticator app.")


class PendingLoginExpired(AdapterError):
    def __init__(self) -> None:
        super().__init__("Your sign-in took too long. Enter your ID number and password again.")


class StepUpUnavailable(AdapterError):
    """A step-up form was posted but this browser has no step-up to do (signed out in
    another tab, or the factor is no longer enrolled)."""

    def __init__(self) -> None:
        super().__init__("This extra check is no longer available. Sign in again.")


# --- the channel interface -----------------------------------------------------------------


def authenticate(*, interaction: Interaction, form: Mapping[str, Any]) -> AuthResult:
    """Turn one submitted form into an AuthResult (``adapters.base.ChannelAdapter``).

    ``form["step"]`` is ``password`` (ID number + password), ``totp`` or ``recovery``
    (a code, after a password accepted for this interaction), or ``step_up_totp``,
    ``step_up_recovery``, ``step_up_password`` (one factor for the citizen already
    signed in, on a step-up interaction). Raises ``SecondFactorRequired`` after a right
    password when the citizen has a TOTP, ``InvalidIdNumber``, ``AuthenticationFailed``,
    ``TooManyAttempts``, ``CitizenLocked``, ``PendingLoginExpired`` or
    ``StepUpUnavailable``.
    """
    step = str(form.get("step") or "password")
    if step == "password":
        number = parse_id_number(number=str(form.get("id_number") or ""))
        checked = logins.check_password(
            number=number, password=str(form.get("password") or ""), ip=client_ip()
        )
        if checked.needs_second_factor:
            _remember_pending(interaction.uid, checked.citizen_id)
            raise SecondFactorRequired()
        return _result(checked.citizen_id, (Amr.PWD,))
    if step in ("totp", "recovery"):
        citizen_id = _pending_citizen(interaction.uid)
        if citizen_id is None:
            raise PendingLoginExpired()
        method = logins.check_second_factor(
            citizen_id=citizen_id,
            code=str(form.get("code") or ""),
            recovery=step == "recovery",
            ip=client_ip(),
        )
        return _result(citizen_id, (Amr.PWD, method), extra={"second_factor": step})
    if step in ("step_up_totp", "step_up_recovery", "step_up_password"):
        return _step_up(interaction, step, form)
    raise AdapterError("Unknown sign-in step.")


def _step_up(interaction: Interaction, step: str, form: Mapping[str, Any]) -> AuthResult:
    """One more factor for the citizen of the browser's session. The result holds only
    this factor; ``complete_login`` joins it to the session's earlier proofs."""
    plan = step_up_plan(interaction, cookie=sso_cookie())
    kind = "password" if step == "step_up_password" else "totp"
    if plan is None or not plan.offers(kind):
        raise StepUpUnavailable()
    if kind == "password":
        logins.confirm_password(
            citizen_id=plan.citizen_id, password=str(form.get("password") or ""), ip=client_ip()
        )
        return _result(plan.citizen_id, (Amr.PWD,), extra={"step_up": kind})
    method = logins.check_second_factor(
        citizen_id=plan.citizen_id,
        code=str(form.get("code") or ""),
        recovery=step == "step_up_recovery",
        ip=client_ip(),
    )
    return _result(plan.citizen_id, (method,), extra={"step_up": step.removeprefix("step_up_")})


def _result(
    citizen_id: str, methods: tuple[Amr, ...], extra: dict[str, str] | None = None
) -> AuthResult:
    return AuthResult(
        citizen_id=citizen_id,
        methods=methods,
        acr=level_for(methods, channel=NAME),
        channel=NAME,
        auth_time=datetime.now(UTC),
        extra=extra or {},
    )


# --- the half-done login, in the signed UI cookie ------------------------------------------


def _live_pending() -> dict[str, dict[str, Any]]:
    now = int(time.time())
    stored = session.get(_PENDING)
    if not isinstance(stored, dict):
        return {}
    return {
        uid: entry
        for uid, entry in stored.items()
        if isinstance(entry, dict) and int(entry.get("exp", 0)) > now
    }


def _remember_pending(uid: str, citizen_id: str) -> None:
    live = _live_pending()
    live[uid] = {"citizen": citizen_id, "exp": int(time.time()) + PENDING_TTL}
    newest = sorted(live.items(), key=lambda item: item[1]["exp"])[-_MAX_PENDING:]
    session[_PENDING] = dict(newest)


def _pending_citizen(uid: str) -> str | None:
    entry = _live_pending().get(uid)
    return str(entry["citizen"]) if entry else None


def _forget_pending(uid: str) -> None:
    live = _live_pending()
    live.pop(uid, None)
    if live:
        session[_PENDING] = live
    else:
        session.pop(_PENDING, None)


# --- pages ----------------------------------------------------------------------------------


@bp.route("/login")
def start() -> BaseResponse:
    """A direct visit: park a login that ends on the account page."""
    return begin_direct_login(return_to="/account")


def begin_direct_login(*, return_to: str) -> BaseResponse:
    """Park a login interaction for a page of our own and send the browser to it."""
    return redirect(url_for("website.login", uid=pages.park(return_to=return_to).uid), 303)


@bp.route("/login/<uid>", methods=["GET", "POST"])
def login(uid: str) -> Any:
    interaction = pages.load(uid)
    if (done := pages.already_signed_in(interaction)) is not None:
        return done
    if request.method == "GET":
        plan = step_up_plan(interaction, cookie=sso_cookie())
        if plan is not None and any(pages.step_up_choices(plan).values()):
            return pages.render_step_up(interaction, plan)
        return pages.render_login(
            interaction, id_number=interaction.login_hint or "", notice=_login_notice(interaction)
        )
    typed = str(request.form.get("id_number") or "")[:64]
    try:
        result = authenticate(interaction=interaction, form={**request.form, "step": "password"})
    except SecondFactorRequired:
        return redirect(url_for("website.second_factor", uid=uid), 303)
    except InvalidInput as exc:
        return pages.render_login(
            interaction, status=400, id_number=typed, error=pages.rule_message(exc), field=exc.field
        )
    except AuthenticationFailed as exc:
        return pages.render_login(interaction, status=401, id_number=typed, error=_(exc.public))
    except TooManyAttempts as exc:
        return pages.retry_after(
            pages.render_login(
                interaction,
                status=pages.refusal_status(exc),
                id_number=typed,
                error=pages.too_many(exc),
            ),
            exc,
        )
    except CitizenLocked as exc:
        return pages.render_login(interaction, status=403, id_number=typed, error=_(exc.public))
    return _finish(
        interaction,
        result,
        on_error=lambda e: pages.render_login(
            interaction, status=403, id_number=typed, error=_(e.public)
        ),
    )


@bp.route("/login/<uid>/code", methods=["GET", "POST"])
def second_factor(uid: str) -> Any:
    interaction = pages.load(uid)
    if (done := pages.already_signed_in(interaction)) is not None:
        return done
    if _pending_citizen(uid) is None:
        notice = _(PendingLoginExpired().public) if request.method == "POST" else None
        return pages.render_login(interaction, status=400 if notice else 200, error=notice)
    if request.method == "GET":
        return pages.render_code(interaction)
    recovery = request.form.get("step") == "recovery"
    form = {**request.form, "step": "recovery" if recovery else "totp"}
    try:
        result = authenticate(interaction=interaction, form=form)
    except PendingLoginExpired as exc:
        return pages.render_login(interaction, status=400, error=_(exc.public))
    except AuthenticationFailed as exc:
        return pages.render_code(interaction, status=401, error=_(exc.public), recovery=recovery)
    except CitizenLocked as exc:
        # A blocked TOTP (AuthenticatorDisabled) leaves the recovery codes: keep the form.
        return pages.render_code(interaction, status=403, error=_(exc.public), recovery=recovery)
    except TooManyAttempts as exc:
        return pages.retry_after(
            pages.render_code(
                interaction, status=429, error=pages.too_many(exc), recovery=recovery
            ),
            exc,
        )
    return _finish(
        interaction,
        result,
        on_error=lambda e: pages.render_code(
            interaction, status=403, error=_(e.public), recovery=recovery
        ),
    )


def _login_notice(interaction: Interaction) -> str | None:
    """Why the sign-in form is shown to someone who may already be signed in (the
    level asked for, if any, is shown by the template)."""
    if Reason.REAUTH in interaction.reasons or Reason.LOGIN_PROMPT in interaction.reasons:
        return str(_("For your security, sign in again to continue."))
    if Reason.ACR_TOO_LOW in interaction.reasons or Reason.MAX_AGE in interaction.reasons:
        return str(_("Sign in again with your password to continue."))
    return None


@bp.route("/login/<uid>/step-up", methods=["GET", "POST"])
def step_up(uid: str) -> Any:
    """The step-up page's forms: one factor for the citizen already signed in."""
    interaction = pages.load(uid)
    if (done := pages.already_signed_in(interaction)) is not None:
        return done
    plan = step_up_plan(interaction, cookie=sso_cookie())
    if plan is None or not any(pages.step_up_choices(plan).values()):
        # Signed out meanwhile, or nothing left to offer: the full sign-in form.
        return redirect(url_for("website.login", uid=uid), 303)
    if request.method == "GET":
        return pages.render_step_up(interaction, plan)
    step = str(request.form.get("step") or "totp")
    if step not in ("totp", "recovery", "password"):
        step = "totp"
    form = {**request.form, "step": f"step_up_{step}"}

    def again(status: int, error: str, current: StepUpPlan = plan) -> Any:
        return pages.render_step_up(interaction, current, status=status, error=error, step=step)

    try:
        result = authenticate(interaction=interaction, form=form)
    except StepUpUnavailable as exc:
        return pages.render_login(interaction, status=400, error=_(exc.public))
    except AuthenticationFailed as exc:
        return again(401, _(exc.public))
    except TooManyAttempts as exc:
        return pages.retry_after(again(429, pages.too_many(exc)), exc)
    return _finish(interaction, result, on_error=lambda e: again(403, _(e.public)))


def _finish(interaction: Interaction, result: AuthResult, *, on_error: Any) -> Any:
    """Hand the result to the core, set the (new) SSO cookie, resume the interaction."""
    try:
        outcome = pages.complete(interaction, result)
    except CitizenLocked as exc:
        return on_error(exc)
    _forget_pending(interaction.uid)
    # A new CSRF token for the signed-in browser (OWASP: renew tokens on privilege change).
    session.pop("csrf_token", None)
    response = cast(Response, redirect(url_for("interaction.resume", uid=interaction.uid), 303))
    set_sso_cookie(response, outcome.cookie_value)
    return response


# --- CSRF refusals and feature routes ------------------------------------------------------


@bp.errorhandler(CSRFError)
def csrf_refused(exc: CSRFError) -> Any:
    """A sign-in or registration form without a valid CSRF token (most often: the UI
    cookie expired while the page was open) is refused, 400, and shown again with what
    was typed and a fresh token, so nothing is lost."""
    message = _(
        "This form could not be accepted because it was out of date or did not come from "
        "this site. Check your details and submit it again."
    )
    typed = str(request.form.get("id_number") or "")[:64]
    if (
        request.endpoint in ("website.login", "website.second_factor", "website.step_up")
        and request.view_args
    ):
        try:
            interaction = pages.load(str(request.view_args.get("uid")))
        except IdpError:
            interaction = None
        if interaction is not None:
            # The token was renewed by a sign-in this form already completed (a double
            # submit): carry on, nothing is done on the refused request's behalf.
            if (done := pages.already_signed_in(interaction)) is not None:
                return done
            if request.endpoint == "website.second_factor":
                recovery = request.form.get("step") == "recovery"
                return pages.render_code(interaction, status=400, error=message, recovery=recovery)
            if request.endpoint == "website.step_up":
                plan = step_up_plan(interaction, cookie=sso_cookie())
                if plan is not None and any(pages.step_up_choices(plan).values()):
                    return pages.render_step_up(interaction, plan, status=400, error=message)
            return pages.render_login(interaction, status=400, id_number=typed, error=message)
    if request.endpoint == "website.register":
        values = {
            "id_number": typed,
            "name": str(request.form.get("name") or "")[:200],
            "phone": str(request.form.get("phone") or "")[:32],
        }
        uid = request.values.get("uid") or None
        page = render_template("register.html", uid=uid, values=values, error=message, field=None)
        return page, 400
    return render_template("error.html", message=message, status=400), 400


def _routes_for_features(state: BlueprintSetupState) -> None:
    # A disabled feature registers no route (STYLE.md 7.3).
    if state.app.config["IDP_FEATURE_SELF_REGISTRATION"]:
        state.add_url_rule(
            "/register",
            endpoint="register",
            view_func=website_registration.register,
            methods=["GET", "POST"],
        )
        state.add_url_rule(
            "/register/code",
            endpoint="register_code",
            view_func=website_registration.register_code,
            methods=["GET", "POST"],
        )
        state.add_url_rule(
            "/register/resend",
            endpoint="register_resend",
            view_func=website_registration.register_resend,
            methods=["POST"],
        )


bp.record(_routes_for_features)

from . import website_app  # noqa: E402,F401 - registers routes
from . import website_passkey  # noqa: E402,F401 - registers routes
from . import website_sms  # noqa: E402,F401 - registers routes
