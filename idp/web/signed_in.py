"""The signed-in citizen behind the SSO cookie, for the citizen's own pages."""

from __future__ import annotations

from flask import current_app
from flask import redirect
from flask import url_for
from werkzeug.wrappers import Response as BaseResponse

from ..authn import interaction as interactions
from ..authn import sessions
from ..authn.interaction import Prompt
from ..authn.service import current_session
from ..extensions import db
from ..models import Citizen
from ..store import current_store
from .browser import browser_id
from .browser import sso_cookie


def signed_in_citizen() -> tuple[sessions.SsoSession, Citizen] | None:
    """The live session and its citizen, or None (signed out, or the account is locked)."""
    sso = current_session(sso_cookie())
    if sso is None:
        return None
    citizen = db.session.get(Citizen, sso.citizen_id)
    if citizen is None or citizen.locked_at is not None:
        return None
    return sso, citizen


def sign_in_first(return_to: str) -> BaseResponse:
    """Signed out: park a login that comes back to ``return_to``."""
    parked = interactions.create(
        current_store(),
        browser=browser_id(),
        prompt=Prompt.LOGIN,
        reasons=["no_session"],
        ttl=current_app.config["IDP_TTL_INTERACTION"],
        return_to=return_to,
    )
    return redirect(url_for("website.login", uid=parked.uid), 303)
