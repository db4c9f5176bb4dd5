"""Sign-in with an ID number and a password, then a second factor: the checks, not the pages.

The website adapter (and any later channel that asks for a password) calls these; they
read no request, take the client address as an argument, and raise domain errors.

OWASP Authentication Cheat Sheet, "Authentication and Error Messages": "An application
should respond with a generic error message regardless of whether the user ID or password
was incorrect." So an unknown number, a number without a password and a wrong password
all raise the same ``AuthenticationFailed``, count against the same limits (keyed by the
number's blind index whether or not a citizen holds it) and cost one argon2 verification
(against a dummy hash when there is nothing to verify against).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from ..errors import AuthenticationFailed
from ..errors import CitizenLocked
from ..extensions import db
from ..ids import IdNumber
from ..ids import redact
from ..ids.protect import blind_index
from ..models import Citizen
from ..models import PasswordCredential
from ..store import current_store
from . import authenticator_limits as limits
from . import ratelimit
from .citizens import keyring
from .events import record_failure
from .events import record_lock
from .methods import password as passwords
from .methods import totp
from .methods.hashing_pool import HashingBusy
from .result import Amr

log = logging.getLogger(__name__)

LOGIN = "login"
SECOND_FACTOR = "second-factor"
REAUTH = "reauth"


@dataclass(frozen=True)
class PasswordChecked:
    """The first factor passed; ``needs_second_factor`` when a TOTP is confirmed."""

    citizen_id: str
    needs_second_factor: bool


def throttle(scope: str) -> ratelimit.Throttle:
    policy = ratelimit.policy_from_config(current_app.config)
    return ratelimit.Throttle(current_store(), policy, scope=scope, on_lock=record_lock)


def subject_for(number: IdNumber) -> str:
    """Rate-limit subject of an ID number: its blind index, never the number."""
    return blind_index(keyring(), number.normalised)


def check_password(*, number: IdNumber, password: str, ip: str) -> PasswordChecked:
    """Raises TooManyAttempts, AuthenticationFailed or CitizenLocked."""
    subject = subject_for(number)
    limiter = throttle(LOGIN)
    attempt = limiter.begin(subject=subject, ip=ip)
    # One query on every path, so a known and an unknown number cost the same.
    row = db.session.execute(
        select(Citizen, PasswordCredential)
        .outerjoin(PasswordCredential, PasswordCredential.citizen_id == Citizen.id)
        .where(Citizen.id_number_index == subject)
    ).first()
    citizen, credential = (row[0], row[1]) if row is not None else (None, None)
    # Per-authenticator cap (authenticator_limits); an unknown number is counted under
    # its blind index, so a disabled password says nothing about who has an account.
    authenticator = f"password:{citizen.id}" if citizen else f"password:unknown:{subject}"
    limits.before_attempt(authenticator=authenticator)
    ok = _verify(
        credential, password, limiter=limiter, attempt=attempt, authenticator=authenticator
    )
    if not ok or citizen is None or credential is None:
        limiter.failed(attempt)
        limits.record_failure(authenticator=authenticator)
        record_failure(
            method=Amr.PWD,
            reason="invalid_credentials" if citizen else "unknown_number",
            citizen_id=citizen.id if citizen else None,
            masked_number=None if citizen else redact(number.normalised),
        )
        raise AuthenticationFailed(detail="password sign-in failed")
    limiter.succeeded(attempt)
    limits.record_success(authenticator=authenticator)
    if citizen.locked_at is not None:
        # Said only after the right password: it reveals nothing to a guesser.
        record_failure(method=Amr.PWD, reason="citizen_locked", citizen_id=citizen.id)
        raise CitizenLocked(detail=f"sign-in to locked citizen {citizen.id}")
    if passwords.needs_rehash(hash=credential.hash):
        credential.hash = passwords.hash_password(password=password)
        db.session.commit()
    return PasswordChecked(
        citizen_id=citizen.id, needs_second_factor=totp.has_confirmed(citizen_id=citizen.id)
    )


def _verify(
    credential: PasswordCredential | None,
    password: str,
    *,
    limiter: ratelimit.Throttle,
    attempt: ratelimit.Attempt,
    authenticator: str,
) -> bool:
    """The password against ``credential`` (the same time spent without one). A "busy"
    answer checked no password: it is given back to both attempt counters, so a flood
    of busy answers can neither lock the citizen nor disable the password."""
    try:
        if credential is None:
            passwords.dummy_verify(password=password)
            return False
        return bool(passwords.verify_password(hash=credential.hash, password=password))
    except HashingBusy:
        limiter.not_made(attempt)
        limits.not_made(authenticator=authenticator)
        raise


def check_second_factor(*, citizen_id: str, code: str, recovery: bool, ip: str) -> Amr:
    """A TOTP code or a recovery code for ``citizen_id``; returns the method's amr.

    A recovery code is a one-time look-up secret standing in for the authenticator
    (NIST SP 800-63B 5.1.2), so it counts as ``otp``. Raises TooManyAttempts or
    AuthenticationFailed.
    """
    limiter = throttle(SECOND_FACTOR)
    attempt = limiter.begin(subject=citizen_id, ip=ip)
    authenticator = f"{'recovery' if recovery else 'totp'}:{citizen_id}"  # authenticator_limits
    limits.before_attempt(authenticator=authenticator)
    if recovery:
        ok = totp.use_recovery_code(citizen_id=citizen_id, code=code)
    else:
        ok = totp.verify(citizen_id=citizen_id, code=code)
    if not ok:
        limiter.failed(attempt)
        limits.record_failure(authenticator=authenticator)
        record_failure(
            method="recovery" if recovery else Amr.OTP,
            reason="invalid_code",
            citizen_id=citizen_id,
        )
        raise AuthenticationFailed(
            "The code is not valid. Check it and try again.", detail="second factor failed"
        )
    limiter.succeeded(attempt)
    limits.record_success(authenticator=authenticator)
    if recovery:
        log.info("citizen %s signed in with a recovery code", citizen_id)
    return Amr.OTP


def confirm_password(*, citizen_id: str, password: str, ip: str) -> None:
    """Re-authentication before a sensitive change (removing a factor)."""
    limiter = throttle(REAUTH)
    attempt = limiter.begin(subject=citizen_id, ip=ip)
    authenticator = f"password:{citizen_id}"  # authenticator_limits: the same password
    limits.before_attempt(authenticator=authenticator)
    credential = db.session.get(PasswordCredential, citizen_id)
    ok = _verify(
        credential, password, limiter=limiter, attempt=attempt, authenticator=authenticator
    )
    if not ok:
        limiter.failed(attempt)
        limits.record_failure(authenticator=authenticator)
        record_failure(method=Amr.PWD, reason="reauthentication_failed", citizen_id=citizen_id)
        raise AuthenticationFailed("The password is incorrect.", detail="re-authentication failed")
    limiter.succeeded(attempt)
    limits.record_success(authenticator=authenticator)
