"""The service-hall counter (issue 5): counter staff sessions, cases, assisted sessions
and in-person identity proofing. No request is read here: ``adapters/hall`` passes
plain values.

- **Counter staff session.** A staff member with the ``counter_staff`` role signs in at a
  registered counter terminal (``Kiosk`` row of kind ``counter``) with WebAuthn (user
  verification required, ``idp.authn.staff.ceremonies``). The session is a
  ``console_session`` record plus a ``hall-staff`` record binding it to that counter; its
  cookie (``IDP_HALL_COOKIE``) is sent only to ``/hall``. Every request re-reads the
  account: a disabled member or a removed role ends the access at once.
- **Case.** The counter terminal reads the citizen's chip ID card and signs the reading
  (``idp.authn.methods.terminal.verify_counter_card``) with the server nonce of the
  counter page it is posted from (``page_nonce``: one at a time per counter session,
  single use, ``idp.authn.kiosk_nonces``); it must come from the counter the staff
  member is signed in at. A refused reading is recorded like the counter's other
  refusals (``staff.action``, outcome failure, with the reason). A case (``hall-case``,
  ephemeral) ties the citizen, staff member and counter together; nothing can be done
  for the citizen until the staff member confirms, deliberately, that the face in front
  of them matches the card.
- **Throttle on refused readings** (``idp.authn.kiosk_throttle``, channel hall,
  ``IDP_HALL_REFUSAL_LIMIT`` per ``IDP_HALL_REFUSAL_WINDOW``): a reading the counter
  signed and the provider refused counts against that counter and the staff member
  (``_count_refusal`` says why both); one anybody could have sent, against the sender's
  address. Past the limit, every reading in a session at that counter, by that staff
  member or from that address is refused (``TooManyAttempts``) before any check until
  the window ends; the first such answer of a window is recorded (``staff.action``,
  reason ``throttled``, ``by`` counter, staff or ip).
- **Assisted session.** ``assisted_result`` turns a confirmed case into an AuthResult:
  channel ``hall``, ``amr`` ``sc face`` (chip card, face compared in person), level high,
  ``acting_staff_id`` the staff member, device the counter and place "hall, window". Its
  lifetime is short (``IDP_HALL_SESSION_SECONDS``); a portal signed in with it gets at
  most the counter's registered scopes (``scope_cap``).
- **Proofing actions** (raise proofing to in-person, bind a phone verified by an SMS
  code sent to it, which so starts verified (``phone_verification``), reset a forgotten
  password that the citizen types at the counter screen): each is recorded on the audit
  trail as ``staff.action`` with the staff member's id, the counter and the action, and
  the citizen is notified (an alert on the account page and a text to the phone on
  record).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from typing import Any

from flask import current_app

from .. import audit
from ..audit import ActorType
from ..audit import EventType
from ..errors import IdpError
from ..extensions import db
from ..models import Citizen
from ..models import OAuthClient
from ..models import PasswordCredential
from ..models import Staff
from ..store import current_store
from . import alerts
from . import kiosk_nonces
from . import kiosk_sessions
from . import kiosk_throttle
from . import password_policy
from . import phone_verification
from . import sessions
from .assurance import level_for
from .citizens import Proofing
from .citizens import id_number_of
from .citizens import normalise_phone
from .kiosks import KioskDevice
from .kiosks import active_kiosk
from .methods.password import hash_password
from .methods.terminal import AssertionRejected
from .methods.terminal import CardSignIn
from .methods.terminal import verify_counter_card
from .result import Acr
from .result import Amr
from .result import AuthResult
from .result import Channel
from .sms import codes as sms_codes
from .staff import accounts
from .staff import console_session
from .staff.roles import Role

STAFF_KIND = "hall-staff"
CASE_KIND = "hall-case"
COUNTER = "counter"
# Chip card read by the counter terminal + face compared in person by the staff member.
METHODS = (Amr.SC, Amr.FACE)
# The audit ``details.action`` of each assisted step.
CARD_READ = "card_read"
FACE_CONFIRMED = "face_confirmed"
ASSISTED_SIGN_IN = "assisted_sign_in"
PROOFING_IN_PERSON = "proofing_in_person"
PHONE_CODE_SENT = "phone_code_sent"
PHONE_BOUND = "phone_bound"
PASSWORD_RESET = "password_reset"
THROTTLED = "throttled"  # the reason of a reading refused by the throttle
NOTIFIED = (ASSISTED_SIGN_IN, PROOFING_IN_PERSON, PHONE_BOUND, PASSWORD_RESET)


class HallRefused(IdpError):
    """The counter refused a request; ``reason`` is a short ASCII code."""

    public = "This counter cannot do that."

    def __init__(self, public: str, *, reason: str) -> None:
        super().__init__(public, detail=f"hall refused: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class CounterStaff:
    """A staff member signed in at a counter."""

    sid: str
    staff_id: str
    name: str
    counter: KioskDevice

    @property
    def place(self) -> str:
        """Where the staff member serves: "<hall>, <window>"."""
        window = self.counter.window
        return f"{self.counter.place}, {window}" if window else self.counter.place


@dataclass(frozen=True)
class Case:
    """One citizen at the counter, from the card reading on."""

    uid: str
    staff_id: str
    counter_id: str
    citizen_id: str
    card_serial: str | None
    opened_at: int
    face_confirmed_at: int | None = None
    phone_pending: str | None = None


def _cfg(key: str) -> int:
    return int(current_app.config[key])


# --- the counter staff session ---------------------------------------------------------------


def may_serve(staff: Staff | None) -> bool:
    """An enabled account holding the counter_staff role."""
    return (
        staff is not None
        and staff.disabled_at is None
        and str(Role.COUNTER_STAFF) in (staff.roles or [])
    )


def active_counter(counter_id: Any) -> KioskDevice | None:
    return active_kiosk(counter_id, kind=COUNTER)


def start_counter_session(*, staff: Staff, counter_id: str) -> tuple[CounterStaff, str]:
    """A counter session for ``staff`` (just verified with WebAuthn) at ``counter_id``;
    returns it and the cookie value. Raises ``HallRefused``."""
    counter = active_counter(counter_id)
    if counter is None:
        _refusal(staff.id, counter_id, "unknown_counter")
        raise HallRefused(
            "This counter terminal is not registered or is disabled.", reason="counter"
        )
    if not may_serve(staff):
        _refusal(staff.id, counter_id, "not_counter_staff")
        raise HallRefused("Your account may not serve at a counter.", reason="role")
    store = current_store()
    lifetime = _cfg("IDP_HALL_STAFF_MAX")
    session, cookie = console_session.start(
        store, staff_id=staff.id, idle=_cfg("IDP_HALL_STAFF_IDLE"), lifetime=lifetime
    )
    store.put(STAFF_KIND, session.sid, {"counter": counter.client_id}, lifetime)
    _record(staff.id, counter, None, "staff_sign_in")
    name = staff.display_name or staff.username
    return CounterStaff(session.sid, staff.id, name, counter), cookie


def load_counter_session(cookie: str | None) -> CounterStaff | None:
    """The live counter session behind ``cookie``: the session lives, it was started at
    a counter (not a console session), the account is enabled and holds the role, and
    the counter is still active. Else None."""
    store = current_store()
    session = console_session.load(store, cookie, idle=_cfg("IDP_HALL_STAFF_IDLE"))
    if session is None:
        return None
    bound = store.get(STAFF_KIND, session.sid)
    staff = accounts.get(session.staff_id)
    counter = active_counter(bound.get("counter")) if bound else None
    if bound is None or counter is None or not may_serve(staff):
        return None
    assert staff is not None
    return CounterStaff(session.sid, staff.id, staff.display_name or staff.username, counter)


def end_counter_session(cookie: str | None) -> str | None:
    """Sign the staff member out; the assisted session at the counter ends too.
    Returns the counter's id (None without a session)."""
    store = current_store()
    session = console_session.load(store, cookie, idle=_cfg("IDP_HALL_STAFF_IDLE"))
    if session is None:
        return None
    bound = store.consume(STAFF_KIND, session.sid)
    console_session.end(store, session)
    if not bound:
        return None
    kiosk_sessions.end_at_kiosk(store, str(bound["counter"]))
    _record(
        session.staff_id, active_counter(bound["counter"]) or _gone(bound), None, "staff_sign_out"
    )
    return str(bound["counter"])


