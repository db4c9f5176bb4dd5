"""Per-authenticator failure limits: NIST SP 800-63B section 5.2.2, "Rate Limiting".

https://pages.nist.gov/800-63-3/sp800-63b.html#throttle

"Unless otherwise specified in the description of a given authenticator, the verifier
SHALL limit consecutive failed authentication attempts on a single account to no more
than 100." And, so that the limit does not hand an attacker an easy lock-out: "Requiring
the claimant to wait following a failed attempt for a period of time that increases as
the account approaches its maximum allowance for consecutive failed attempts (e.g., 30
seconds up to an hour)."

``idp.authn.ratelimit`` guards sign-in forms per ID number and per address within a
day. This module follows one authenticator (a password, a TOTP, SMS codes, one passkey)
across addresses and days, until it is used successfully:

- failures are counted in the ephemeral store, so every process sees them;
- the first ``free_failures`` cost nothing; after each further one the next attempt
  waits ``base_delay`` seconds, doubling up to ``max_delay`` (30 s up to an hour by
  default, as NIST suggests), long before the cap;
- the ``max_failures``-th consecutive failure disables the authenticator durably (an
  ``AuthenticatorLockout`` row: it survives restarts and a flushed Redis) until an
  operator calls ``reenable``;
- a success forgives everything.

Attempts are also counted up front (``before_attempt``), as ``ratelimit`` does: an
attempt counts against the cap until it is recorded a success, so a parallel burst
cannot make more than ``max_failures`` guesses.

Authenticator keys name a kind and an internal id, never a secret or an ID number:
``password:<citizen id>``, ``totp:<citizen id>``, ``recovery:<citizen id>``,
``sms:<citizen id>``, ``webauthn:<credential id>``. Unknown ID numbers are counted under
``<kind>:unknown:<blind index>``, so a disabled method reveals nothing about who has an
account. Ids longer than ``MAX_ID`` are replaced by their SHA-256.

Usage::

    limits.before_attempt(authenticator=key)  # TooManyAttempts, AuthenticatorDisabled
    if ok: limits.record_success(authenticator=key)
    else:  limits.record_failure(authenticator=key)
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import AuthenticatorDisabled
from ..errors import TooManyAttempts
from ..extensions import db
from ..models import AuthenticatorLockout
from ..models._types import utcnow
from ..store import current_store

log = logging.getLogger(__name__)

_ATTEMPTS = "al-attempts"  # attempts since the last success, counted up front
_FAILURES = "al-failures"  # failures since the last success
_WAIT = "al-wait"  # present while the next attempt must wait
MAX_ID = 160  # longer ids (WebAuthn credential ids reach 1023 bytes) are hashed
BASE_DELAY = 30  # seconds, NIST SP 800-63B 5.2.2 "e.g., 30 seconds up to an hour"


@dataclass(frozen=True)
class Policy:
    max_failures: int
    free_failures: int
    max_delay: int
    window: int  # seconds the counters live from the first failure
    base_delay: int = BASE_DELAY

    def delay_after(self, failures: int) -> int:
        """Seconds to wait after the ``failures``-th consecutive failure."""
        extra = failures - self.free_failures
        if extra <= 0:
            return 0
        return int(min(self.base_delay * 2 ** min(extra - 1, 30), self.max_delay))


def policy_from_config(config: Mapping[str, Any]) -> Policy:
    return Policy(
        max_failures=int(config["IDP_AUTHENTICATOR_MAX_FAILURES"]),
        free_failures=int(config["IDP_AUTHENTICATOR_FREE_FAILURES"]),
        max_delay=int(config["IDP_AUTHENTICATOR_MAX_DELAY"]),
        window=int(config["IDP_AUTHENTICATOR_FAILURE_WINDOW"]),
    )


def _policy() -> Policy:
    return policy_from_config(current_app.config)


def authenticator_key(authenticator: str) -> str:
    """The stored form of an authenticator key: ``kind:id``, long ids hashed."""
    kind, sep, ident = authenticator.partition(":")
    if not kind or not sep or not ident:
        raise ValueError("an authenticator key is 'kind:id'")
    if len(ident) > MAX_ID:
        ident = "sha256:" + hashlib.sha256(ident.encode()).hexdigest()
    return f"{kind}:{ident}"


def is_disabled(*, authenticator: str) -> bool:
    key = authenticator_key(authenticator)
    # A column, not the entity: never a stale object from the caller's identity map.
    query = select(AuthenticatorLockout.authenticator).where(
        AuthenticatorLockout.authenticator == key
    )
    return db.session.scalar(query) is not None


def check(*, authenticator: str) -> None:
    """Refuse, without counting an attempt, if the authenticator is disabled or must wait
    (e.g. before sending an SMS code). Raises AuthenticatorDisabled or TooManyAttempts."""
    key = authenticator_key(authenticator)
    if is_disabled(authenticator=key):
        raise AuthenticatorDisabled(authenticator=key)
    remaining = current_store().ttl(_WAIT, key)
    if remaining > 0:
        raise TooManyAttempts(resets_in=remaining)


def before_attempt(*, authenticator: str) -> None:
    """Call before verifying a secret: refuses a disabled or waiting authenticator, and
    counts the attempt (forgiven by ``record_success``)."""
    key = authenticator_key(authenticator)
    check(authenticator=key)
    policy = _policy()
    attempts = current_store().incr(_ATTEMPTS, key, policy.window)
    if attempts > policy.max_failures:
        # More attempts without a success than the cap allows (a burst in flight, or
        # attempts never settled): no further guess is verified.
        _disable(key, failures=attempts - 1)
        raise AuthenticatorDisabled(authenticator=key)


def not_made(*, authenticator: str) -> None:
    """The attempt counted by ``before_attempt`` verified nothing (the server was busy):
    it no longer counts."""
    policy = _policy()
    current_store().incr(_ATTEMPTS, authenticator_key(authenticator), policy.window, amount=-1)


def record_failure(*, authenticator: str) -> None:
    """The secret was wrong: count it, set the next wait, disable at the cap."""
    key = authenticator_key(authenticator)
    policy = _policy()
    store = current_store()
    failures = store.incr(_FAILURES, key, policy.window)
    if failures >= policy.max_failures:
        _disable(key, failures=failures)
        return
    if (wait := policy.delay_after(failures)) > 0:
        store.put(_WAIT, key, {}, wait)


def record_success(*, authenticator: str) -> None:
    """The secret was right: every failure is forgiven."""
    _clear(authenticator_key(authenticator))


def reenable(*, authenticator: str) -> bool:
    """Re-enable a disabled authenticator (an operator's action, after checking the
    citizen's identity in person). True if it was disabled."""
    key = authenticator_key(authenticator)
    with Session(db.engine) as session:
        result = session.execute(
            delete(AuthenticatorLockout).where(AuthenticatorLockout.authenticator == key)
        )
        session.commit()
    _clear(key)
    was_disabled = int(getattr(result, "rowcount", 0) or 0) > 0
    if was_disabled:
        log.info("authenticator %s re-enabled", key)
    return was_disabled


def _clear(key: str) -> None:
    store = current_store()
    for kind in (_ATTEMPTS, _FAILURES, _WAIT):
        store.delete(kind, key)


def _disable(key: str, *, failures: int) -> None:
    # A session of its own: the lock-out is written even if the caller's unit of work
    # is rolled back, and never commits the caller's half-done changes.
    with Session(db.engine) as session:
        if session.get(AuthenticatorLockout, key) is None:
            session.add(
                AuthenticatorLockout(authenticator=key, disabled_at=utcnow(), failures=failures)
            )
            try:
                session.commit()
            except IntegrityError:
                session.rollback()  # another process disabled it at the same moment
            else:
                log.warning(
                    "authenticator %s disabled after %d consecutive failures", key, failures
                )
    _clear(key)
