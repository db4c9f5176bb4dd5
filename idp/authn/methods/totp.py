"""TOTP (RFC 6238) second factor and its recovery codes, behind one module of ours.

No other module imports ``pyotp``. Policy, stated once:

- RFC 6238 section 5.2: "We RECOMMEND that at most one time step is allowed as the
  network delay" -> a code from the previous, current or next 30-second step is accepted
  (``valid_window=1``).
- RFC 6238 section 5.2: "the verifier MUST NOT accept the second attempt of the same OTP
  after the successful validation has been issued for the first OTP" -> the last accepted
  step is stored, and only a later step is accepted. The check-and-set is one conditional
  UPDATE, so two processes racing with the same code cannot both win.
- The shared secret (RFC 4226 section 4, R6: at least 128 bits; we use 160) is stored
  sealed with AES-256-GCM, bound to the citizen's row.
- A credential counts only once confirmed with a code, so a half-finished enrolment never
  locks anyone out.
- Recovery codes (NIST SP 800-63B 5.1.2 "look-up secrets"): ten random codes of 50 bits,
  shown once, stored only as keyed hashes (HMAC-SHA256; their entropy makes a slow hash
  unnecessary), each usable once (again a conditional UPDATE).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

import pyotp
from flask import current_app
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...ids.protect import seal
from ...ids.protect import unseal
from ...keyring import Keyring
from ...models import RecoveryCode
from ...models import TotpCredential
from ...models._types import utcnow

DIGITS = 6
INTERVAL = 30
VALID_WINDOW = 1  # RFC 6238 5.2: one step either side, for clock drift and typing time
SECRET_BYTES = 20  # 160 bits, RFC 4226 section 4 recommendation
RECOVERY_CODE_COUNT = 10
# Crockford-style alphabet without 0/O, 1/I/L, U: easy to read off paper.
_RECOVERY_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
_RECOVERY_GROUPS = (5, 5)  # "ABCDE-FGHJK", 10 symbols = 49 bits


@dataclass(frozen=True)
class Enrolment:
    """An unconfirmed TOTP credential as shown to the citizen once."""

    secret: str  # base32, for manual entry
    uri: str  # otpauth:// provisioning URI, for the QR code


@dataclass(frozen=True)
class TotpStatus:
    confirmed_at: datetime | None
    pending: bool  # an enrolment was started and not confirmed
    recovery_codes_left: int


def _keyring() -> Keyring:
    kr: Keyring = current_app.extensions["idp.keyring"]
    return kr


def _context(citizen_id: str) -> str:
    return f"citizen/{citizen_id}/totp"


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL)


def _secret_of(credential: TotpCredential) -> str:
    return unseal(_keyring(), credential.secret_enc, context=_context(credential.citizen_id))


def _credential(citizen_id: str) -> TotpCredential | None:
    return db.session.get(TotpCredential, citizen_id)


# --- enrolment ---------------------------------------------------------------------------


def provision(*, citizen_id: str, account_name: str, issuer: str) -> Enrolment:
    """Start (or restart) an enrolment: a new secret, unconfirmed until ``confirm``.

    Refuses to replace a confirmed credential; remove it first (which needs a password).
    """
    existing = _credential(citizen_id)
    if existing is not None and existing.confirmed_at is not None:
        raise ValueError("a confirmed TOTP credential exists")
    secret = pyotp.random_base32(length=SECRET_BYTES * 8 // 5)
    sealed = seal(_keyring(), secret, context=_context(citizen_id))
    if existing is None:
        db.session.add(TotpCredential(citizen_id=citizen_id, secret_enc=sealed))
    else:
        existing.secret_enc = sealed
        existing.last_used_step = None
        existing.created_at = utcnow()
    try:
        db.session.commit()
    except IntegrityError:
        # Two enrolments started at once (a double click): the other one stands.
        db.session.rollback()
        pending = pending_enrolment(citizen_id=citizen_id, account_name=account_name, issuer=issuer)
        if pending is None:
            raise ValueError("a confirmed TOTP credential exists") from None
        return pending
    return Enrolment(secret=secret, uri=_uri(secret, account_name, issuer))


def pending_enrolment(*, citizen_id: str, account_name: str, issuer: str) -> Enrolment | None:
    """The unconfirmed enrolment, to show its QR code again (e.g. after a wrong code)."""
    credential = _credential(citizen_id)
    if credential is None or credential.confirmed_at is not None:
        return None
    secret = _secret_of(credential)
    return Enrolment(secret=secret, uri=_uri(secret, account_name, issuer))


def _uri(secret: str, account_name: str, issuer: str) -> str:
    # Key URI format (google-authenticator wiki): otpauth://totp/Issuer:account?secret=..
    return _totp(secret).provisioning_uri(name=account_name, issuer_name=issuer)


def confirm(*, citizen_id: str, code: str, now: float | None = None) -> bool:
    """Confirm a pending enrolment with a first code; the code's step is then spent."""
    credential = _credential(citizen_id)
    if credential is None or credential.confirmed_at is not None:
        return False
    step = _matching_step(_secret_of(credential), code, now)
    if step is None:
        return False
    credential.confirmed_at = utcnow()
    credential.last_used_step = step
    db.session.commit()
    return True