def _gone(bound: dict[str, Any]) -> KioskDevice:
    return KioskDevice(client_id=str(bound["counter"]), name="-", place="-", jwks={})


# --- cases -----------------------------------------------------------------------------------


def page_nonce(staff: CounterStaff) -> str:
    """A fresh server nonce for the counter page about to be shown in ``staff``'s counter
    session: the terminal signs it into its next card reading (only the newest counts)."""
    return kiosk_nonces.issue(current_store(), channel=Channel.HALL, binding=staff.sid)


def read_card(staff: CounterStaff, *, assertion: Any, audience: str, now: int, ip: str) -> Case:
    """A signed card reading posted in ``staff``'s counter session from ``ip`` opens a
    case: verified (signature, freshness, single use, this session's page nonce) and from
    the staff member's own counter. A refusal is recorded and counted; once this counter,
    staff member or address has used up its refusals, ``TooManyAttempts`` before any
    check (module docstring). Raises ``AssertionRejected`` or ``HallRefused``."""
    store = current_store()
    keys = [
        kiosk_throttle.counter_key(staff.counter.client_id),
        kiosk_throttle.staff_key(staff.staff_id),
        kiosk_throttle.ip_key(ip),
    ]

    def record(by: str) -> None:
        _refusal(staff.staff_id, staff.counter.client_id, THROTTLED, by=by)

    kiosk_throttle.check(store, channel=Channel.HALL, keys=keys, record=record)
    try:
        reading = verify_counter_card(
            assertion=assertion,
            audience=audience,
            now=now,
            max_age=_cfg("IDP_HALL_ASSERTION_MAX_AGE"),
            staff_session=staff.sid,
        )
    except AssertionRejected as exc:
        _refusal(staff.staff_id, staff.counter.client_id, exc.reason)
        if exc.reason != "missing":  # nothing was sent
            _count_refusal(staff, signed_by=exc.kiosk_id, ip=ip)
        raise
    try:
        return open_case(staff, reading)
    except HallRefused:
        _count_refusal(staff, signed_by=reading.kiosk.client_id, ip=ip)
        raise


