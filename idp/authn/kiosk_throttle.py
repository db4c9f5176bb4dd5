"""Throttle on a terminal's refused assertions: a kiosk's card sign-ins and QR requests,
a service-hall counter's card readings.

A terminal that keeps sending assertions the provider refuses is either broken or in the
wrong hands: trying stolen cards against the face check, or reading ID numbers to learn
which have an account (``unknown_id_number``). So, in the spirit of OWASP's "Protect
Against Automated Attacks":

- each refusal is counted against who is answerable for it (the channel decides: at a
  kiosk, ``adapters.kiosk``; at a counter, ``idp.authn.hall``). A refusal the terminal
  itself vouched for (``AssertionRejected.kiosk_id`` set: correctly signed, fresh, first
  seen) counts against that terminal; one anybody could have sent (bad signature,
  expired, replayed, malformed) counts against the sender's client IP, so nobody can
  spend a terminal's budget without its key;
- after the channel's limit of refusals (``IDP_KIOSK_REFUSAL_LIMIT``,
  ``IDP_HALL_REFUSAL_LIMIT``) within its window (``..._REFUSAL_WINDOW`` seconds) of the
  first, every assertion from that terminal (by its claimed ``iss``), person or address
  is answered ``TooManyAttempts`` (429 with ``Retry-After``) until the window ends,
  before any check, so nothing more is learnt. The pause and ``Retry-After`` are the
  store's ``ttl``, whole seconds rounded up: the pause never lifts before the window
  ends, and a client that comes back when told finds it lifted;
- a success never resets a count: one good card must not buy a fresh budget for
  guessing (as ``idp.authn.ratelimit``'s per-IP rule);
- the first refusal over the limit in a window is on the audit trail (the channel's
  ``record``): once per window, so a flood cannot flood the trail.

Each channel counts in its own namespace (``kiosk-refusals``, ``hall-refusals`` ...).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from flask import current_app

from .. import audit
from ..audit import ActorType
from ..audit import EventType
from ..audit import Outcome
from ..errors import TooManyAttempts
from ..store.base import EphemeralStore
from .result import Channel

# The channels whose terminals' refusals are throttled, and their (limit, window) settings.
_SETTINGS = {
    Channel.KIOSK: ("IDP_KIOSK_REFUSAL_LIMIT", "IDP_KIOSK_REFUSAL_WINDOW"),
    Channel.HALL: ("IDP_HALL_REFUSAL_LIMIT", "IDP_HALL_REFUSAL_WINDOW"),
}

# Records the first 429 of a window; given what was used up ("kiosk", "counter", "ip" ...).
Record = Callable[[str], None]


def kiosk_key(client_id: str) -> str:
    return "kiosk:" + client_id


def counter_key(client_id: str) -> str:
    return "counter:" + client_id


def staff_key(staff_id: str) -> str:
    return "staff:" + staff_id


def ip_key(ip: str) -> str:
    # Not the address itself in the store's key space; a short digest will do.
    return "ip:" + hashlib.sha256(ip.encode()).hexdigest()[:32]


def _kinds(channel: Channel) -> tuple[str, str, str]:
    """The store kinds of ``channel``'s counters (``incr``: the window starts with the
    first), of the marks set once a counter reaches the limit (until its window ends),
    and of the marks that its window's audit record was written."""
    if channel not in _SETTINGS:
        raise ValueError(f"no refusal throttle on channel {channel}")
    return f"{channel}-refusals", f"{channel}-blocked", f"{channel}-throttled"


def _limits(channel: Channel) -> tuple[int, int]:
    limit, window = (current_app.config[name] for name in _SETTINGS[channel])
    return max(1, int(limit)), max(1, int(window))


def check(store: EphemeralStore, *, channel: Channel, keys: list[str], record: Record) -> None:
    """Refuse (``TooManyAttempts``) when any of ``keys`` has used up its refusals; the
    first such answer in a window is recorded: ``record(by)``, ``by`` the key's kind."""
    _, blocked, recorded = _kinds(channel)
    for key in keys:
        resets_in = store.ttl(blocked, key)
        if resets_in <= 0:
            continue
        if store.put_if_absent(recorded, key, {}, resets_in):
            record(key.split(":", 1)[0])
        raise TooManyAttempts(resets_in=resets_in)


def refused(store: EphemeralStore, *, channel: Channel, key: str) -> int:
    """Count one refusal against ``key``; returns the count in the current window."""
    counters, blocked, _ = _kinds(channel)
    limit, window = _limits(channel)
    count = store.incr(counters, key, window)
    if count >= limit:
        store.put_if_absent(blocked, key, {}, max(1, store.ttl(counters, key)))
    return count


def kiosk_record(kiosk_id: str | None) -> Record:
    """How a kiosk's first 429 of a window is recorded: ``login.failure``, reason
    ``kiosk_throttled``, the kiosk as actor when its own budget is used up."""

    def write(by: str) -> None:
        by_kiosk = by == "kiosk"
        audit.record(
            EventType.LOGIN_FAILURE,
            outcome=Outcome.FAILURE,
            actor_type=ActorType.CLIENT if by_kiosk else ActorType.ANONYMOUS,
            actor_id=kiosk_id if by_kiosk else None,
            channel=str(Channel.KIOSK),
            details={"method": "kiosk_assertion", "reason": "kiosk_throttled", "by": by},
            commit=True,
        )

    return write
