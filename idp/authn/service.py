"""The one door into an SSO session: ``complete_login``.

Every channel adapter ends here with an AuthResult. The adapter never writes sessions or
mints tokens; it gets back the cookie value to set and the interaction to resume.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from ..errors import CitizenLocked
from ..errors import InteractionExpired
from ..extensions import db
from ..models import Citizen
from ..store import current_store
from . import interaction as interactions
from . import sessions
from .interaction import Interaction
from .interaction import State
from .result import AuthResult


@dataclass(frozen=True)
class LoginOutcome:
    session: sessions.SsoSession
    cookie_value: str  # set as the SSO cookie by the adapter
    interaction: Interaction  # resume at /interaction/<uid>


def _ttls() -> tuple[int, int, int]:
    cfg = current_app.config
    return cfg["IDP_TTL_SSO_SESSION"], cfg["IDP_TTL_SSO_IDLE"], cfg["IDP_TTL_INTERACTION"]


def current_session(cookie: str | None) -> sessions.SsoSession | None:
    _, idle, _ = _ttls()
    return sessions.load(current_store(), cookie, idle=idle)


def complete_login(
    interaction_uid: str,
    result: AuthResult,
    *,
    browser: str,
    current_cookie: str | None,
    user_agent: str = "",
) -> LoginOutcome:
    """Record a finished authentication and move the interaction on.

    Raises InteractionExpired (wrong browser, finished, expired) or CitizenLocked.
    """
    store = current_store()
    lifetime, idle, interaction_ttl = _ttls()
    pending = interactions.load(store, interaction_uid, browser=browser)
    if pending.state != State.PENDING:
        raise InteractionExpired(detail="login already completed for this interaction")
    citizen = db.session.get(Citizen, result.citizen_id)
    if citizen is None or citizen.locked_at is not None:
        raise CitizenLocked(detail="login refused for locked or missing citizen")
    previous = sessions.load(store, current_cookie, idle=idle)
    session, cookie = sessions.start(
        store,
        result=result,
        lifetime=lifetime,
        idle=idle,
        previous=previous,
        user_agent=user_agent,
    )
    moved = pending.advance(State.AUTHENTICATED, sid=session.sid)
    interactions.save(store, moved, ttl=interaction_ttl)
    return LoginOutcome(session=session, cookie_value=cookie, interaction=moved)


def logout(cookie: str | None) -> sessions.SsoSession | None:
    """End the session behind ``cookie``; returns it (for logout fan-out) or None."""
    session = current_session(cookie)
    if session is not None:
        sessions.end(current_store(), session.sid, session.citizen_id)
    return session
