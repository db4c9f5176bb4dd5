"""Brute-force defence: attempt limits per subject (ID number, citizen) and per client IP.

OWASP Authentication Cheat Sheet, "Protect Against Automated Attacks": lock or slow down
after repeated failures, per account and per source, without tying up workers. Every
counter lives in the ephemeral store, so all worker processes (Redis) see the same
numbers; nothing here sleeps. A refusal is ``TooManyAttempts(resets_in=N)``, which the
page turns into "try again in N seconds".

Per subject (the blind index of an ID number, never the clear number; or a citizen id
for second factors), within a window of ``WINDOW`` seconds:

- the first ``free_attempts`` failures cost nothing;
- each further failure makes the next attempt wait ``base_delay * 2**k`` seconds;
- the ``lock_after``-th failure locks the subject for ``lock_seconds``; once the lock has
  run out, a single further failure within the window locks it again;
- a success resets the subject's counters.

Attempts are counted *before* the password is checked and forgiven on success, so a burst
of parallel requests cannot slip past the limit while the first ones are still hashing.

Per client IP, failures across all subjects and scopes: ``ip_lock_after`` failures within
``IP_WINDOW`` lock the address for ``lock_seconds``. Successes do not reset it (one
attacker's good password must not buy a fresh budget for guessing others).

Unknown ID numbers are counted exactly like known ones, so the limits reveal nothing
about which numbers have accounts.

Each lock (of a subject or of an address) is reported once to ``on_lock`` when it is set:
the application records it on the audit trail (``idp.authn.events.record_lock``). The
refusals during a lock are not recorded one by one: a flood must not fill the trail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import TooManyAttempts
from ..store.base import EphemeralStore

# Failures count within this window from the first one; a success clears them sooner.
WINDOW = 24 * 3600
# Per-IP failures count within this window.
IP_WINDOW = 3600

_COUNT = "rl-count"  # failures (and attempts in flight) per subject / IP
_WAIT = "rl-wait"  # present while the subject must wait before the next attempt
_LOCK = "rl-lock"  # present while the subject or IP is locked
_STRIKE = "rl-strike"  # the subject was locked in this window: the next failure re-locks


@dataclass(frozen=True)
class Lock:
    """A lock just set: which limit (``scope``), on what (``subject`` or ``ip``), how long.
    It names neither the subject nor the address (the audit record has the origin)."""

    scope: str
    locked: str
    seconds: int


@dataclass(frozen=True)
class Policy:
    free_attempts: int
    lock_after: int
    lock_seconds: int
    ip_lock_after: int
    base_delay: int = 2  # seconds; doubled for each failure past the free ones

    def delay_after(self, failures: int) -> int:
        """Seconds the subject waits after its ``failures``-th failure."""
        if failures >= self.lock_after:
            return self.lock_seconds
        extra = failures - self.free_attempts
        if extra <= 0:
            return 0
        return int(min(self.base_delay * 2 ** (extra - 1), self.lock_seconds))


def policy_from_config(config: Mapping[str, Any]) -> Policy:
    return Policy(
        free_attempts=int(config["IDP_LOGIN_FREE_ATTEMPTS"]),
        lock_after=int(config["IDP_LOGIN_LOCK_AFTER"]),
        lock_seconds=int(config["IDP_LOGIN_LOCK_SECONDS"]),
        ip_lock_after=int(config["IDP_LOGIN_IP_LOCK_AFTER"]),
    )


def ip_key(ip: str) -> str:
    """Addresses are hashed in keys: a store dump is no access log."""
    return hashlib.sha256(ip.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Attempt:
    """One counted attempt, handed back to ``failed`` or ``succeeded``."""

    subject: str | None
    ip: str | None
    count: int  # the subject's attempts in the window, this one included
    limit: int  # the attempt that locks the subject


class Throttle:
    """Attempt limits for one kind of secret (``scope``: "login", "totp", "reauth" ...).

    Usage::

        attempt = throttle.begin(subject=key, ip=ip)  # raises TooManyAttempts
        if ok: throttle.succeeded(attempt)
        else:  throttle.failed(attempt)
    """

    def __init__(
        self,
        store: EphemeralStore,
        policy: Policy,
        *,
        scope: str,
        on_lock: Callable[[Lock], None] | None = None,
    ) -> None:
        self._store = store
        self._policy = policy
        self._scope = scope
        self._on_lock = on_lock

    def _id(self, what: str, key: str) -> str:
        # One budget per address across every scope (sign-in, codes, registration), so
        # an address cannot spread its guesses over several forms.
        return f"any:ip:{key}" if what == "ip" else f"{self._scope}:{what}:{key}"

    def _refuse_if_blocked(self, what: str, key: str) -> None:
        for kind in (_LOCK, _WAIT):
            remaining = self._store.ttl(kind, self._id(what, key))
            if remaining > 0:
                raise TooManyAttempts(resets_in=remaining)

    def check(self, *, subject: str | None, ip: str | None) -> None:
        """Refuse if the subject or the IP must wait, without counting an attempt."""
        if ip:
            self._refuse_if_blocked("ip", ip_key(ip))
        if subject:
            self._refuse_if_blocked("sub", subject)

    def begin(self, *, subject: str | None, ip: str | None) -> Attempt:
        """Check the limits and count this attempt against the subject up front."""
        self.check(subject=subject, ip=ip)
        if not subject:
            return Attempt(subject=None, ip=ip, count=0, limit=0)
        sid = self._id("sub", subject)
        limit = 1 if self._store.ttl(_STRIKE, sid) > 0 else self._policy.lock_after
        count = self._store.incr(_COUNT, sid, WINDOW)
        # More attempts in flight than the lock allows: refuse before any verification.
        if count > limit:
            self._lock(sid, locked="subject")
            raise TooManyAttempts(resets_in=self._policy.lock_seconds)
        return Attempt(subject=subject, ip=ip, count=count, limit=limit)

    def _lock(self, sid: str, *, locked: str) -> None:
        self._store.put(_LOCK, sid, {}, self._policy.lock_seconds)
        self._store.put(_STRIKE, sid, {}, WINDOW)
        self._store.delete(_COUNT, sid)
        self._store.delete(_WAIT, sid)
        self._report(locked)

    def _report(self, locked: str) -> None:
        if self._on_lock is not None:
            self._on_lock(Lock(scope=self._scope, locked=locked, seconds=self._policy.lock_seconds))

    def failed(self, attempt: Attempt) -> int:
        """Record that ``attempt`` failed; returns the seconds before the next one."""
        wait = 0
        if attempt.subject:
            sid = self._id("sub", attempt.subject)
            if attempt.count >= attempt.limit:
                self._lock(sid, locked="subject")
                wait = self._policy.lock_seconds
            elif (wait := self._policy.delay_after(attempt.count)) > 0:
                self._store.put(_WAIT, sid, {}, wait)
        if attempt.ip:
            iid = self._id("ip", ip_key(attempt.ip))
            if self._store.incr(_COUNT, iid, IP_WINDOW) >= self._policy.ip_lock_after:
                # Reported once: the lock's set when the address is not locked yet.
                if self._store.put_if_absent(_LOCK, iid, {}, self._policy.lock_seconds):
                    self._report("ip")
                wait = max(wait, self._policy.lock_seconds)
        return wait

    def not_made(self, attempt: Attempt) -> None:
        """``attempt`` was never made: refused before any secret was checked (the
        password hashing was busy). It stops counting against the subject, so "busy"
        answers cannot lock an account; a guesser learned nothing from them."""
        if attempt.subject:
            self._store.incr(_COUNT, self._id("sub", attempt.subject), WINDOW, amount=-1)

    def succeeded(self, attempt: Attempt) -> None:
        """A success forgives the subject's failures (not the IP's)."""
        if not attempt.subject:
            return
        sid = self._id("sub", attempt.subject)
        for kind in (_COUNT, _WAIT, _LOCK, _STRIKE):
            self._store.delete(kind, sid)


def cap(store: EphemeralStore, *, scope: str, key: str, limit: int, window: int) -> None:
    """Count one request against ``key`` (a blind index, a staff id, a client id: never
    an ID number) and refuse once ``limit`` requests were made within ``window`` seconds
    of the first. Unlike ``Throttle``, every request counts, success or not (a quota on
    starting sign-ins, not on guessing secrets). Raises ``TooManyAttempts``."""
    counter = f"cap:{scope}:{key}"
    if store.incr(_COUNT, counter, window) > limit:
        raise TooManyAttempts(resets_in=max(1, store.ttl(_COUNT, counter)))
