"""The one door into an SSO session: ``complete_login``; and the step-up rules.

Every channel adapter ends here with an AuthResult. The adapter never writes sessions or
mints tokens; it gets back the cookie value to set and the interaction to resume.

Step-up (DESIGN.md "Assurance"): a citizen signed in below the level a portal needs is
asked only for what is missing. ``assess`` decides, for a session and the acceptable
levels of a request, whether the session already meets one, whether the citizen can
reach one with what they have enrolled (step up to the first such level, in order of
preference), or neither (the portal gets an error, never a lower level).

The merge rule (``complete_login``), for an interaction parked with reason
``acr_too_low``, when the session in the browser belongs to the same citizen:

1. The earlier proofs counted are the methods of the session's levels that have not
   lapsed and were reached at or after the interaction's ``fresh_after`` (so a
   ``max_age`` or ``prompt=login`` request never builds on a proof older than it allows).
2. The chain is those methods followed by the new proof's, each once; its level is
   ``assurance.joined_level``: ``level_for(chain)``, counted only when the new proof is
   needed to reach it (a lapsed level is not brought back by an unrelated factor).
3. When the chain reaches a higher level than the new proof alone, the session records
   the chain: ``acr`` is its level, ``amr`` its methods (e.g. ``pwd otp mfa`` after a
   TOTP step-up on a password session), ``auth_time`` the time of the new proof.
   Otherwise the new proof stands alone (a re-entered password does not refresh an
   older second factor; a user-verified passkey reaches high by itself and its ``amr``
   is ``hwk mfa``).

Every sign-in, step-up included, renews the session id (the cookie rotates); the old
ids stay in ``previous_sids`` for RP-initiated logout; tokens already issued to other
portals are untouched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from dataclasses import replace
from enum import StrEnum

from flask import current_app

from .. import audit
from ..audit import ActorType
from ..audit import EventType
from ..errors import CitizenLocked
from ..errors import InteractionExpired
from ..extensions import db
from ..models import Citizen
from ..store import current_store
from . import authenticators
from . import hall
from . import interaction as interactions
from . import kiosk_sessions
from . import sessions
from .assurance import LevelPolicy
from .assurance import joined_level
from .assurance import level_for
from .assurance import merge_methods
from .authenticators import Enrolled
from .events import record_failure
from .events import record_logout
from .interaction import Interaction
from .interaction import Prompt
from .interaction import Reason
from .interaction import State
from .result import Acr
from .result import Amr
from .result import AuthResult
from .result import Channel


@dataclass(frozen=True)
class LoginOutcome:
    session: sessions.SsoSession
    cookie_value: str  # set as the SSO cookie by the adapter
    interaction: Interaction  # resume at /interaction/<uid>


def _ttls() -> tuple[int, int, int]:
    cfg = current_app.config
    return cfg["IDP_TTL_SSO_SESSION"], cfg["IDP_TTL_SSO_IDLE"], cfg["IDP_TTL_INTERACTION"]


def level_policy() -> LevelPolicy:
    # The four settings by name: ``Config.get_namespace`` scans every key of the
    # configuration, and this runs on every authorization and token request.
    cfg = current_app.config
    return LevelPolicy.from_namespace(
        {name: cfg.get(f"IDP_ACR_{name.upper()}") for name in LevelPolicy.SETTINGS}
    )


def current_session(cookie: str | None) -> sessions.SsoSession | None:
    _, idle, _ = _ttls()
    return sessions.load(current_store(), cookie, idle=idle)


def peek_session(cookie: str | None) -> sessions.SsoSession | None:
    """The live session behind ``cookie`` without counting it as used (a screen's poll)."""
    return sessions.peek(current_store(), cookie)


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
        record_failure(
            method=",".join(result.methods),
            reason="citizen_locked",
            citizen_id=citizen.id if citizen is not None else None,
            channel=result.channel,
        )
        raise CitizenLocked(detail="login refused for locked or missing citizen")
    previous = sessions.load(store, current_cookie, idle=idle)
    proof = _joined(pending, previous, result)
    # Kiosk sessions are short and one per kiosk (idp.authn.kiosk_sessions); so are
    # sessions assisted at a service-hall counter (idp.authn.hall), one per counter.
    # Where the session lives decides, not the channel of the proof: a card or an app
    # approval in a kiosk's browser makes a kiosk session (``result.kiosk_id``); a
    # hand-off of that level to the phone (channel still "kiosk") does not.
    terminal = result.kiosk_id
    if terminal is None and result.channel == Channel.HALL and result.acting_staff_id:
        terminal = result.device_id
    at_kiosk = terminal is not None
    if result.kiosk_id:
        lifetime, idle = kiosk_sessions.lifetimes()
    elif at_kiosk:
        lifetime, idle = hall.lifetimes()
    session, cookie = sessions.start(
        store,
        result=proof,
        lifetime=lifetime,
        idle=idle,
        previous=previous,
        user_agent=user_agent,
        fixed=at_kiosk,
    )
    if terminal is not None:
        kiosk_sessions.attach(store, kiosk_id=terminal, session=session)
    moved = pending.advance(State.AUTHENTICATED, sid=session.sid)
    interactions.save(store, moved, ttl=interaction_ttl)
    _record_login(pending, previous, proof, session)
    return LoginOutcome(session=session, cookie_value=cookie, interaction=moved)


def _record_login(
    pending: Interaction,
    previous: sessions.SsoSession | None,
    proof: AuthResult,
    session: sessions.SsoSession,
) -> None:
    """One record per sign-in: ``login.step_up`` when the citizen's session was raised
    to a level a portal asked for, else ``login.success``; with channel, level, methods."""
    stepped = (
        previous is not None
        and previous.citizen_id == proof.citizen_id
        and Reason.ACR_TOO_LOW in pending.reasons
    )
    staff = proof.acting_staff_id
    details: dict[str, object] = {
        "acr": str(proof.acr),
        "amr": [str(m) for m in proof.methods],
        "sid": session.sid[:12],  # enough to match the account page, not a usable id
    }
    if stepped:
        details["required_acr"] = pending.required_acr
    if pending.client_id:
        details["for_client"] = pending.client_id
    if proof.device_id:
        details["device"] = proof.device_id
    for key in ("passkey", "user_verified", "synced", "aaguid"):
        if key in proof.extra:
            details[key] = proof.extra[key]
    audit.record(
        EventType.STEP_UP if stepped else EventType.LOGIN_SUCCESS,
        actor_type=ActorType.STAFF if staff else None,
        actor_id=staff or None,
        citizen_id=proof.citizen_id,
        client_id=pending.client_id,
        channel=str(proof.channel),
        details=details,
        commit=True,
    )


def _joined(
    pending: Interaction, previous: sessions.SsoSession | None, result: AuthResult
) -> AuthResult:
    """The merge rule of the module docstring."""
    if (
        previous is None
        or previous.citizen_id != result.citizen_id
        or Reason.ACR_TOO_LOW not in pending.reasons
    ):
        return result
    earlier = previous.chain(level_policy(), int(time.time()), fresh_after=pending.fresh_after)
    level = joined_level(earlier, result.methods, channel=result.channel)
    # An adapter may cap its own proof (a mobile device never yields more than the
    # level of the sign-in that bound it): joining earlier proofs does not lift the cap.
    cap = result.extra.get("max_acr")
    if level is not None and cap and not Acr(cap).satisfies(level):
        level = Acr(cap)
    if level is None or level.rank <= result.acr.rank:
        return result
    return replace(result, methods=merge_methods(earlier, result.methods), acr=level)


def logout(cookie: str | None, *, how: str = "sign_out") -> sessions.SsoSession | None:
    """End the session behind ``cookie``; returns it (for logout fan-out) or None.
    ``how`` is the audit record's: sign_out (our page) or rp_initiated."""
    session = current_session(cookie)
    if session is not None:
        sessions.end(current_store(), session.sid, session.citizen_id)
        record_logout(session.citizen_id, how=how, sessions_ended=1)
    return session


# --- assessing a session against the levels a request accepts ------------------------------


class Verdict(StrEnum):
    MET = "met"  # the session stands at an acceptable level
    STEP_UP = "step_up"  # the citizen can reach ``level`` with what they have enrolled
    UNMET = "unmet"  # no acceptable level can be reached


@dataclass(frozen=True)
class Assessment:
    verdict: Verdict
    level: Acr | None  # the level met, or to step up to


def reachable_level(citizen_id: str, chain: tuple[Amr, ...] = ()) -> Acr:
    """The highest level the citizen can reach: one enrolled authenticator on top of
    the earlier proofs in ``chain`` (a step-up), or a new sign-in with everything they
    have enrolled, used in turn."""
    enrolled = authenticators.enrolled(citizen_id)
    best = level_for(merge_methods(*(e.methods for e in enrolled)))
    for one in enrolled:
        level = one.with_chain(chain)
        if level.rank > best.rank:
            best = level
    return best


def assess(
    session: sessions.SsoSession, acceptable: tuple[Acr, ...], *, fresh_after: int = 0
) -> Assessment:
    """OIDC Core 3.1.2.1 ``acr_values`` are "in order of preference": the first
    acceptable level the session already stands at (counting only levels reached at or
    after ``fresh_after``) or the citizen can reach, whichever comes first."""
    now = int(time.time())
    policy = level_policy()
    standing = session.standing(policy, now, fresh_after=fresh_after)
    if not acceptable:
        return Assessment(Verdict.MET, standing.acr if standing else None)
    reachable: Acr | None = None
    for level in acceptable:
        if standing is not None and standing.acr.satisfies(level):
            return Assessment(Verdict.MET, standing.acr)
        if reachable is None:
            chain = session.chain(policy, now, fresh_after=fresh_after)
            reachable = reachable_level(session.citizen_id, chain)
        if reachable.satisfies(level):
            return Assessment(Verdict.STEP_UP, level)
    return Assessment(Verdict.UNMET, None)


def fresh_enough(session: sessions.SsoSession, *, within: int, acr: Acr | None) -> bool:
    """The session proved a level of at least ``acr`` (any level when None) in the last
    ``within`` seconds, and that level has not lapsed. For pages that need a recent
    sign-in (removing an authenticator): when False, ``require_reauthentication``."""
    now = int(time.time())
    return session.standing(level_policy(), now, fresh_after=now - within, at_least=acr) is not None


def require_reauthentication(
    *, browser: str, return_to: str, required_acr: Acr | None = None
) -> Interaction:
    """Park a "sign in again" interaction (reason ``reauth``) for one of our own pages:
    the citizen must prove themselves afresh (earlier proofs do not count), at
    ``required_acr`` when given, even with a live session. Send the browser to
    ``url_for("interaction.show", uid=...)``; it comes back to ``return_to`` (a local
    path), where the page checks ``fresh_enough`` again (a citizen who cannot reach the
    level also comes back, still not fresh enough)."""
    _, _, ttl = _ttls()
    return interactions.create(
        current_store(),
        browser=browser,
        prompt=Prompt.LOGIN,
        reasons=[Reason.REAUTH],
        ttl=ttl,
        required_acr=str(required_acr) if required_acr else None,
        fresh_after=int(time.time()),
        return_to=return_to,
    )


def step_up(parked: Interaction, *, level: Acr) -> Interaction:
    """Finish ``parked`` and park its continuation as a step-up to ``level``: same
    browser, portal request and ``fresh_after``, reason ``acr_too_low``."""
    store = current_store()
    _, _, ttl = _ttls()
    interactions.finish(store, parked)
    return interactions.create(
        store,
        browser=parked.browser,
        prompt=Prompt.LOGIN,
        reasons=[Reason.ACR_TOO_LOW],
        ttl=ttl,
        client_id=parked.client_id,
        params=parked.params,
        required_acr=str(level),
        fresh_after=parked.fresh_after,
        return_to=parked.return_to,
    )


# --- what the step-up page offers ------------------------------------------------------------


@dataclass(frozen=True)
class StepUpPlan:
    """For a step-up interaction and the session in the browser: the factors that lift
    the session to ``required`` on their own (``factors``), and whether a new sign-in
    from the start could (``full_login``)."""

    citizen_id: str
    required: Acr
    chain: tuple[Amr, ...]
    factors: tuple[Enrolled, ...]
    full_login: bool

    def offers(self, kind: str) -> bool:
        return any(f.kind == kind for f in self.factors)


def step_up_plan(interaction: Interaction, *, cookie: str | None) -> StepUpPlan | None:
    """None unless ``interaction`` is a pending step-up (reason ``acr_too_low``) and the
    browser's session has earlier proofs to build on: then the channel shows the
    step-up page instead of its sign-in form."""
    if (
        interaction.state != State.PENDING
        or not interaction.required_acr
        or Reason.ACR_TOO_LOW not in interaction.reasons
    ):
        return None
    session = current_session(cookie)
    if session is None:
        return None
    now = int(time.time())
    policy = level_policy()
    required = Acr(interaction.required_acr)
    chain = session.chain(policy, now, fresh_after=interaction.fresh_after)
    if not chain:
        return None
    enrolled = authenticators.enrolled(session.citizen_id)
    factors = tuple(e for e in enrolled if e.with_chain(chain).satisfies(required))
    full = reachable_level(session.citizen_id).satisfies(required)
    return StepUpPlan(
        citizen_id=session.citizen_id,
        required=required,
        chain=chain,
        factors=factors,
        full_login=full,
    )
