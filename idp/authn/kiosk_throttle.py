"""Throttle on a kiosk's refused assertions (card sign-ins and QR requests).

A kiosk that keeps sending assertions the provider refuses is either broken or in the
wrong hands: trying stolen cards against the face check, or reading ID numbers to learn
which have an account (``unknown_id_number``). So, in the spirit of OWASP's "Protect
Against Automated Attacks":

- a refusal the kiosk itself vouched for (``AssertionRejected.kiosk_id`` set: correctly
  signed, fresh, first seen) counts against that kiosk; one anybody could have sent (bad
  signature, expired, replayed, malformed) counts against the sender's client IP, so
  nobody can spend a kiosk's budget without its key;
- after ``IDP_KIOSK_REFUSAL_LIMIT`` refusals within ``IDP_KIOSK_REFUSAL_WINDOW`` seconds
  of the first, every assertion from that kiosk (by its claimed ``iss``) or that address
  is answered ``TooManyAttempts`` (429 with ``Retry-After``) until the window ends, before
  any check, so nothing more is learnt;
- a success never resets a count: one good card must not buy a fresh budget for
  guessing (as ``idp.authn.ratelimit``'s per-IP rule);
- the first refusal over the limit in a window is on the audit trail (``login.failure``,
  reason ``kiosk_throttled``, with the kiosk's id): once per window, so a flood cannot
  flood the trail.
"""

from __future__ import annotations

import hashlib

from flask import current_app

from .. import audit
from ..audit import ActorType
from ..audit import EventType
from ..audit import Outcome
from ..errors import TooManyAttempts
from ..store.base import EphemeralStore

KIND = "kiosk-refusals"  # counters (``incr``: the window starts with the first)
BLOCKED = "kiosk-blocked"  # set once a counter reaches the limit, until its window ends
RECORDED = "kiosk-throttled"  # the audit record of that window was written


def kiosk_key(client_id: str) -> str:
    return "kiosk:" + client_id


def ip_key(ip: str) -> str:
    # Not the address itself in the store's key space; a short digest will do.
    return "ip:" + hashlib.sha256(ip.encode()).hexdigest()[:32]


def _limits() -> tuple[int, int]:
    cfg = current_app.config
    return max(1, int(cfg["IDP_KIOSK_REFUSAL_LIMIT"])), int(cfg["IDP_KIOSK_REFUSAL_WINDOW"])


def check(store: EphemeralStore, *, keys: list[str], kiosk_id: str | None) -> None:
    """Refuse (``TooManyAttempts``) when any of ``keys`` has used up its refusals; the
    first such answer in a window is recorded on the audit trail."""
    for key in keys:
        resets_in = store.ttl(BLOCKED, key)
        if resets_in <= 0:
            continue
        if store.put_if_absent(RECORDED, key, {}, resets_in):
            by_kiosk = key.startswith("kiosk:")
            audit.record(
                EventType.LOGIN_FAILURE,
                outcome=Outcome.FAILURE,
                actor_type=ActorType.CLIENT if by_kiosk else ActorType.ANONYMOUS,
                actor_id=kiosk_id if by_kiosk else None,
                channel="kiosk",
                details={
                    "method": "kiosk_assertion",
                    "reason": "kiosk_throttled",
                    "by": "kiosk" if by_kiosk else "ip",
                },
                commit=True,
            )
        raise TooManyAttempts(resets_in=resets_in)


def refused(store: EphemeralStore, *, key: str) -> int:
    """Count one refusal against ``key``; returns the count in the current window."""
    limit, window = _limits()
    count = store.incr(KIND, key, window)
    if count >= limit:
        store.put_if_absent(BLOCKED, key, {}, max(1, store.ttl(KIND, key)))
    return count
