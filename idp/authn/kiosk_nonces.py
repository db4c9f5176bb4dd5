"""Server nonces that bind a kiosk's signed assertion to the kiosk page that asked for it.

Issue 5 lists a nonce among a card assertion's contents. The ``jti`` makes an assertion
single use, but the kiosk chooses it; the nonce is the provider's: every kiosk screen
(``GET /kiosk``, the refusal and QR pages) carries a fresh one, the kiosk software reads it
from the page and signs it into the assertion (claim ``nonce``), and the provider accepts
it only

- from the browser the page was shown to (the nonce is stored under a hash of that
  browser's id, ``idp.web.browser.browser_id``: an assertion captured on its way to one
  kiosk browser is refused in any other);
- once: the browser's nonce is spent by the first assertion that presents one, whether
  that assertion is then accepted or refused (a new page brings a new nonce);
- within ``IDP_KIOSK_NONCE_TTL`` seconds of the page: the kiosk screen reloads itself
  before that.

Only the newest page's nonce counts: a browser holds one at a time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import current_app

from ..store.base import EphemeralStore

KIND = "kiosk-nonce"
USED = "kiosk-nonce-used"
MAX_LENGTH = 128

MISSING = "nonce_missing"  # the assertion has no nonce
REUSED = "nonce_reused"  # it was already spent
MISMATCH = "nonce_mismatch"  # not this browser's page, or expired


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def ttl() -> int:
    return max(1, int(current_app.config["IDP_KIOSK_NONCE_TTL"]))


def issue(store: EphemeralStore, *, browser: str) -> str:
    """A fresh nonce for the page about to be shown to ``browser`` (replacing any older)."""
    nonce = secrets.token_urlsafe(24)
    store.put(KIND, _hash(browser), {"hash": _hash(nonce)}, ttl())
    return nonce


def redeem(store: EphemeralStore, *, browser: str, presented: object) -> str | None:
    """Spend ``browser``'s nonce against the one an assertion ``presented``: None when they
    match, else the reason (``MISSING``, ``REUSED``, ``MISMATCH``)."""
    if not isinstance(presented, str) or not presented:
        return MISSING
    if len(presented) > MAX_LENGTH:
        return MISMATCH
    digest = _hash(presented)
    current = store.consume(KIND, _hash(browser))
    if current is not None and hmac.compare_digest(str(current.get("hash")), digest):
        store.put(USED, digest, {}, ttl())
        return None
    if store.get(USED, digest) is not None:
        return REUSED
    return MISMATCH
