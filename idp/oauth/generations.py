"""Generation values: one store round trip per request tells every cache whether it is current.

Two per-process caches are checked against a *generation* in the ephemeral store (Redis
in production, shared by every process): registered clients (``client_cache``) and
signing keys (``keys``). Whoever commits a change replaces the value (``replace``); a
cache uses a copy only if it was loaded under the current value, and reads the value
before the data it loads, so a copy loaded across a change carries the old value and is
dropped on its next use.

Within a request (the web layer opens the scope) both values are read together, in one
round trip (``EphemeralStore.get_many``: one Redis ``MGET``), the first time either is
needed, and hold for the rest of the request: the answer reading both at the start of
the request would give. A request that needs neither reads nothing. Outside a request
(CLI, background threads) every call reads the value it asks for.
"""

from __future__ import annotations

import contextvars
import secrets
from typing import Any

from ..store import current_store

CLIENTS = "client-generation"
KEYS = "key-generation"
KINDS = (CLIENTS, KEYS)
GENERATION_ID = "all"
# Far longer than any cache's own lifetime: should the store lose a value anyway, copies
# live at most that lifetime (IDP_CLIENT_CACHE_SECONDS, keys.CACHE_SECONDS).
GENERATION_TTL = 365 * 24 * 3600

# kind -> value, for the current request; None outside a request.
_REQUEST: contextvars.ContextVar[dict[str, str | None] | None] = contextvars.ContextVar(
    "idp_generations", default=None
)


def _value(stored: dict[str, Any] | None) -> str | None:
    return str(stored["v"]) if stored else None


def current(kind: str) -> str | None:
    """The store's generation ``kind``: once per request, with the others not yet read."""
    memo = _REQUEST.get()
    if memo is None:
        return _value(current_store().get(kind, GENERATION_ID))
    if kind not in memo:
        missing = [k for k in KINDS if k not in memo] if kind in KINDS else [kind]
        values = current_store().get_many([(k, GENERATION_ID) for k in missing])
        memo.update(zip(missing, map(_value, values), strict=True))
    return memo[kind]


def replace(kind: str) -> None:
    """After a committed change: a fresh value for every process; this request reads
    it again too."""
    current_store().put(kind, GENERATION_ID, {"v": secrets.token_hex(8)}, GENERATION_TTL)
    memo = _REQUEST.get()
    if memo is not None:
        memo.pop(kind, None)


def begin_request() -> None:
    """Open a per-request scope (the web layer calls this in every request)."""
    _REQUEST.set({})


def end_request(*_: Any) -> None:
    """Close it (teardown)."""
    _REQUEST.set(None)
