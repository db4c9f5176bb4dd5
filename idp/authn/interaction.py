"""Interactions: a login, consent or step-up the provider parked for the user to finish.

When ``/authorize`` (or any page) needs the user, it stores an Interaction under an
unguessable uid with a TTL and sends the browser to ``/interaction/<uid>``. The record
is bound to the browser that started it, and its state only moves forward, so a
finished interaction cannot be replayed (modelled on Hydra's flow states).
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from enum import StrEnum
from typing import Any

from ..errors import InteractionExpired
from ..store.base import EphemeralStore

KIND = "interaction"


class State(StrEnum):
    PENDING = "pending"  # waiting for the user to authenticate
    AUTHENTICATED = "authenticated"  # login done, consent (if any) pending
    FINISHED = "finished"  # the code was issued or the user was sent on


_ALLOWED = {
    State.PENDING: {State.AUTHENTICATED, State.FINISHED},
    State.AUTHENTICATED: {State.AUTHENTICATED, State.FINISHED},
    State.FINISHED: set(),
}


class Prompt(StrEnum):
    LOGIN = "login"
    CONSENT = "consent"


class Reason(StrEnum):
    """Why an interaction was parked (``idp.oauth.prompts`` names the OAuth ones)."""

    NO_SESSION = "no_session"
    LOGIN_PROMPT = "login_prompt"  # prompt=login
    MAX_AGE = "max_age"  # the level asked for was reached too long ago
    ACR_TOO_LOW = "acr_too_low"  # step-up: the session is below ``required_acr``
    REAUTH = "reauth"  # a page of ours demands a fresh proof (``service.require_reauthentication``)
    CONSENT_PROMPT = "consent_prompt"
    CONSENT_MISSING = "consent_missing"


@dataclass(frozen=True)
class Interaction:
    uid: str
    browser: str  # binding to the browser that started it
    prompt: str
    reasons: list[str]
    state: str
    created_at: int
    # For OAuth interactions: the validated authorization request, replayed on finish.
    client_id: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    # The level the sign-in must reach (step-up), and the time before which earlier
    # proofs do not count (prompt=login, max_age, reauth): a step-up builds only on
    # proofs of the session reached at or after ``fresh_after``.
    required_acr: str | None = None
    fresh_after: int = 0
    # For a direct visit (account page): where to go after login.
    return_to: str | None = None
    # Filled by the core when the user has authenticated.
    sid: str | None = None
    login_hint: str | None = None

    def advance(self, state: State, **changes: Any) -> Interaction:
        if state not in _ALLOWED[State(self.state)]:
            raise InteractionExpired(detail=f"interaction {self.state} -> {state} refused")
        return replace(self, state=str(state), **changes)


def create(
    store: EphemeralStore,
    *,
    browser: str,
    prompt: Prompt,
    reasons: list[str],
    ttl: int,
    client_id: str | None = None,
    params: dict[str, str] | None = None,
    required_acr: str | None = None,
    fresh_after: int = 0,
    return_to: str | None = None,
    login_hint: str | None = None,
) -> Interaction:
    interaction = Interaction(
        uid=secrets.token_urlsafe(24),
        browser=browser,
        prompt=str(prompt),
        reasons=list(reasons),
        state=str(State.PENDING),
        created_at=int(time.time()),
        client_id=client_id,
        params=dict(params or {}),
        required_acr=required_acr,
        fresh_after=fresh_after,
        return_to=return_to,
        login_hint=login_hint,
    )
    store.put(KIND, interaction.uid, asdict(interaction), ttl)
    return interaction


def load(store: EphemeralStore, uid: str, *, browser: str | None) -> Interaction:
    """The interaction, if it exists, is unfinished and belongs to this browser."""
    data = store.get(KIND, uid) if uid and len(uid) <= 64 else None
    if data is None:
        raise InteractionExpired(detail="unknown or expired interaction")
    interaction = Interaction(**data)
    if not browser or not hmac.compare_digest(interaction.browser, browser):
        raise InteractionExpired(detail="interaction used from another browser")
    if interaction.state == State.FINISHED:
        raise InteractionExpired(detail="interaction already finished")
    return interaction


def save(store: EphemeralStore, interaction: Interaction, *, ttl: int) -> None:
    remaining = ttl - (int(time.time()) - interaction.created_at)
    if remaining <= 0:
        raise InteractionExpired(detail="interaction expired")
    store.put(KIND, interaction.uid, asdict(interaction), remaining)


def finish(store: EphemeralStore, interaction: Interaction) -> Interaction:
    """Consume the interaction: only one caller can finish it."""
    if store.consume(KIND, interaction.uid) is None:
        raise InteractionExpired(detail="interaction already finished")
    return interaction.advance(State.FINISHED)