def remove(*, citizen_id: str) -> None:
    """Remove the TOTP credential and its recovery codes."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.citizen_id == citizen_id))
    db.session.execute(delete(TotpCredential).where(TotpCredential.citizen_id == citizen_id))
    db.session.commit()


def has_confirmed(*, citizen_id: str) -> bool:
    credential = _credential(citizen_id)
    return credential is not None and credential.confirmed_at is not None


def status(*, citizen_id: str) -> TotpStatus:
    credential = _credential(citizen_id)
    left = db.session.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.citizen_id == citizen_id, RecoveryCode.used_at.is_(None))
    )
    return TotpStatus(
        confirmed_at=credential.confirmed_at if credential else None,
        pending=credential is not None and credential.confirmed_at is None,
        recovery_codes_left=int(left or 0),
    )


# --- verification ------------------------------------------------------------------------


def _clean_code(code: str) -> str:
    return "".join(code.split())


def _matching_step(secret: str, code: str, now: float | None) -> int | None:
    """The time step whose code equals ``code``, within the valid window, or None."""
    code = _clean_code(code)
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = _totp(secret)
    current = int((time.time() if now is None else now) // INTERVAL)
    found = None
    # Compare against every candidate without stopping early: constant work per attempt.
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def verify(*, citizen_id: str, code: str, now: float | None = None) -> bool:
    """True for a valid code of a later step than any accepted before (never twice)."""
    credential = _credential(citizen_id)
    if credential is None or credential.confirmed_at is None:
        return False
    step = _matching_step(_secret_of(credential), code, now)
    if step is None:
        return False
    # RFC 6238 5.2 replay guard, atomic across processes: the row moves forward only if
    # no accepted step is as recent as this one.
    moved = db.session.execute(
        update(TotpCredential)
        .where(
            TotpCredential.citizen_id == citizen_id,
            or_(TotpCredential.last_used_step.is_(None), TotpCredential.last_used_step < step),
        )
        .values(last_used_step=step)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return bool(moved.rowcount == 1)  # type: ignore[attr-defined]


def code_at(*, secret: str, when: float) -> str:
    """The code an authenticator shows at ``when`` (for tests and the demo only)."""
    return _totp(secret).at(int(when))


# --- recovery codes ----------------------------------------------------------------------


def _recovery_hash(citizen_id: str, code: str) -> str:
    normalised = "".join(ch for ch in code.upper() if ch.isalnum())
    message = f"recovery/{citizen_id}/{normalised}".encode()
    return hmac.new(_keyring().token_hash, message, hashlib.sha256).hexdigest()


def _new_recovery_code() -> str:
    groups = [
        "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(size))
        for size in _RECOVERY_GROUPS
    ]
    return "-".join(groups)


def new_recovery_codes(*, citizen_id: str) -> list[str]:
    """Replace the citizen's recovery codes with fresh ones, returned once in clear."""
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.citizen_id == citizen_id))
    for code in codes:
        code_hash = _recovery_hash(citizen_id, code)
        db.session.add(RecoveryCode(citizen_id=citizen_id, code_hash=code_hash))
    db.session.commit()
    return codes


def use_recovery_code(*, citizen_id: str, code: str) -> bool:
    """Spend one recovery code; True if it was valid and unused (each works once)."""
    if not code or len(code) > 64:
        return False
    spent = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.citizen_id == citizen_id,
            RecoveryCode.code_hash == _recovery_hash(citizen_id, code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return bool(spent.rowcount == 1)  # type: ignore[attr-defined]
