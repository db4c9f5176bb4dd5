"""Decoupled, staff-assisted sign-in: a channel system names a citizen, the citizen proves
it on their own device, and the core records the sign-in (the hotline's CIBA requests,
``idp.oauth.ciba``; OpenID Connect CIBA Core 1.0).

DESIGN.md: "Knowing it (with a name and a birth date) authenticates nobody, on any
channel." So the ID number the agent types (``named_by_number``), or the ID token the
hotline was issued for the caller before (``named_by_id``), only chooses whom to ask;
the proof is:

- **an approval in the citizen's bound app** (``idp.authn.approvals``, a push request
  showing the hotline, the agent and the binding message), signed by the device key:
  biometric => high, passcode => substantial (``devices.approval_proof``); or
- **an SMS code** sent to the phone on record (``idp.authn.sms.signin``) that the citizen
  reads back to the agent, who submits it: low assurance (``amr`` ``sms``). Only for a
  citizen without a bound app, and only when ``IDP_HOTLINE_SMS_FALLBACK`` is on.

Nobody learns who has an account: an unknown number, a locked citizen, a citizen with
an app and one without all start the same way (the caller gets the same answer); the
unknown ones simply never complete (the SMS code is a decoy, sent to nobody).

Quotas (``ratelimit.cap``, counted per request, success or not, per hour): per agent
``IDP_HOTLINE_PER_AGENT_HOUR``, per channel client ``IDP_HOTLINE_PER_CLIENT_HOUR``, per
citizen (the blind index of the number, so unknown numbers count alike, and a citizen
named by ID token counts on the same key as by number)
``IDP_HOTLINE_PER_CITIZEN_HOUR``; the app push has its own caps too.

The agent is a staff account (``idp.models.staff``) with the ``hotline_agent`` or
``counter_staff`` role, not disabled. The channel adapter (``adapters.hotline``)
registers a builder turning a ``Proof`` into its ``AuthResult``; ``complete`` records
the sign-in as a session (no browser holds it: the tokens at /token name its ``sid``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime

from flask import Flask
from flask import current_app
from sqlalchemy import select

from .. import audit
from ..audit import ActorType
from ..audit import EventType
from ..audit import Outcome
from ..errors import CitizenLocked
from ..errors import IdpError
from ..extensions import db
from ..ids import IdNumber
from ..ids.protect import blind_index
from ..models import Citizen
from ..models import Staff
from ..store import current_store
from . import approvals
from . import ratelimit
from . import sessions
from .citizens import keyring
from .devices import list_devices
from .result import Acr
from .result import Amr
from .result import AuthResult
from .result import Channel
from .sms import signin as sms_signin
from .staff.roles import Role

log = logging.getLogger(__name__)

BUILDERS = "idp.decoupled.builders"
AGENT_ROLES = frozenset({Role.HOTLINE_AGENT, Role.COUNTER_STAFF})
HOUR = 3600


@dataclass(frozen=True)
class Agent:
    id: str
    display_name: str


@dataclass(frozen=True)
class Proof:
    """What the citizen did, for the channel adapter to turn into an ``AuthResult``."""

    citizen_id: str
    methods: tuple[Amr, ...]
    acr: Acr
    decided_at: float
    agent_id: str
    client_id: str
    device_id: str | None = None  # the citizen's app that approved (None: SMS)


Builder = Callable[[Proof], AuthResult]


@dataclass(frozen=True)
class Named:
    """Whom a channel system named. ``key`` is what the per-citizen quota and the SMS
    throttle count under: the blind index of the ID number (whichever way the citizen was
    named). ``holder`` is the citizen named, locked or not; None: nobody."""

    key: str
    holder: Citizen | None


def named_by_number(number: IdNumber) -> Named:
    """The citizen holding ``number``, if any (an unknown number is counted alike)."""
    key = blind_index(keyring(), number.normalised)
    holder = db.session.scalar(select(Citizen).where(Citizen.id_number_index == key))
    return Named(key=key, holder=holder)


def named_by_id(citizen_id: str | None, *, unknown_key: str) -> Named:
    """The citizen with internal id ``citizen_id`` (found from an ID token hint); when it
    names nobody any more (the account was closed), ``unknown_key`` is counted instead."""
    holder = db.session.get(Citizen, citizen_id) if citizen_id else None
    return Named(key=holder.id_number_index if holder else unknown_key, holder=holder)


@dataclass(frozen=True)
class Started:
    """How the citizen was asked. Never shown to the caller (it would tell who has an
    account); kept with the request to follow it."""

    approval: str | None = None  # the push request's "<id>.<secret>" (approvals.claim)
    sms: bool = False  # an SMS code (maybe a decoy) was sent for the transaction
    citizen_id: str | None = None


def register(app: Flask, channel: Channel, builder: Builder) -> None:
    app.extensions.setdefault(BUILDERS, {})[str(channel)] = builder


def find_agent(agent_id: str | None) -> Agent | None:
    """The active staff member with an agent role named ``agent_id`` (a staff id)."""
    from .staff.accounts import is_row_id

    if not isinstance(agent_id, str) or not is_row_id(agent_id):
        return None
    staff = db.session.get(Staff, agent_id)
    if staff is None or staff.disabled_at is not None:
        return None
    if not AGENT_ROLES & {str(r) for r in staff.roles or []}:
        return None
    return Agent(id=staff.id, display_name=staff.display_name)


def _cfg(name: str) -> int:
    return int(current_app.config[name])


def start(
    *,
    named: Named,
    agent: Agent,
    client_id: str,
    client_name: str,
    binding_message: str | None,
    required_acr: str | None,
    transaction: str,
    ip: str,
    compose_sms: sms_signin.Compose,
    sms_allowed: bool = True,
) -> Started:
    """Ask the citizen ``named`` (if any, and not locked) to approve. Raises
    ``TooManyAttempts`` (the agent's, the client's or the citizen's quota); otherwise the
    same for everyone.
    ``sms_allowed`` False (the caller needs more than low): no SMS fallback."""
    store = current_store()
    ratelimit.cap(
        store,
        scope="hotline-agent",
        key=agent.id,
        limit=_cfg("IDP_HOTLINE_PER_AGENT_HOUR"),
        window=HOUR,
    )
    ratelimit.cap(
        store,
        scope="hotline-client",
        key=client_id,
        limit=_cfg("IDP_HOTLINE_PER_CLIENT_HOUR"),
        window=HOUR,
    )
    ratelimit.cap(
        store,
        scope="hotline-citizen",
        key=named.key,
        limit=_cfg("IDP_HOTLINE_PER_CITIZEN_HOUR"),
        window=HOUR,
    )
    citizen = named.holder
    if citizen is not None and citizen.locked_at is not None:
        citizen = None
    started = Started()
    how = "none"
    if citizen is not None and list_devices(citizen_id=citizen.id):
        try:
            push = approvals.start_push(
                citizen_id=citizen.id,
                channel=str(Channel.HOTLINE),
                place=client_name,
                client_name=client_name,
                required_acr=required_acr,
                purpose="sign_in",
                binding_message=binding_message,
                agent=agent.display_name,
            )
            started = Started(approval=approvals.cookie_value(push), citizen_id=citizen.id)
            how = "app"
        except IdpError as exc:  # paused after "not me", or the push caps: never completes
            log.info("hotline approval not pushed: %s", type(exc).__name__)
            how = "app_refused"
    elif sms_allowed and current_app.config["IDP_HOTLINE_SMS_FALLBACK"]:
        try:
            sms_signin.send_code_to(
                citizen=named.holder,
                subject=named.key,
                transaction=transaction,
                ip=ip,
                compose=compose_sms,
            )
            started = Started(sms=True, citizen_id=citizen.id if citizen else None)
            how = "sms"
        except IdpError as exc:  # SMS quotas: the request never completes
            log.info("hotline SMS code not sent: %s", type(exc).__name__)
            how = "sms_refused"
    audit.record(
        EventType.STAFF_ACTION,
        actor_type=ActorType.STAFF,
        actor_id=agent.id,
        citizen_id=started.citizen_id,
        client_id=client_id,
        channel=str(Channel.HOTLINE),
        details={"action": "hotline.sign_in_requested", "asked_by": how},
        commit=True,
    )
    return started


def check_read_back(*, transaction: str, code: str, ip: str) -> str:
    """The citizen id, if ``code`` is the SMS code sent for ``transaction``. Raises
    ``sms.signin.CodeRejected``, ``CodeExpired``, ``TooManyAttempts`` or
    ``AuthenticatorDisabled`` (all ``IdpError``)."""
    return sms_signin.check_code(transaction=transaction, code=code, ip=ip)


def complete(channel: Channel, proof: Proof) -> sessions.SsoSession:
    """Record the sign-in through the channel's adapter: a new session (the citizen's
    sessions list shows it, with channel, device and level) and a ``login.success``
    record naming the agent. Raises ``CitizenLocked``."""
    citizen = db.session.get(Citizen, proof.citizen_id)
    if citizen is None or citizen.locked_at is not None:
        raise CitizenLocked(detail="decoupled sign-in for a locked or missing citizen")
    builder: Builder = current_app.extensions[BUILDERS][str(channel)]
    result = builder(proof)
    store = current_store()
    idle = _cfg("IDP_TTL_SSO_IDLE")
    session, _cookie = sessions.start(
        store, result=result, lifetime=_cfg("IDP_TTL_SSO_SESSION"), idle=idle
    )
    # The channel client is signed in through it (logout fan-out reaches it too).
    session = sessions.record_use(
        store, session, client_id=proof.client_id, level=result.acr, idle=idle
    )
    details: dict[str, object] = {
        "acr": str(result.acr),
        "amr": [str(m) for m in result.methods],
        "sid": session.sid[:12],
        "for_client": proof.client_id,
    }
    if result.device_id:
        details["device"] = result.device_id
    audit.record(
        EventType.LOGIN_SUCCESS,
        outcome=Outcome.SUCCESS,
        actor_type=ActorType.STAFF,
        actor_id=proof.agent_id,
        citizen_id=proof.citizen_id,
        client_id=proof.client_id,
        channel=str(result.channel),
        details=details,
        commit=True,
    )
    return session


def decided_at(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)
