"""Approval requests answered in the mobile app: QR sign-in and push approvals.

One mechanism for every channel that needs "approve it on your phone": the website's
and the kiosks' (``adapters.kiosk_app``) QR sign-in, and push requests (a step-up on
the website; the hotline's CIBA requests). A request lives in the ephemeral store, says who is
asking (``client_name``), from which channel and place, and carries a short matching
code shown on both screens. The app answers with a decision signed by a bound device
key (``idp.authn.devices``); the waiting browser (or, later, the CIBA poller) then
claims the result once and hands it to ``service.complete_login``.

Rules (README "Sign in with the app"):

- **Lifetime.** A request expires ``IDP_APP_QR_TTL`` / ``IDP_APP_PUSH_TTL`` seconds
  after it was made, at most 120; the clock is ``now()`` (tests inject one as
  ``app.extensions["idp.clock"]``).
- **Single use.** The QR token is consumed by the first device that scans it; the
  decision is recorded once; the approved result is consumed by the first claim.
- **Bound to the browser.** The request holds a SHA-256 of a secret that only the
  browser that displayed the code has (an HttpOnly cookie): polling and claiming need
  it, so a relayed QR code or request id signs in nobody else.
- **Push cap.** At most ``IDP_APP_PUSH_MAX_PENDING`` pending push requests per citizen
  and ``IDP_APP_PUSH_PER_HOUR`` per hour (``TooManyRequests``).
- **"Not me".** A push refused as "not me" refuses the citizen's other pending
  requests, locks new push requests for ``IDP_APP_NOT_ME_LOCK`` seconds
  (``ApprovalsLocked``) and alerts the citizen (``idp.authn.alerts``). QR sign-in is
  started by the citizen themself and is not locked.
"""

from __future__ import annotations

from .answer import decide
from .answer import locked_for
from .answer import pending_for
from .answer import scan
from .answer import subscribe
from .model import GRACE
from .model import MAX_TTL
from .model import QR_PREFIX
from .model import AlreadyDecided
from .model import ApprovalRequest
from .model import ApprovalsLocked
from .model import Approved
from .model import Decision
from .model import Kind
from .model import RequestExpired
from .model import Started
from .model import Status
from .model import TooManyRequests
from .model import UnknownRequest
from .model import get
from .model import now
from .start import portal_name
from .start import start_push
from .start import start_qr
from .wait import cancel
from .wait import claim
from .wait import cookie_value
from .wait import status

__all__ = [
    "GRACE",
    "MAX_TTL",
    "QR_PREFIX",
    "AlreadyDecided",
    "ApprovalRequest",
    "ApprovalsLocked",
    "Approved",
    "Decision",
    "Kind",
    "RequestExpired",
    "Started",
    "Status",
    "TooManyRequests",
    "UnknownRequest",
    "cancel",
    "claim",
    "cookie_value",
    "decide",
    "get",
    "locked_for",
    "now",
    "pending_for",
    "portal_name",
    "scan",
    "start_push",
    "start_qr",
    "subscribe",
    "status",
]
