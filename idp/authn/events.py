"""Audit records of the authentication core: refused proofs and ended sessions.

The successful sign-in is recorded by ``service.complete_login`` (the one door into a
session); refusals are recorded where each method refuses, so every channel gets them.
"""

from __future__ import annotations

from .. import audit
from ..audit import ActorType
from ..audit import EventType
from ..audit import Outcome
from .ratelimit import Lock


def record_failure(
    *,
    method: str,
    reason: str,
    citizen_id: str | None = None,
    masked_number: str | None = None,
    channel: str | None = None,
) -> None:
    """A refused proof (wrong password or code, refused passkey, locked account),
    committed at once: the caller is about to raise. The channel defaults to the
    request's (idp.audit.context). For a number nobody holds, only its masked form."""
    details: dict[str, object] = {"method": method, "reason": reason}
    if masked_number:
        details["id_number"] = masked_number
    audit.record(
        EventType.LOGIN_FAILURE,
        outcome=Outcome.FAILURE,
        actor_type=None if citizen_id else ActorType.ANONYMOUS,
        citizen_id=citizen_id,
        channel=channel,
        details=details,
        commit=True,
    )


def record_logout(citizen_id: str, *, how: str, sessions_ended: int) -> None:
    """``how``: sign_out (this browser), rp_initiated, other_session, everywhere."""
    audit.record(
        EventType.LOGOUT,
        citizen_id=citizen_id,
        details={"how": how, "sessions": sessions_ended},
        commit=True,
    )


def record_lock(lock: Lock) -> None:
    """A brute-force lock was just set (``idp.authn.ratelimit``): one record per lock,
    committed at once (the caller is about to refuse). Neither the locked number nor the
    address is in the details: the record's origin holds the address, and the number's
    owner is not named, because an attacker can lock anyone's number."""
    audit.record(
        EventType.LOGIN_FAILURE,
        outcome=Outcome.FAILURE,
        actor_type=ActorType.ANONYMOUS,
        details={
            "method": lock.scope,
            "reason": "rate_limit_lock",
            "locked": lock.locked,
            "seconds": lock.seconds,
        },
        commit=True,
    )
