"""Helping a citizen enrol a passkey at a service-hall counter (issue 5).

After the staff member has confirmed the citizen's face (``idp.authn.hall``), the
counter page shows a one-time enrolment code. The citizen opens ``/hall/passkey`` on
their own phone or computer, types the code (never in a URL), and registers a passkey
there with the normal WebAuthn ceremony (``idp.authn.passkeys.registration``; user
verification required). The credential is stored with ``bound_in_person`` set: it was
bound after an in-person identity check (NIST SP 800-63B 6.1.2.1).

- The code: 10 characters from a 31-letter alphabet without look-alikes (about 50 bits),
  stored only as a keyed hash, for ``IDP_HALL_PASSKEY_CODE_SECONDS``; single use: the
  first right entry moves it to the browser that typed it, for one ceremony.
- Wrong entries are counted per client IP (``IDP_HALL_PASSKEY_CODE_ATTEMPTS`` per code
  lifetime), so the code space cannot be searched.
- Issuing the code and the enrolment are ``staff.action`` records (the staff member's id
  and counter); the citizen is notified of the new passkey.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from flask import current_app

from ..errors import IdpError
from ..errors import TooManyAttempts
from ..store import current_store
from . import alerts
from .hall import Case
from .hall import CounterStaff
from .hall import _confirmed
from .hall import _record
from .hall import active_counter
from .kiosks import KioskDevice
from .passkeys import registration
from .passkeys.credentials import Passkey
from .passkeys.policy import Kind
from .ratelimit import ip_key
from .staff.accounts import keyed_hash

CODE_KIND = "hall-passkey-code"
BROWSER_KIND = "hall-passkey-browser"
ATTEMPTS_KIND = "hall-passkey-attempts"
LOCK_KIND = "hall-passkey-lock"
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ2345679"  # no 0/O, 1/I, 8/B look-alikes
LENGTH = 10
CODE_ISSUED = "passkey_code_issued"
PASSKEY_ENROLLED = "passkey_enrolled"


class EnrolmentCodeInvalid(IdpError):
    public = "This enrolment code is not valid or has expired. Ask at the counter for a new one."


@dataclass(frozen=True)
class Enrolment:
    """A code accepted in this browser: whose passkey it will be, and where it was issued."""

    citizen_id: str
    staff_id: str
    counter_id: str
    place: str


def _ttl() -> int:
    return int(current_app.config["IDP_HALL_PASSKEY_CODE_SECONDS"])


def _normalise(code: str) -> str:
    return "".join(str(code or "")[:64].split()).replace("-", "").upper()


def issue_code(staff: CounterStaff, case: Case) -> str:
    """A one-time enrolment code for the case's citizen (shown once on the counter)."""
    _confirmed(case)
    code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    record = {
        "citizen_id": case.citizen_id,
        "staff_id": staff.staff_id,
        "counter_id": staff.counter.client_id,
        "place": staff.place,
    }
    current_store().put(CODE_KIND, keyed_hash("hall-passkey", code), record, _ttl())
    _record(staff.staff_id, staff.counter, case.citizen_id, CODE_ISSUED)
    return f"{code[:5]}-{code[5:]}"


def accept_code(*, code: str, browser: str, ip: str) -> Enrolment:
    """Take the code for this browser (single use). Raises ``EnrolmentCodeInvalid`` or
    ``TooManyAttempts``."""
    store = current_store()
    limit = int(current_app.config["IDP_HALL_PASSKEY_CODE_ATTEMPTS"])
    key = ip_key(ip)
    if store.get(LOCK_KIND, key) is not None:
        raise TooManyAttempts(resets_in=max(1, store.ttl(LOCK_KIND, key)))
    given = _normalise(code)
    record = None
    if len(given) == LENGTH and all(c in ALPHABET for c in given):
        record = store.consume(CODE_KIND, keyed_hash("hall-passkey", given))
    if record is None:
        if store.incr(ATTEMPTS_KIND, key, _ttl()) >= limit:
            store.put(LOCK_KIND, key, {}, _ttl())
        raise EnrolmentCodeInvalid(detail="unknown or expired counter enrolment code")
    store.put(BROWSER_KIND, browser, record, _ttl())
    return Enrolment(**record)


def pending(*, browser: str) -> Enrolment | None:
    record: dict[str, Any] | None = current_store().get(BROWSER_KIND, browser)
    return Enrolment(**record) if record else None


def options(*, browser: str) -> dict[str, Any]:
    """WebAuthn creation options for the browser's accepted code (a passkey, UV required)."""
    enrolment = pending(browser=browser)
    if enrolment is None:
        raise EnrolmentCodeInvalid(detail="no accepted enrolment code in this browser")
    from ..extensions import db
    from ..models import Citizen

    citizen = db.session.get(Citizen, enrolment.citizen_id)
    name = citizen.name if citizen is not None else "-"
    return registration.start_registration_for(
        citizen_id=enrolment.citizen_id,
        binding=f"hall:{browser}",
        kind=Kind.PASSKEY,
        user_name=name,
        display_name=name,
    )


def finish(*, browser: str, response: Any, name: str) -> Passkey:
    """Store the passkey (``bound_in_person``), audit with the issuing staff member and
    notify the citizen. Raises ``EnrolmentCodeInvalid`` or a passkey refusal."""
    enrolment = pending(browser=browser)
    if enrolment is None:
        raise EnrolmentCodeInvalid(detail="no accepted enrolment code in this browser")
    passkey = registration.finish_registration_for(
        citizen_id=enrolment.citizen_id,
        binding=f"hall:{browser}",
        response=response,
        name=name,
        bound_in_person=True,
    )
    current_store().delete(BROWSER_KIND, browser)
    counter = active_counter(enrolment.counter_id) or KioskDevice(
        client_id=enrolment.counter_id, name="-", place=enrolment.place, jwks={}
    )
    _record(enrolment.staff_id, counter, enrolment.citizen_id, PASSKEY_ENROLLED, passkey=passkey.id)
    alerts.record(
        citizen_id=enrolment.citizen_id,
        kind=alerts.ASSISTED,
        detail={"action": PASSKEY_ENROLLED, "place": enrolment.place},
    )
    return passkey
