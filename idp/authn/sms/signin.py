"""Sign-in with an SMS one-time code: ID number, then a code sent to the phone on record.

The channel-independent part of "sign in with a text message" (the website uses it; the
hotline will). It reads no request: the caller passes the transaction (the interaction
uid), the client address and a function composing the message in the citizen's
language. The result is low assurance (DESIGN.md "Assurance": "password, or an SMS
one-time code"); the adapter builds the AuthResult.

Nobody learns from it who has an account (OWASP Authentication Cheat Sheet,
"Authentication and Error Messages"): an unknown number, a citizen without a phone and
a citizen with one get the same answer after the same limits, in the same time (the
text goes out on a background thread in production). The code page then refuses every
code for the first two. Limits:

- sending: ``codes.issue`` (cooldown, hourly per phone / citizen / address), and the
  sign-in throttle's address lock (``ratelimit``, scope ``sms``);
- entering: the code's own attempt cap, the ``ratelimit`` throttle per citizen and per
  address, and the per-authenticator cap ``sms:<citizen id>``
  (``authenticator_limits``), unknown numbers counted as ``sms:unknown:<blind index>``.

A right code also proves the citizen holds the phone on record: ``check_code`` marks the
number verified (``idp.authn.phone_verification``; OIDC ``phone_number_verified``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select

from ...errors import AuthenticationFailed
from ...extensions import db
from ...ids import IdNumber
from ...ids.protect import blind_index
from ...models import Citizen
from ...store import current_store
from .. import authenticator_limits as limits
from .. import phone_verification
from .. import ratelimit
from ..citizens import keyring
from ..events import record_failure
from ..events import record_lock
from ..result import Amr
from . import codes
from .codes import CodeExpired
from .codes import Issued

SCOPE = "sms"

# compose(code, minutes) -> the message text, in the citizen's language.
Compose = Callable[[str, int], str]


class CodeRejected(AuthenticationFailed):
    public = "The code is not valid. Check it and try again."


@dataclass(frozen=True)
class CodeSent:
    expires_in: int
    resend_in: int


def _throttle() -> ratelimit.Throttle:
    policy = ratelimit.policy_from_config(current_app.config)
    return ratelimit.Throttle(current_store(), policy, scope=SCOPE, on_lock=record_lock)


def _origin_bound(text: str, code: str) -> str:
    """WebOTP origin-bound one-time code line ("@host #code"), so a browser fills the
    code only on our own site: https://wicg.github.io/sms-one-time-codes/"""
    host = urlsplit(str(current_app.config["IDP_ISSUER"])).netloc
    return f"{text}\n\n@{host} #{code}"


def _send(
    *, transaction: str, citizen: Citizen | None, subject: str, ip: str, compose: Compose
) -> CodeSent:
    authenticator = f"sms:{citizen.id}" if citizen else f"sms:unknown:{subject}"
    _throttle().check(subject=subject, ip=ip)
    limits.check(authenticator=authenticator)
    minutes = max(1, int(current_app.config["IDP_TTL_SMS_CODE"]) // 60)
    issued: Issued = codes.issue(
        transaction=transaction,
        phone=citizen.phone if citizen else None,
        subject=subject,
        ip=ip,
        compose=lambda code: _origin_bound(compose(code, minutes), code),
        context={"citizen": citizen.id if citizen else "", "authenticator": authenticator},
    )
    return CodeSent(expires_in=issued.expires_in, resend_in=issued.resend_in)


def send_code(*, number: IdNumber, transaction: str, ip: str, compose: Compose) -> CodeSent:
    """Send a code to the phone on record for ``number`` (if any: same answer if not).

    Raises TooManyAttempts or AuthenticatorDisabled.
    """
    subject = blind_index(keyring(), number.normalised)
    citizen = db.session.scalar(select(Citizen).where(Citizen.id_number_index == subject))
    return _send(transaction=transaction, citizen=citizen, subject=subject, ip=ip, compose=compose)


def send_code_to(
    *, citizen: Citizen | None, subject: str, transaction: str, ip: str, compose: Compose
) -> CodeSent:
    """``send_code`` for a caller that has already found whom it names (the hotline:
    ``idp.authn.decoupled.Named``): ``subject`` is the throttle key, the blind index of
    the ID number when there is one; ``citizen`` None sends nothing, after the same
    limits. Raises TooManyAttempts or AuthenticatorDisabled."""
    return _send(transaction=transaction, citizen=citizen, subject=subject, ip=ip, compose=compose)


def resend_code(*, transaction: str, ip: str, compose: Compose) -> CodeSent:
    """Another code for the number of the transaction's last one.

    Raises CodeExpired (no code was sent in this transaction, or too long ago),
    TooManyAttempts or AuthenticatorDisabled.
    """
    pending = codes.pending(transaction=transaction)
    if pending is None:
        raise CodeExpired(detail="resend without a live SMS code")
    citizen_id = pending.context.get("citizen") or ""
    citizen = db.session.get(Citizen, citizen_id) if citizen_id else None
    return _send(
        transaction=transaction,
        citizen=citizen,
        subject=pending.subject,
        ip=ip,
        compose=compose,
    )


def check_code(*, transaction: str, code: str, ip: str) -> str:
    """The citizen id, if ``code`` is the live code of ``transaction``.

    Raises CodeRejected (wrong code), CodeExpired, TooManyAttempts or
    AuthenticatorDisabled.
    """
    pending = codes.pending(transaction=transaction)
    if pending is None:
        raise CodeExpired(detail="no live SMS code for the transaction")
    authenticator = pending.context.get("authenticator") or f"sms:unknown:{pending.subject}"
    citizen_id = pending.context.get("citizen") or ""
    limiter = _throttle()
    attempt = limiter.begin(subject=pending.subject, ip=ip)
    limits.before_attempt(authenticator=authenticator)
    citizen = db.session.get(Citizen, citizen_id) if citizen_id else None
    phone = citizen.phone if citizen else None
    ok = codes.verify(transaction=transaction, phone=phone, code=code)
    if not ok or citizen is None:
        limiter.failed(attempt)
        limits.record_failure(authenticator=authenticator)
        record_failure(
            method=Amr.SMS, reason="invalid_code", citizen_id=citizen.id if citizen else None
        )
        raise CodeRejected(detail="SMS code rejected")
    limiter.succeeded(attempt)
    limits.record_success(authenticator=authenticator)
    # The code went to ``phone`` and came back: proof the citizen holds that number.
    phone_verification.record(citizen, phone=phone or "", via=phone_verification.Via.SMS_SIGN_IN)
    return citizen.id
