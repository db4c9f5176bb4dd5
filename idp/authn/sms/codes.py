"""SMS one-time codes: issue and verify (NIST SP 800-63B 5.1.3, out-of-band authenticators).

https://pages.nist.gov/800-63-3/sp800-63b.html#-5133-authentication-using-the-public-switched-telephone-network

- A code is 6 random digits (NIST SP 800-63B 5.1.3.2: "at least 20 bits of entropy"),
  used once, alive ``IDP_TTL_SMS_CODE`` seconds (5 minutes; 5.1.3.2: "SHALL be
  accepted only once", and "only during ... the authentication transaction").
- It is bound to one transaction (the interaction uid: the record lives under it) and
  to the phone it went to: the keyed hash covers transaction, phone and code, so it is
  worthless in another sign-in or once the number on record changed.
- At most ``IDP_SMS_CODE_ATTEMPTS`` wrong entries per code; then the code is void.
  The count is taken before comparing, so parallel guesses cannot exceed it.
- Only a keyed hash is stored (HMAC-SHA256 under ``keyring.token_hash``); 20 bits
  need no slow hash, since guesses are capped.
- Sending is limited: one code per ``IDP_SMS_RESEND_SECONDS`` for a transaction, a
  phone and a subject (citizen, or the blind index of the number typed), and per hour
  ``IDP_SMS_SENDS_PER_PHONE``, ``..._PER_CITIZEN`` and ``..._PER_IP``.

``issue`` with ``phone=None`` stores a decoy that nothing can match and sends nothing,
after the same limits: callers use it for ID numbers without an account or a phone, so
that answers, limits and timing are the same (see ``signin``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field

from flask import Config
from flask import current_app

from ...errors import IdpError
from ...errors import TooManyAttempts
from ...store import current_store
from ..ratelimit import ip_key
from .gateway import SmsDeliveryFailed
from .gateway import current_gateway

log = logging.getLogger(__name__)

DIGITS = 6
HOUR = 3600
_CODE = "sms-code"  # the live code of a transaction: keyed hash, subject, context
_ATTEMPTS = "sms-code-attempts"  # entries of the transaction's current code
_COOLDOWN = "sms-cooldown"  # present while no new code may be sent
_SENDS = "sms-sends"  # codes sent in the last hour, per phone / subject / address


class CodeExpired(IdpError):
    """No live code for the transaction: never sent, expired, used, or void after too
    many wrong entries."""

    public = "This code has expired or can no longer be used. Send a new code."


@dataclass(frozen=True)
class Settings:
    ttl: int
    attempts: int
    resend: int
    per_phone: int
    per_subject: int
    per_ip: int


def settings_from_config(config: Config) -> Settings:
    sms = config.get_namespace("IDP_SMS_")
    return Settings(
        ttl=int(config["IDP_TTL_SMS_CODE"]),
        attempts=int(sms["code_attempts"]),
        resend=int(sms["resend_seconds"]),
        per_phone=int(sms["sends_per_phone"]),
        per_subject=int(sms["sends_per_citizen"]),
        per_ip=int(sms["sends_per_ip"]),
    )


@dataclass(frozen=True)
class Issued:
    expires_in: int  # seconds the code is valid
    resend_in: int  # seconds before another code may be sent


@dataclass(frozen=True)
class PendingCode:
    """What a transaction's live code is for (never the code or its hash)."""

    subject: str
    context: dict[str, str] = field(default_factory=dict)


def _settings() -> Settings:
    return settings_from_config(current_app.config)


def _keyed(*parts: str) -> str:
    key: bytes = current_app.extensions["idp.keyring"].token_hash
    message = b"\x00".join(p.encode() for p in ("sms-code", *parts))
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _phone_id(phone: str) -> str:
    """Store keys hold no clear phone numbers."""
    return _keyed("phone", phone)[:32]


def new_code() -> str:
    return f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}"


def _refuse_while_cooling(ids: list[str]) -> None:
    store = current_store()
    for cid in ids:
        remaining = store.ttl(_COOLDOWN, cid)
        if remaining > 0:
            raise TooManyAttempts(resets_in=remaining)


