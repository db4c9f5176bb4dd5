"""``/interaction/<uid>``: where ``/authorize`` parks a request that needs the citizen.

Flow contract with the channel adapters (``adapters/website.py``):

1. ``interaction.show``: a login prompt goes to ``website.login``; anything else
   (the login is done, or only consent is missing) goes to ``interaction.resume``.
   A login interaction may be a step-up (reason ``acr_too_low``, ``required_acr``): the
   website then shows only the missing factors (``idp.authn.service.step_up_plan``).
2. The adapter authenticates, calls ``idp.authn.service.complete_login``, sets the SSO
   cookie and redirects to ``interaction.resume``.
3. ``interaction.resume``: a session still below the level the request needs continues
   in a new step-up interaction (back to 1), or the portal gets
   ``unmet_authentication_requirements``; then consent if needed (``consent.html``
   posting to ``interaction.consent``); then the interaction is finished and the code
   sent to the portal. An interaction without a portal (a direct visit, a ``reauth``
   from an account page) returns to its ``return_to`` path.
4. ``interaction.abort`` (POST): the citizen gives up; the portal gets
   ``access_denied`` (described as a cancelled step-up when it was one).

Every interaction is bound to the browser that started it (``browser_id``); a wrong,
finished or expired uid is an ``InteractionExpired`` error page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import abort as http_abort
from flask import redirect
from flask import request
from flask import url_for

from ..authn import interaction as interactions
from ..authn.interaction import Prompt
from ..authn.interaction import State
from ..authn.service import current_session
from ..oauth import authorize as authorize_flow
from ..store import current_store
from .browser import browser_id
from .browser import sso_cookie
from .oauth_bp import outcome_response

bp = Blueprint("interaction", __name__, url_prefix="/interaction")


@bp.get("/<uid>")
def show(uid: str) -> Any:
    parked = interactions.load(current_store(), uid, browser=browser_id())
    if parked.state == State.PENDING and parked.prompt == Prompt.LOGIN:
        return redirect(url_for("website.login", uid=uid), 303)
    return redirect(url_for("interaction.resume", uid=uid), 303)


@bp.get("/<uid>/resume")
def resume(uid: str) -> Any:
    outcome = authorize_flow.resume(
        uid, session=current_session(sso_cookie()), browser=browser_id()
    )
    return outcome_response(outcome)


@bp.post("/<uid>/consent")
def consent(uid: str) -> Any:
    decision = request.form.get("decision")
    if decision not in ("approve", "deny"):
        http_abort(400)
    # Checkboxes: optional scopes the citizen kept ("scope") and the separate agreement
    # to each sensitive one ("agree_sensitive"). Unknown values are simply not granted.
    ticked = tuple(str(v)[:64] for v in request.form.getlist("scope")[:32])
    agreed = tuple(str(v)[:64] for v in request.form.getlist("agree_sensitive")[:32])
    outcome = authorize_flow.decide_consent(
        uid,
        session=current_session(sso_cookie()),
        browser=browser_id(),
        approve=decision == "approve",
        ticked=ticked,
        agreed_sensitive=agreed,
    )
    return outcome_response(outcome)


@bp.post("/<uid>/abort")
def abort(uid: str) -> Any:
    return outcome_response(authorize_flow.abort(uid, browser=browser_id()))
