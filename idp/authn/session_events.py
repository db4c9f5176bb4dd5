"""Who is told when an SSO session ends: a small listener registry.

The authentication core ends sessions (sign out, "end this session", sign out
everywhere, another citizen signing in on the same browser, expiry noticed on load) but
must not know what the protocol layer does about it. The protocol layer subscribes at
app construction (``idp.oauth.server.build_server`` subscribes back-channel logout,
OpenID Connect Back-Channel Logout 1.0 section 2.3: "the OP needs to remember the RPs
that the End-User has logged into").

Listeners live in the application (``app.extensions``), so two apps in one process
never share them. A listener that raises is logged and skipped: ending the session
still happens.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from flask import Flask
from flask import current_app
from flask import has_app_context

if TYPE_CHECKING:
    from .sessions import SsoSession

log = logging.getLogger(__name__)

KEY = "idp.session_ended"
Listener = Callable[["SsoSession"], None]


def subscribe(app: Flask, listener: Listener) -> None:
    listeners: list[Listener] = app.extensions.setdefault(KEY, [])
    if listener not in listeners:
        listeners.append(listener)


def listening() -> bool:
    return has_app_context() and bool(current_app.extensions.get(KEY))


def ended(session: SsoSession) -> None:
    """Tell every listener that ``session`` has ended."""
    if not has_app_context():
        return
    for listener in list(current_app.extensions.get(KEY, ())):
        try:
            listener(session)
        except Exception:  # one listener's failure never keeps a session alive
            log.exception("session-ended listener %r failed", listener)
