"""Server nonces that bind a terminal's signed assertion to the page that asked for it.

Issue 5 lists a nonce among a card assertion's contents. The ``jti`` makes an assertion
single use, but the terminal chooses it; the nonce is the provider's. Two channels use
one: every kiosk screen (``GET /kiosk``, the refusal and QR pages, ``adapters/kiosk``)
and the service-hall counter page that waits for a card (``GET /hall`` and its refusal
pages, ``adapters/hall``) carry a fresh one; the terminal's software reads it from the
page and signs it into the assertion (claim ``nonce``), and the provider accepts it only

- from the binding the page was shown to: at a kiosk, the kiosk browser's id
  (``idp.web.browser.browser_id``); at a counter, the staff member's counter session.
  The nonce is stored under a hash of that binding, in its channel's own namespace
  (``kiosk-nonce``, ``hall-nonce``): an assertion captured on its way to one browser
  or session is refused in any other, and a kiosk page's nonce is never a counter's;
- once: the binding's nonce is spent by the first assertion that presents one, whether
  that assertion is then accepted or refused (a new page brings a new nonce);
- within its channel's TTL of the page (``IDP_KIOSK_NONCE_TTL``, ``IDP_HALL_NONCE_TTL``).

Only the newest page's nonce counts: a binding holds one at a time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import current_app

from ..store.base import EphemeralStore
from .result import Channel

MAX_LENGTH = 128
# The channels whose pages carry a nonce, and the setting that says for how long.
_TTL_SETTINGS = {Channel.KIOSK: "IDP_KIOSK_NONCE_TTL", Channel.HALL: "IDP_HALL_NONCE_TTL"}

MISSING = "nonce_missing"  # the assertion has no nonce
REUSED = "nonce_reused"  # it was already spent
MISMATCH = "nonce_mismatch"  # not this binding's page, or expired


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _kinds(channel: Channel) -> tuple[str, str]:
    """The store kinds of ``channel``'s live and spent nonces."""
    if channel not in _TTL_SETTINGS:
        raise ValueError(f"no page nonces on channel {channel}")
    return f"{channel}-nonce", f"{channel}-nonce-used"


def ttl(channel: Channel) -> int:
    return max(1, int(current_app.config[_TTL_SETTINGS[channel]]))


def issue(store: EphemeralStore, *, channel: Channel, binding: str) -> str:
    """A fresh nonce for the page about to be shown to ``binding`` (replacing any older)."""
    live, _ = _kinds(channel)
    nonce = secrets.token_urlsafe(24)
    store.put(live, _hash(binding), {"hash": _hash(nonce)}, ttl(channel))
    return nonce


def redeem(
    store: EphemeralStore, *, channel: Channel, binding: str, presented: object
) -> str | None:
    """Spend ``binding``'s nonce against the one an assertion ``presented``: None when they
    match, else the reason (``MISSING``, ``REUSED``, ``MISMATCH``)."""
    live, used = _kinds(channel)
    if not isinstance(presented, str) or not presented:
        return MISSING
    if len(presented) > MAX_LENGTH:
        return MISMATCH
    digest = _hash(presented)
    current = store.consume(live, _hash(binding))
    if current is not None and hmac.compare_digest(str(current.get("hash")), digest):
        store.put(used, digest, {}, ttl(channel))
        return None
    if store.get(used, digest) is not None:
        return REUSED
    return MISMATCH