def _count_refusal(staff: CounterStaff, *, signed_by: str | None, ip: str) -> None:
    """Count a refused reading against who is answerable for it. One a counter signed
    (fresh, first seen, refused on its contents) is that counter's doing and the staff
    member's, who had it read: both budgets, so neither a counter's new shift nor a staff
    member moving from counter to counter starts afresh. One nobody vouched for (bad
    signature, expired, replayed, malformed) proves no counter's key and is refused
    before the card's contents are read: only the sender's address, so a forger spends
    neither a counter's budget nor a staff member's."""
    if signed_by is None:
        keys = [kiosk_throttle.ip_key(ip)]
    else:
        keys = [kiosk_throttle.counter_key(signed_by), kiosk_throttle.staff_key(staff.staff_id)]
    for key in keys:
        kiosk_throttle.refused(current_store(), channel=Channel.HALL, key=key)


def open_case(staff: CounterStaff, card: CardSignIn) -> Case:
    """A verified card reading from the staff member's own counter opens a case."""
    if card.kiosk.client_id != staff.counter.client_id:
        _refusal(staff.staff_id, card.kiosk.client_id, "other_counter")
        raise HallRefused("The card was read at another counter.", reason="other_counter")
    case = Case(
        uid=secrets.token_urlsafe(18),
        staff_id=staff.staff_id,
        counter_id=staff.counter.client_id,
        citizen_id=card.citizen_id,
        card_serial=card.card_serial,
        opened_at=int(time.time()),
    )
    _save(case)
    _record(staff.staff_id, staff.counter, case.citizen_id, CARD_READ)
    return case


def get_case(staff: CounterStaff, uid: Any) -> Case:
    """The staff member's live case at this counter; ``HallRefused`` otherwise."""
    data = current_store().get(CASE_KIND, uid) if isinstance(uid, str) and len(uid) <= 64 else None
    case = Case(**data) if data else None
    mine = case is not None and case.staff_id == staff.staff_id
    if case is None or not mine or case.counter_id != staff.counter.client_id:
        raise HallRefused("This case has ended. Read the ID card again.", reason="no_case")
    return case


def close_case(staff: CounterStaff, case: Case) -> bool:
    """The citizen leaves the counter: the case ends, and so does their assisted session
    at this counter (the next citizen must not find it open). True if one ended."""
    store = current_store()
    store.delete(CASE_KIND, case.uid)
    current = store.get(kiosk_sessions.KIND, staff.counter.client_id)
    if not current or current.get("citizen_id") != case.citizen_id:
        return False
    return kiosk_sessions.end_at_kiosk(store, staff.counter.client_id)


