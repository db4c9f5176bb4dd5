"""Shared pieces of the website channel's pages: loading the interaction, rendering the
sign-in and code forms, and the wording of refusals."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _

from idp.authn import authenticators
from idp.authn import devices
from idp.authn import interaction as interactions
from idp.authn.interaction import Interaction
from idp.authn.interaction import Prompt
from idp.authn.interaction import State
from idp.authn.methods.hashing_pool import HashingBusy
from idp.authn.result import AuthResult
from idp.authn.service import LoginOutcome
from idp.authn.service import StepUpPlan
from idp.authn.service import complete_login
from idp.errors import InvalidInput
from idp.errors import TooManyAttempts
from idp.ids import InvalidIdNumber
from idp.web.browser import browser_id
from idp.web.browser import sso_cookie


def store() -> Any:
    return current_app.extensions["idp.store"]


def load(uid: str) -> Interaction:
    """The interaction for this browser, or InteractionExpired (a 400 error page)."""
    return interactions.load(store(), uid, browser=browser_id())


def complete(interaction: Interaction, result: AuthResult) -> LoginOutcome:
    """``complete_login`` for this browser: its id, its SSO cookie and its user agent.
    Raises what ``complete_login`` raises (CitizenLocked, InteractionExpired)."""
    return complete_login(
        interaction.uid,
        result,
        browser=browser_id(),
        current_cookie=sso_cookie(),
        user_agent=request.user_agent.string or "",
    )


def too_many(exc: TooManyAttempts) -> str:
    if isinstance(exc, HashingBusy):
        return str(_("The service is busy. Please try again in a moment."))
    seconds = max(1, int(exc.resets_in))
    if seconds >= 120:
        minutes = (seconds + 59) // 60
        return str(_("Too many attempts. Try again in %(minutes)d minutes.", minutes=minutes))
    return str(_("Too many attempts. Try again in %(seconds)d seconds.", seconds=seconds))


def refusal_status(exc: TooManyAttempts) -> int:
    """429 for a rate limit (RFC 6585 4); 503 when hashing is saturated (RFC 9110 15.6.4)."""
    return 503 if isinstance(exc, HashingBusy) else 429


def rule_message(exc: InvalidInput) -> str:
    if isinstance(exc, InvalidIdNumber):
        return str(_("The ID number is not valid: %(rule)s.", rule=_(exc.rule.value)))
    return str(_(exc.public))


def render_login(
    interaction: Interaction,
    *,
    status: int = 200,
    id_number: str = "",
    error: str | None = None,
    field: str | None = None,
    notice: str | None = None,
) -> tuple[str, int]:
    page = render_template(
        "login.html",
        interaction=interaction,
        id_number=id_number,
        error=error,
        field=field,
        notice=notice,
        registration=current_app.config["IDP_FEATURE_SELF_REGISTRATION"],
    )
    return page, status


def retry_after(response: Any, exc: TooManyAttempts) -> Response:
    made: Response = current_app.make_response(response)
    made.headers["Retry-After"] = str(max(1, int(exc.resets_in)))
    return made


def park(*, return_to: str) -> Interaction:
    return interactions.create(
        store(),
        browser=browser_id(),
        prompt=Prompt.LOGIN,
        reasons=["no_session"],
        ttl=current_app.config["IDP_TTL_INTERACTION"],
        return_to=return_to,
    )


def already_signed_in(interaction: Interaction) -> Any | None:
    """A sign-in already done for this interaction (a double submit, the back button):
    carry on where it left off instead of signing in twice."""
    if interaction.state != State.PENDING:
        return redirect(url_for("interaction.resume", uid=interaction.uid), 303)
    return None


def render_step_up(
    interaction: Interaction,
    plan: StepUpPlan,
    *,
    status: int = 200,
    error: str | None = None,
    step: str = "totp",
) -> tuple[str, int]:
    """The step-up page: only the factors in ``plan`` (each lifts the session to the
    required level with the proofs it already holds). The passkey link appears only
    when the passkey routes are installed."""
    page = render_template(
        "step_up.html",
        interaction=interaction,
        required=plan.required,
        error=error,
        step=step,
        **step_up_choices(plan),
    )
    return page, status


def step_up_choices(plan: StepUpPlan) -> dict[str, bool]:
    """Which of the website's step-up forms apply (the passkey link only when the
    passkey routes are installed)."""
    return {
        "totp": plan.offers(authenticators.TOTP),
        "password": plan.offers(authenticators.PASSWORD),
        "passkey": plan.offers(authenticators.WEBAUTHN)
        and "website.passkey" in current_app.view_functions,
        "app": plan.offers(devices.APP) and "website.app_push" in current_app.view_functions,
    }


def render_code(
    interaction: Interaction, *, status: int = 200, error: str | None = None, recovery: bool = False
) -> tuple[str, int]:
    return render_template(
        "totp_prompt.html", interaction=interaction, error=error, recovery=recovery
    ), status
