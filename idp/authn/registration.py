"""Online self-registration, checked against the population-registry extract, and the
registry's phone proved by an SMS code.

A citizen gives their ID number, real name, mobile number and a password (``start``);
a 6-digit code goes to that mobile number when the registry holds the number under that
name *and* that mobile number and no account exists for it yet; the account is created
when the code comes back (``finish``). Proofing is then "registry" (name and number
checked, the Guangdong L3 trust level), never "in person", and the phone starts verified
(``phone_verification``, via ``registration``).

Why the phone: a name and an ID number are often known to others (forms, photocopies).
Requiring the registry's mobile number is a third fact; the code makes it possession of
that phone, which a stranger who read the number somewhere does not have.

Enumeration. An ID number is no secret (DESIGN.md "Assurance"), but whether a number
has an account, and which name or phone the registry holds for it, are personal data.
So ``start`` answers alike whatever the registry says: the same page ("a code is on its
way if the details match"), in about the same time (the password is hashed on every
path; the text goes out on a background thread in production), after the same limits
(``sms.codes.issue`` with ``phone=None`` is a decoy nothing can match). Only the holder
of the registry's phone receives a code. A start that does not match, and every wrong
code, counts as a failure against the number's blind index and the client IP
(``ratelimit``), which bounds how many (number, name, phone) guesses anyone can test.
Only rules the citizen can see on their own input are named: the ID number's format, an
empty name, a malformed phone, a weak password.

Between the two steps the ephemeral store keeps the pending registration under a random
id, bound to the browser, for ``PENDING_SECONDS``: what was typed (to refill the form)
and the password's hash (never the password), sealed (AES-GCM under the data key, the
id as associated data), so the store holds no ID number, name or phone in clear.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app

from ..errors import IdpError
from ..errors import InvalidInput
from ..extensions import db
from ..ids import parse_id_number
from ..ids.protect import UnsealError
from ..ids.protect import seal
from ..ids.protect import unseal
from ..models import Citizen
from ..store import current_store
from . import password_policy
from . import phone_verification
from .citizens import Proofing
from .citizens import create_citizen
from .citizens import find_by_id_number
from .citizens import keyring
from .citizens import normalise_name
from .citizens import normalise_phone
from .citizens import registry_match
from .login import subject_for
from .login import throttle
from .methods import password as passwords
from .sms import codes
from .sms.codes import CodeExpired
from .sms.signin import CodeRejected

log = logging.getLogger(__name__)

REGISTER = "register"
PENDING = "registration"  # ephemeral kind: the pending registration
PENDING_SECONDS = 900  # time to receive a code (or ask for new ones) and type it

# compose(code, minutes) -> the message text, in the citizen's language.
Compose = Callable[[str, int], str]


class RegistrationRefused(InvalidInput):
    """The one answer for "not in the registry", "other name or phone", "already
    registered", once a code came back and the registry or the accounts changed
    meanwhile."""

    def __init__(self, *, detail: str) -> None:
        super().__init__(
            "We could not register an account with these details. Check that your ID "
            "number, name and mobile number are exactly as the population register holds "
            "them. If you already have an account, sign in instead; for help, visit a "
            "service hall.",
            detail=detail,
        )


class RegistrationExpired(IdpError):
    """No pending registration for this browser: never started, finished or too old."""

    public = "Your registration has expired. Fill in the form again."


@dataclass(frozen=True)
class Started:
    registration: str  # the pending registration's id (kept in the browser's UI cookie)
    expires_in: int  # seconds the code is valid
    resend_in: int  # seconds before another code may be sent


@dataclass(frozen=True)
class Typed:
    """What the citizen typed (normalised), to refill the form; never the password."""

    id_number: str
    name: str
    phone: str


@dataclass(frozen=True)
class _Pending:
    registration: str
    subject: str  # the blind index of the number (rate limits)
    typed: Typed
    password_hash: str
    matched: bool  # the registry holds these details and no account exists: code sent


def start(
    *, id_number: str, name: str, phone: str, password: str, ip: str, browser: str, compose: Compose
) -> Started:
    """Check the input, then send a code to ``phone`` if the registry holds these details
    (a decoy otherwise) and keep the registration pending.

    Raises ``InvalidIdNumber`` / ``InvalidInput`` (with ``field``) for a rule broken by the
    input itself, or ``TooManyAttempts``.
    """
    number = parse_id_number(number=id_number)
    clean_name = normalise_name(name=name)
    clean_phone = normalise_phone(phone=phone)
    password_policy.check(password=password, id_number=number.normalised, phone=clean_phone)

    subject = subject_for(number)
    limiter = throttle(REGISTER)
    attempt = limiter.begin(subject=subject, ip=ip)
    try:
        password_hash = passwords.hash_password(password=password)
    except ValueError:
        limiter.not_made(attempt)
        raise InvalidInput("The password is empty or too long.", field="password") from None
    except IdpError:  # HashingBusy: no secret was checked
        limiter.not_made(attempt)
        raise
    problem = _mismatch(id_number=number.normalised, name=clean_name, phone=clean_phone)
    if problem is not None:
        log.info("self-registration: no code sent (%s)", problem)
        limiter.failed(attempt)
    pending = _Pending(
        registration=secrets.token_urlsafe(24),
        subject=subject,
        typed=Typed(id_number=number.normalised, name=clean_name, phone=clean_phone),
        password_hash=password_hash,
        matched=problem is None,
    )
    issued = _send(pending, ip=ip, compose=compose)
    _save(pending, browser=browser)
    return Started(
        registration=pending.registration, expires_in=issued.expires_in, resend_in=issued.resend_in
    )


def details(*, registration: str, browser: str) -> Typed | None:
    """What was typed for the pending registration, to refill the form; None if none."""
    pending = _load(registration, browser=browser)
    return pending.typed if pending is not None else None


def resend(*, registration: str, browser: str, ip: str, compose: Compose) -> Started:
    """Another code for the pending registration (same limits as the first).
    Raises ``RegistrationExpired`` or ``TooManyAttempts``."""
    pending = _load(registration, browser=browser)
    if pending is None:
        raise RegistrationExpired(detail="resend without a pending registration")
    issued = _send(pending, ip=ip, compose=compose)
    return Started(
        registration=registration, expires_in=issued.expires_in, resend_in=issued.resend_in
    )


def finish(*, registration: str, browser: str, code: str, ip: str) -> Citizen:
    """Create the account if ``code`` is the live code of the pending registration.

    Raises ``RegistrationExpired``, ``CodeExpired`` (no live code: send a new one),
    ``CodeRejected`` (wrong code; the registration stays pending), ``TooManyAttempts``
    or ``RegistrationRefused`` (the registry or the accounts changed meanwhile).
    """
    pending = _load(registration, browser=browser)
    if pending is None:
        raise RegistrationExpired(detail="code without a pending registration")
    transaction = _transaction(registration)
    if codes.pending(transaction=transaction) is None:
        raise CodeExpired(detail="no live registration code")
    limiter = throttle(REGISTER)
    attempt = limiter.begin(subject=pending.subject, ip=ip)
    typed = pending.typed
    try:
        ok = codes.verify(
            transaction=transaction, phone=typed.phone if pending.matched else None, code=code
        )
    except CodeExpired:
        limiter.failed(attempt)
        raise
    if not ok:
        limiter.failed(attempt)
        raise CodeRejected(detail="registration code rejected")
    # The code proves the phone; the registry and the accounts may have changed since.
    problem = _mismatch(id_number=typed.id_number, name=typed.name, phone=typed.phone)
    citizen = None
    if problem is None:
        entry = registry_match(id_number=typed.id_number, name=typed.name)
        try:
            citizen = create_citizen(
                id_number=typed.id_number,
                name=entry.name if entry is not None else typed.name,
                phone=typed.phone,
                password_hash=pending.password_hash,
                proofing=Proofing.REGISTRY,
                address=entry.address if entry is not None else None,
                commit=False,
            )
        except InvalidInput:
            problem = "already registered (concurrent)"
    if citizen is None:
        limiter.failed(attempt)
        _forget(registration)
        raise RegistrationRefused(detail=f"self-registration refused: {problem}")
    phone_verification.record(
        citizen, phone=typed.phone, via=phone_verification.Via.REGISTRATION, commit=False
    )
    db.session.commit()
    limiter.succeeded(attempt)
    _forget(registration)
    log.info("self-registration: citizen %s created", citizen.id)
    return citizen


# --- the pending registration -----------------------------------------------------------------


def _mismatch(*, id_number: str, name: str, phone: str) -> str | None:
    """Why these details do not open an account (for the log), or None."""
    entry = registry_match(id_number=id_number, name=name)
    if entry is None:
        return "no registry entry with this name"
    if _phone_or_none(entry.phone) != phone:
        return "phone differs from the registry"
    if find_by_id_number(id_number) is not None:
        return "already registered"
    return None


def _transaction(registration: str) -> str:
    return f"register:{registration}"


def _send(pending: _Pending, *, ip: str, compose: Compose) -> codes.Issued:
    minutes = max(1, int(current_app.config["IDP_TTL_SMS_CODE"]) // 60)
    return codes.issue(
        transaction=_transaction(pending.registration),
        # Only the holder of the registry's phone gets a code; otherwise a decoy.
        phone=pending.typed.phone if pending.matched else None,
        subject=pending.subject,
        ip=ip,
        compose=lambda code: compose(code, minutes),
    )


def _context(registration: str) -> str:
    return f"registration/{registration}"


def _save(pending: _Pending, *, browser: str) -> None:
    body = {
        "id_number": pending.typed.id_number,
        "name": pending.typed.name,
        "phone": pending.typed.phone,
        "password_hash": pending.password_hash,
        "matched": pending.matched,
    }
    blob = seal(keyring(), json.dumps(body), context=_context(pending.registration))
    record = {
        "browser": browser,
        "subject": pending.subject,
        "sealed": base64.b64encode(blob).decode(),
    }
    current_store().put(PENDING, pending.registration, record, PENDING_SECONDS)


def _load(registration: str, *, browser: str) -> _Pending | None:
    if not registration or len(registration) > 64:
        return None
    record = current_store().get(PENDING, registration)
    if record is None or not secrets.compare_digest(str(record.get("browser")), browser):
        return None
    try:
        blob = base64.b64decode(str(record["sealed"]))
        body = json.loads(unseal(keyring(), blob, context=_context(registration)))
    except (KeyError, ValueError, UnsealError):
        return None
    return _Pending(
        registration=registration,
        subject=str(record["subject"]),
        typed=Typed(id_number=body["id_number"], name=body["name"], phone=body["phone"]),
        password_hash=str(body["password_hash"]),
        matched=bool(body["matched"]),
    )


def _forget(registration: str) -> None:
    current_store().delete(PENDING, registration)
    codes.forget(transaction=_transaction(registration))


def _phone_or_none(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return normalise_phone(phone=value)
    except InvalidInput:
        return None