def citizen_of(case: Case) -> Citizen:
    citizen = db.session.get(Citizen, case.citizen_id)
    if citizen is None:
        raise HallRefused("This case has ended. Read the ID card again.", reason="no_case")
    return citizen


def confirm_face(staff: CounterStaff, case: Case) -> Case:
    """The staff member confirms in person that the face matches the card (recorded)."""
    confirmed = replace(case, face_confirmed_at=int(time.time()))
    _save(confirmed)
    _record(staff.staff_id, staff.counter, case.citizen_id, FACE_CONFIRMED)
    return confirmed


def _confirmed(case: Case) -> None:
    if case.face_confirmed_at is None:
        raise HallRefused(
            "Confirm first that the person in front of you matches the ID card.",
            reason="face_not_confirmed",
        )


# --- the assisted session --------------------------------------------------------------------


def assisted_result(staff: CounterStaff, case: Case) -> AuthResult:
    """The AuthResult of a confirmed case (module docstring); audited and notified."""
    _confirmed(case)
    citizen = citizen_of(case)
    if citizen.locked_at is not None:
        raise HallRefused("This account is locked.", reason="locked")
    _record(staff.staff_id, staff.counter, case.citizen_id, ASSISTED_SIGN_IN)
    _notify(citizen, ASSISTED_SIGN_IN, staff)
    return AuthResult(
        citizen_id=case.citizen_id,
        methods=METHODS,
        acr=_high(),
        channel=Channel.HALL,
        auth_time=datetime.now(UTC),
        device_id=staff.counter.client_id,
        acting_staff_id=staff.staff_id,
        acting_device_id=staff.counter.client_id,  # RFC 8693 ``act``: staff and counter
        place=staff.place,
        extra={"counter": staff.counter.name, "in_person": "staff"},
    )


def _high() -> Acr:
    # DESIGN.md "Assurance": chip ID card + face match in person at a counter is high.
    return level_for(METHODS, channel=Channel.HALL)


def lifetimes() -> tuple[int, int]:
    """(absolute, idle) lifetime of an assisted session, in seconds."""
    return _cfg("IDP_HALL_SESSION_SECONDS"), _cfg("IDP_HALL_IDLE_SECONDS")


def scope_cap(session: sessions.SsoSession) -> frozenset[str] | None:
    """The scopes a portal may get from ``session``: for a session assisted at a counter,
    the counter's registered scopes (only ``openid`` once the counter is disabled);
    None (no cap) for any other session."""
    if session.channel != Channel.HALL:
        return None
    counter = active_counter(session.device_id)
    client = db.session.get(OAuthClient, counter.client_id) if counter else None
    if client is None:
        return frozenset({"openid"})
    return frozenset((client.scope or "openid").split()) | {"openid"}


# --- proofing actions ------------------------------------------------------------------------


def raise_proofing(staff: CounterStaff, case: Case) -> None:
    """Record the citizen's identity as verified in person (``Proofing.IN_PERSON``)."""
    _confirmed(case)
    citizen = citizen_of(case)
    before = citizen.proofing
    citizen.proofing = str(Proofing.IN_PERSON)
    db.session.commit()
    _record(staff.staff_id, staff.counter, citizen.id, PROOFING_IN_PERSON, before=before)
    _notify(citizen, PROOFING_IN_PERSON, staff)


def send_phone_code(staff: CounterStaff, case: Case, *, phone: str, ip: str) -> Case:
    """Send a code to the phone to bind; the citizen reads it back at the counter.
    Raises ``InvalidInput`` (phone) or ``TooManyAttempts``."""
    _confirmed(case)
    number = normalise_phone(phone=phone)
    sms_codes.issue(
        transaction=f"hall:{case.uid}",
        phone=number,
        subject=case.citizen_id,
        ip=ip,
        compose=lambda code: (
            f"[Government identity] Your code to add this phone at the service counter is "
            f"{code}. Give it only to the staff member in front of you."
        ),
    )
    pending = replace(case, phone_pending=number)
    _save(pending)
    _record(staff.staff_id, staff.counter, case.citizen_id, PHONE_CODE_SENT)
    return pending