def _count_send(kind: str, key: str, limit: int) -> None:
    store = current_store()
    sid = f"{kind}:{key}"
    if store.incr(_SENDS, sid, HOUR) > limit:
        raise TooManyAttempts(resets_in=max(1, store.ttl(_SENDS, sid)))


def issue(
    *,
    transaction: str,
    phone: str | None,
    subject: str,
    ip: str,
    compose: Callable[[str], str],
    context: Mapping[str, str] | None = None,
) -> Issued:
    """Send a new code for ``transaction`` to ``phone`` (``None``: a decoy, nothing sent),
    replacing any earlier one. ``compose(code)`` returns the message text. ``subject``
    (a citizen id or a blind index, never an ID number) and ``context`` come back from
    ``pending``. Raises TooManyAttempts (cooldown or hourly limit)."""
    cfg = _settings()
    store = current_store()
    cooldowns = [f"tx:{transaction}", f"sub:{subject}"]
    if phone:
        cooldowns.append(f"phone:{_phone_id(phone)}")
    _refuse_while_cooling(cooldowns)
    _count_send("ip", ip_key(ip), cfg.per_ip)
    _count_send("sub", subject, cfg.per_subject)
    if phone:
        _count_send("phone", _phone_id(phone), cfg.per_phone)
    if cfg.resend > 0:
        for cid in cooldowns:
            store.put(_COOLDOWN, cid, {}, cfg.resend)

    code = new_code()
    record = {
        "hash": _keyed(transaction, phone or "", code),
        "subject": subject,
        "context": dict(context or {}),
    }
    store.delete(_ATTEMPTS, transaction)
    store.put(_CODE, transaction, record, cfg.ttl)
    if phone:
        try:
            current_gateway().send(phone=phone, text=compose(code))
        except SmsDeliveryFailed as exc:
            # Said to nobody but the operator: a page that reported it would tell who
            # has an account with a phone. The citizen can send a new code.
            log.warning("SMS code not delivered: %s", exc.detail)
    return Issued(expires_in=cfg.ttl, resend_in=cfg.resend)


def pending(*, transaction: str) -> PendingCode | None:
    record = current_store().get(_CODE, transaction) if transaction else None
    if record is None:
        return None
    return PendingCode(subject=str(record["subject"]), context=dict(record.get("context") or {}))


def resend_in(*, transaction: str) -> int:
    """Seconds before the transaction may have a new code (0: now)."""
    return current_store().ttl(_COOLDOWN, f"tx:{transaction}")


def _clean(code: str) -> str:
    return "".join(str(code or "")[:32].split())


def verify(*, transaction: str, phone: str | None, code: str) -> bool:
    """True, once, for the right code of the transaction's live code sent to ``phone``.

    Raises CodeExpired when there is no live code (or it just became void); a wrong
    code is False and counts against the code's attempts.
    """
    cfg = _settings()
    store = current_store()
    record = store.get(_CODE, transaction) if transaction else None
    if record is None:
        raise CodeExpired(detail="no live SMS code for the transaction")
    entries = store.incr(_ATTEMPTS, transaction, cfg.ttl)
    if entries > cfg.attempts:
        store.delete(_CODE, transaction)
        raise CodeExpired(detail="SMS code void after too many wrong entries")
    given = _clean(code)
    ok = (
        bool(phone)
        and len(given) == DIGITS
        and given.isdigit()
        and hmac.compare_digest(_keyed(transaction, phone or "", given), str(record["hash"]))
    )
    if not ok:
        if entries >= cfg.attempts:
            store.delete(_CODE, transaction)  # that was the last entry allowed
        return False
    # Single use: of two requests with the right code, only the one that takes the
    # record wins (and not if a new code replaced it meanwhile).
    taken = store.consume(_CODE, transaction)
    store.delete(_ATTEMPTS, transaction)
    return taken is not None and hmac.compare_digest(str(taken["hash"]), str(record["hash"]))


def forget(*, transaction: str) -> None:
    """Drop the transaction's code (the sign-in finished or was abandoned)."""
    store = current_store()
    store.delete(_CODE, transaction)
    store.delete(_ATTEMPTS, transaction)
