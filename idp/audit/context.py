"""Where an event comes from: bound once per request (or command) by the layer that
knows, read by ``record``.

The audit package reads no Flask request (STYLE.md 7.4). ``idp.web`` binds the
client address and the channel at the start of every request, and the CLI binds the
operator, so a sign-in failure recorded deep in ``idp.authn`` still says "from where"
without every function passing the address down.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Origin:
    ip: str | None = None
    channel: str | None = None  # idp.authn.result.Channel value, when a channel served it
    operator: str | None = None  # the OS user running an `idp` command


_NONE = Origin()
_origin: ContextVar[Origin | None] = ContextVar("idp_audit_origin", default=None)


def bind(origin: Origin) -> None:
    """Set the origin for the rest of this request or command (a new context per
    request under Flask's own context handling; reset by the next bind)."""
    _origin.set(origin)


def current() -> Origin:
    return _origin.get() or _NONE