def bind_phone(staff: CounterStaff, case: Case, *, code: str) -> Case:
    """Bind the phone the code was sent to, if ``code`` is right (raises ``HallRefused``
    or ``CodeExpired``). The old number, if any, is told too."""
    _confirmed(case)
    if not case.phone_pending:
        raise HallRefused("Send a code to the phone first.", reason="no_phone")
    ok = sms_codes.verify(transaction=f"hall:{case.uid}", phone=case.phone_pending, code=code)
    if not ok:
        raise HallRefused("The code is not right. Ask the citizen to read it again.", reason="code")
    citizen = citizen_of(case)
    old = citizen.phone
    citizen.phone = case.phone_pending  # drops a proof of the old number (the model)
    # The code went to the new number and was read back: it starts verified.
    phone_verification.record(
        citizen,
        phone=case.phone_pending,
        via=phone_verification.Via.COUNTER,
        actor_type=ActorType.STAFF,
        actor_id=staff.staff_id,
        client_id=staff.counter.client_id,
        channel=str(Channel.HALL),
        commit=False,
    )
    db.session.commit()
    done = replace(case, phone_pending=None)
    _save(done)
    _record(staff.staff_id, staff.counter, citizen.id, PHONE_BOUND, replaced=bool(old))
    _notify(citizen, PHONE_BOUND, staff, also_phone=old)
    return done


def reset_password(staff: CounterStaff, case: Case, *, password: str, confirm: str) -> None:
    """Set the password the citizen typed at the counter screen (never one the staff
    member chose or saw): the password policy applies, every session of the citizen
    ends (a forgotten password may be a stolen one). Raises ``InvalidInput``."""
    _confirmed(case)
    from ..errors import InvalidInput

    if password != confirm:
        raise InvalidInput("The two passwords are not the same.", field="confirm")
    citizen = citizen_of(case)
    password_policy.check(password=password, id_number=id_number_of(citizen), phone=citizen.phone)
    row = db.session.get(PasswordCredential, citizen.id)
    if row is None:
        row = PasswordCredential(citizen_id=citizen.id, hash=hash_password(password=password))
        db.session.add(row)
    else:
        row.hash = hash_password(password=password)
        row.updated_at = datetime.now(UTC)
    db.session.commit()
    ended = sessions.end_all(current_store(), citizen.id)
    _record(staff.staff_id, staff.counter, citizen.id, PASSWORD_RESET, sessions_ended=len(ended))
    _notify(citizen, PASSWORD_RESET, staff)


# --- records ---------------------------------------------------------------------------------


def _save(case: Case) -> None:
    current_store().put(CASE_KIND, case.uid, asdict(case), _cfg("IDP_HALL_CASE_SECONDS"))


def _record(
    staff_id: str, counter: KioskDevice, citizen_id: str | None, action: str, **more: Any
) -> None:
    """``staff.action``: who (staff id), where (counter), what, for whom."""
    details: dict[str, Any] = {"action": action, "counter": counter.client_id}
    if counter.window:
        details["window"] = counter.window
    details.update({k: v for k, v in more.items() if v is not None})
    audit.record(
        EventType.STAFF_ACTION,
        actor_type=ActorType.STAFF,
        actor_id=staff_id,
        citizen_id=citizen_id,
        client_id=counter.client_id,
        channel=str(Channel.HALL),
        details=details,
        commit=True,
    )


def _refusal(staff_id: str, counter_id: Any, reason: str, **more: str) -> None:
    counter_text = str(counter_id)[:64] if isinstance(counter_id, str) else "-"
    audit.record(
        EventType.STAFF_ACTION,
        outcome="failure",
        actor_type=ActorType.STAFF,
        actor_id=staff_id,
        channel=str(Channel.HALL),
        details={"action": "refused", "reason": reason, "counter": counter_text, **more},
        commit=True,
    )


def _notify(
    citizen: Citizen, action: str, staff: CounterStaff, *, also_phone: str | None = None
) -> None:
    """An alert on the account page plus a text to the phone on record (and to the
    number replaced, when a phone is bound): the citizen learns of every assisted action."""
    alerts.record(
        citizen_id=citizen.id,
        kind=alerts.ASSISTED,
        detail={"action": action, "place": staff.place},
        extra_phones=[also_phone] if also_phone and also_phone != citizen.phone else [],
    )
