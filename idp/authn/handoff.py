"""Hand-off: continue on the phone what was started on the website, at the same level.

Issue 5: "a citizen on the website can continue on their phone by scanning a code,
keeping the level reached (until it lapses)".

1. ``start(session)``: the signed-in website shows a QR code holding a single-use
   hand-off token (``IDP_APP_QR_TTL`` seconds, at most 120) bound to its SSO session.
2. ``redeem(payload, device)``: the government app scans it and posts it signed by its
   bound key (``POST /mobile/v1/handoff``): only a device bound to the same citizen can
   redeem it, so a photographed code is useless to anyone else. The app receives a
   one-time continue URL (60 s) to open in the phone's browser.
3. ``claim(code)``: that browser confirms (a page naming the account, against login
   CSRF) and gets its own SSO session, through ``service.complete_login``, with the
   level the website session stands at *now* (re-read at claim time: a level that
   lapsed, or a session signed out, meanwhile is not carried), its methods, the time it
   was reached (so it lapses when it would have on the website) and the channel that
   proved it; the new session's device is the phone.

From a kiosk (the signed-in kiosk screen shows the code, ``adapters.kiosk_app``) the
same steps apply, with two rules of their own:

- The phone's session is an ordinary session, not a kiosk session: the ``channel`` of
  the level stays ``kiosk`` (what portals see: where the level was proved, e.g. high by
  card + face) but ``AuthResult.kiosk_id`` is unset, so ``complete_login`` neither
  shortens it nor attaches it to a kiosk (it keys on where the session lives, never on
  the channel of the proof).
- The kiosk session ends when the phone claims the code: a kiosk is shared, and the
  citizen has moved on. The kiosk screen (which polls ``/kiosk/status``) then shows that
  the session ended.

A session assisted at a service-hall counter (its level carries ``act``) is not handed
off: what staff vouched for stays at the counter.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime

from flask import current_app

from ..errors import IdpError
from ..extensions import db
from ..models import Citizen
from ..store import current_store
from . import kiosk_sessions
from . import sessions
from .devices import Device
from .result import AuthResult
from .result import Channel
from .service import level_policy
from .sessions import SsoSession

KIND = "handoff"
CONTINUE = "handoff-continue"
PREFIX = "/mobile/handoff/"
CONTINUE_PATH = "/login/continue/"
CONTINUE_TTL = 60
MAX_TTL = 120


class HandoffUnavailable(IdpError):
    public = "This code is no longer valid. Show a new code on the website."


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _issuer() -> str:
    return str(current_app.config["IDP_ISSUER"]).rstrip("/")


@dataclass(frozen=True)
class Started:
    payload: str  # what the QR code encodes
    expires_in: int


def start(session: SsoSession) -> Started:
    ttl = max(1, min(int(current_app.config["IDP_APP_QR_TTL"]), MAX_TTL))
    token = secrets.token_urlsafe(24)
    current_store().put(
        KIND, _hash(token), {"sid": session.sid, "citizen_id": session.citizen_id}, ttl
    )
    return Started(payload=_issuer() + PREFIX + token, expires_in=ttl)


def redeem(*, payload: str, device: Device) -> str:
    """The continue URL for the phone's browser; raises HandoffUnavailable."""
    token = payload.rsplit(PREFIX, 1)[-1] if isinstance(payload, str) else ""
    if not token or len(token) > 64:
        raise HandoffUnavailable(detail="malformed hand-off payload")
    store = current_store()
    entry = store.get(KIND, _hash(token))
    if entry is None or entry["citizen_id"] != device.citizen_id:
        raise HandoffUnavailable(detail="unknown hand-off or another citizen's device")
    if store.consume(KIND, _hash(token)) is None:
        raise HandoffUnavailable(detail="hand-off used concurrently")
    code = secrets.token_urlsafe(24)
    store.put(
        CONTINUE,
        _hash(code),
        {"sid": entry["sid"], "citizen_id": device.citizen_id, "device_id": device.id},
        CONTINUE_TTL,
    )
    return f"{_issuer()}{CONTINUE_PATH}{code}"


def peek(code: str) -> str | None:
    """The masked name of the citizen a continue code is for (the confirmation page
    says whose account the browser is about to enter), or None."""
    if not isinstance(code, str) or not 0 < len(code) <= 64:
        return None
    entry = current_store().get(CONTINUE, _hash(code))
    citizen = db.session.get(Citizen, str(entry["citizen_id"])) if entry else None
    if citizen is None:
        return None
    name = citizen.name or "?"
    return name[0] + "*" * max(1, len(name) - 1)


def claim(code: str) -> AuthResult:
    """Consume the continue code: the website (or kiosk) session's standing level as
    an AuthResult for the phone's browser, never a kiosk session (module docstring);
    a kiosk session ends here. Raises HandoffUnavailable."""
    entry = current_store().consume(CONTINUE, _hash(code)) if peek(code) else None
    website = sessions.get_by_sid(current_store(), str(entry["sid"])) if entry else None
    if entry is None or website is None or website.citizen_id != entry["citizen_id"]:
        raise HandoffUnavailable(detail="continue code unknown, used, or session ended")
    now = int(time.time())
    if now >= website.expires_at:
        raise HandoffUnavailable(detail="website session expired")
    standing = website.standing(level_policy(), now)
    if standing is None:
        raise HandoffUnavailable(detail="no level left on the website session")
    if standing.act:
        raise HandoffUnavailable(detail="an assisted session stays at the counter")
    if website.kiosk_id:
        # The citizen continues on the phone: the shared kiosk is signed out at once.
        kiosk_sessions.end_session(current_store(), website)
    return AuthResult(
        citizen_id=website.citizen_id,
        methods=standing.methods,
        acr=standing.acr,
        channel=Channel(standing.channel or website.channel),
        auth_time=datetime.fromtimestamp(standing.reached_at, UTC),
        device_id=str(entry["device_id"]),
        extra={"handoff": website.sid},
    )
