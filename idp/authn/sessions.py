"""SSO sessions, held in the ephemeral store.

The browser holds ``<sid>.<secret>``; the store holds the session under the public ``sid``
(the ID token's ``sid`` claim) with only a hash of the secret, so neither the ``sid`` a
portal sees nor a dump of the store lets anyone ride the session.

A session remembers, per assurance level, when it was last reached, when it was last
relied on and by which methods (``levels``). A level lapses after its own lifetime
(``idp.authn.assurance.LevelPolicy``); the session's effective level is the highest
level that has not lapsed, so ``max_age``, ``prompt=login`` and step-up are judged per
level. A proof that reaches a level also (re)establishes every level below it.

``acr``, ``amr``, ``auth_time`` and ``channel`` describe the most recent proof (what the
account page lists); tokens use ``standing()``, never these.

The session id is renewed at every sign-in and step-up (against fixation); the ids it
had before stay in ``previous_sids`` so that RP-initiated logout with an ID token
issued before a step-up still recognises the session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from dataclasses import field
from dataclasses import fields
from dataclasses import replace
from typing import Any

from ..store.base import EphemeralStore
from . import session_events
from .acting import act_of
from .acting import clean_act
from .assurance import LevelPolicy
from .assurance import amr_claim
from .assurance import merge_methods
from .result import Acr
from .result import Amr
from .result import AuthResult

KIND = "sso"
INDEX = "citizen-sso"
MAX_PREVIOUS_SIDS = 10  # ids before step-ups / re-sign-ins, oldest dropped
MAX_DEVICES = 10  # devices recorded per session, oldest dropped


@dataclass(frozen=True)
class LevelState:
    """One level of a session: reached at ``reached_at`` (the ``auth_time`` of the proof),
    last relied on at ``used_at``, by ``methods`` (the proof's chain)."""

    acr: Acr
    reached_at: int
    used_at: int
    methods: tuple[Amr, ...]
    channel: str = ""  # the channel of that proof (the ID token's ``channel`` claim)
    # RFC 8693 4.1 ``act``: the staff member who assisted that proof (``idp.authn.acting``).
    act: dict[str, str] | None = None

    @property
    def amr(self) -> list[str]:
        return amr_claim(self.methods)


@dataclass(frozen=True)
class SsoSession:
    sid: str
    citizen_id: str
    secret_hash: str
    created_at: int
    last_seen: int
    expires_at: int  # absolute end of the session
    auth_time: int  # most recent proof
    acr: str  # level of the most recent proof
    amr: list[str]
    channel: str
    # acr -> {"at": reached, "used": last relied on, "methods": [...]}
    levels: dict[str, dict[str, Any]] = field(default_factory=dict)
    clients: list[str] = field(default_factory=list)  # portals signed in through it
    device_id: str | None = None
    acting_staff_id: str | None = None
    user_agent: str = ""
    previous_sids: list[str] = field(default_factory=list)
    place: str | None = None  # where the device stands (kiosks)
    # The session's own idle limit, when shorter than the deployment's (kiosk sessions).
    idle: int | None = None
    # Devices this session signed in (a kiosk approved from the phone, RFC 8628):
    # [{"channel", "device_id", "place", "at", "acr"}], newest last.
    devices: list[dict[str, Any]] = field(default_factory=list)
    # The kiosk whose browser holds this session (a kiosk session), whatever the channel
    # of its proof: the card at that kiosk, or the app approving the kiosk's QR code.
    kiosk_id: str | None = None

    def level_states(self, policy: LevelPolicy, now: int) -> list[LevelState]:
        """The levels that have not lapsed, highest first."""
        live = []
        for name, entry in self.levels.items():
            try:
                acr = Acr(name)
            except ValueError:
                continue
            state = LevelState(
                acr=acr,
                reached_at=int(entry["at"]),
                used_at=int(entry.get("used", entry["at"])),
                methods=tuple(Amr(m) for m in entry.get("methods", [])),
                channel=str(entry.get("channel") or self.channel),
                act=clean_act(entry.get("act")),
            )
            if not policy.lifetime(acr).lapsed(
                reached_at=state.reached_at, used_at=state.used_at, now=now
            ):
                live.append(state)
        return sorted(live, key=lambda s: s.acr.rank, reverse=True)

    def standing(
        self,
        policy: LevelPolicy,
        now: int,
        *,
        fresh_after: int = 0,
        at_least: Acr | None = None,
    ) -> LevelState | None:
        """The highest live level reached at or after ``fresh_after`` (and at least
        ``at_least``), or None."""
        for state in self.level_states(policy, now):
            if state.reached_at < fresh_after:
                continue
            if at_least is not None and not state.acr.satisfies(at_least):
                return None
            return state
        return None

    def chain(self, policy: LevelPolicy, now: int, *, fresh_after: int = 0) -> tuple[Amr, ...]:
        """Methods of every live level reached at or after ``fresh_after``: the earlier
        proofs a step-up may build on."""
        states = [s for s in self.level_states(policy, now) if s.reached_at >= fresh_after]
        return merge_methods(*(s.methods for s in reversed(states)))

    def known_as(self, sid: str | None) -> bool:
        """``sid`` is this session's id, now or before a step-up."""
        return bool(sid) and (sid == self.sid or sid in self.previous_sids)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


_FIELDS = tuple(f.name for f in fields(SsoSession))


def _save(
    store: EphemeralStore, session: SsoSession, now: int, idle: int, *, index: bool = False
) -> None:
    """Store the session. ``index``: also (re)enter it in the citizen's index of sessions,
    whose lifetime follows the latest ``expires_at``; only a new session needs that (no
    later save moves ``expires_at``), which saves a round trip on every portal sign-in."""
    ttl = max(1, min(session.expires_at - now, session.idle or idle))
    # A shallow dict: ``dataclasses.asdict`` deep-copies every nested value first, a
    # cost on every authorization request; the JSON written is the same.
    store.put(KIND, session.sid, {name: getattr(session, name) for name in _FIELDS}, ttl)
    if index:
        store.index_add(INDEX, session.citizen_id, session.sid, max(1, session.expires_at - now))


def start(
    store: EphemeralStore,
    *,
    result: AuthResult,
    lifetime: int,
    idle: int,
    previous: SsoSession | None = None,
    user_agent: str = "",
    fixed: bool = False,
) -> tuple[SsoSession, str]:
    """Start a session for ``result`` and return it with the cookie value.

    The session id is always new (renewed at every sign-in against fixation). When the
    same citizen was already signed in, the portals, the levels the new proof does not
    reach and the earlier session ids carry over. ``result.methods`` is the whole chain
    of the proof (``idp.authn.service`` joins a step-up to the earlier proofs first).

    ``fixed`` (kiosk sessions): the session ends ``lifetime`` seconds from now and after
    ``idle`` seconds unused, whatever the earlier session allowed.
    """
    now = int(time.time())
    auth_time = int(result.auth_time.timestamp())
    secret = secrets.token_urlsafe(32)
    levels: dict[str, dict[str, Any]] = {}
    clients: list[str] = []
    previous_sids: list[str] = []
    created = now
    expires = now + lifetime
    if previous is not None and previous.citizen_id == result.citizen_id:
        levels = {k: dict(v) for k, v in previous.levels.items()}
        clients = list(previous.clients)
        previous_sids = [*previous.previous_sids, previous.sid][-MAX_PREVIOUS_SIDS:]
        created = previous.created_at
        expires = now + lifetime if fixed else max(previous.expires_at, now + lifetime)
    if previous is not None:
        # The same citizen keeps their portals under the new id (not a logout); another
        # citizen signing in on this browser ends the previous one's session.
        same = previous.citizen_id == result.citizen_id
        end(store, previous.sid, previous.citizen_id, notify=not same)
    methods = [str(m) for m in merge_methods(result.methods)]
    act = act_of(result)
    for acr in Acr:
        if result.acr.satisfies(acr):
            levels[str(acr)] = {
                "at": auth_time,
                "used": now,
                "methods": methods,
                "channel": str(result.channel),
            }
            if act:
                levels[str(acr)]["act"] = act
    session = SsoSession(
        sid=secrets.token_urlsafe(24),
        citizen_id=result.citizen_id,
        secret_hash=_hash(secret),
        created_at=created,
        last_seen=now,
        expires_at=expires,
        auth_time=auth_time,
        acr=str(result.acr),
        amr=amr_claim(result.methods),
        channel=str(result.channel),
        levels=levels,
        clients=clients,
        device_id=result.device_id,
        acting_staff_id=result.acting_staff_id,
        user_agent=user_agent[:200],
        previous_sids=previous_sids,
        # Where the proof was made: a kiosk's place, or what the channel says
        # (``AuthResult.extra["place"]``: a browser and network, a service hall).
        place=(result.place or str(result.extra.get("place") or ""))[:120] or None,
        idle=idle if fixed else None,
        kiosk_id=result.kiosk_id,
    )
    _save(store, session, now, idle, index=True)
    return session, f"{session.sid}.{secret}"


def peek(store: EphemeralStore, cookie: str | None) -> SsoSession | None:
    """The live session behind a cookie value, or None, leaving its idle timer alone (a
    page's poll is not a page view). A session found expired is ended."""
    if not cookie or "." not in cookie or len(cookie) > 200:
        return None
    sid, secret = cookie.split(".", 1)
    data = store.get(KIND, sid)
    if data is None:
        return None
    session = _from_dict(data)
    if not hmac.compare_digest(session.secret_hash, _hash(secret)):
        return None
    now = int(time.time())
    if now >= session.expires_at or (session.idle and now - session.last_seen > session.idle):
        end(store, session.sid, session.citizen_id)
        return None
    return session


def load(store: EphemeralStore, cookie: str | None, *, idle: int) -> SsoSession | None:
    """The live session behind a cookie value, or None; refreshes its idle timer."""
    session = peek(store, cookie)
    if session is None:
        return None
    now = int(time.time())
    # Avoid a store write on every page view (sooner for a short-idle kiosk session).
    if now - session.last_seen > min(30, (session.idle or 120) // 4):
        session = replace(session, last_seen=now)
        _save(store, session, now, idle)
    return session


def get_by_sid(store: EphemeralStore, sid: str) -> SsoSession | None:
    data = store.get(KIND, sid)
    return _from_dict(data) if data else None


def add_client(store: EphemeralStore, session: SsoSession, client_id: str, *, idle: int) -> None:
    if client_id in session.clients:
        return
    now = int(time.time())
    _save(store, replace(session, clients=[*session.clients, client_id]), now, idle)


def record_use(
    store: EphemeralStore,
    session: SsoSession,
    *,
    client_id: str,
    level: Acr,
    idle: int,
) -> SsoSession:
    """A portal was signed in on the strength of ``level``: that level and those below
    it count as used now (their idle clocks restart), and the portal is remembered
    (logout fan-out). One store write."""
    now = int(time.time())
    levels = {k: dict(v) for k, v in session.levels.items()}
    for name, entry in levels.items():
        try:
            acr = Acr(name)
        except ValueError:
            continue
        if level.satisfies(acr):
            entry["used"] = now
    clients = session.clients if client_id in session.clients else [*session.clients, client_id]
    updated = replace(session, levels=levels, clients=clients, last_seen=now)
    _save(store, updated, now, idle)
    return updated


def record_device(
    store: EphemeralStore,
    session: SsoSession,
    *,
    channel: str,
    device_id: str,
    place: str | None,
    level: Acr,
    idle: int,
) -> SsoSession:
    """Another device joined this sign-in (the citizen approved it from here): the
    session records which, where, when and at what level."""
    now = int(time.time())
    entry = {"channel": channel, "device_id": device_id, "place": place, "at": now}
    entry["acr"] = str(level)
    devices = [*session.devices, entry][-MAX_DEVICES:]
    updated = replace(session, devices=devices, last_seen=now)
    _save(store, updated, now, idle)
    return updated


def end(
    store: EphemeralStore, sid: str, citizen_id: str | None = None, *, notify: bool = True
) -> None:
    """End a session; the ``session_events`` listeners are told (logout fan-out)
    unless ``notify`` is False (a renewal of the id, not a logout)."""
    ended = get_by_sid(store, sid) if notify and session_events.listening() else None
    store.delete(KIND, sid)
    if citizen_id:
        store.index_remove(INDEX, citizen_id, sid)
    if ended is not None:
        session_events.ended(ended)


def list_for(store: EphemeralStore, citizen_id: str) -> list[SsoSession]:
    sessions = []
    for sid in store.index_members(INDEX, citizen_id):
        session = get_by_sid(store, sid)
        if session is None:
            store.index_remove(INDEX, citizen_id, sid)
        else:
            sessions.append(session)
    return sorted(sessions, key=lambda s: s.last_seen, reverse=True)


def end_all(store: EphemeralStore, citizen_id: str) -> list[SsoSession]:
    """Log out everywhere: returns the sessions ended (for logout fan-out)."""
    ended = list_for(store, citizen_id)
    for session in ended:
        end(store, session.sid, citizen_id)
    return ended


def _from_dict(data: dict[str, Any]) -> SsoSession:
    values = dict(data)
    levels = values.get("levels") or {}
    # Sessions written before per-level records held only ``acr -> reached``; their
    # ``amr`` claim's ``mfa`` is not the user-verification marker, so it is dropped.
    old_methods = [m for m in values.get("amr") or [] if m != Amr.MFA]
    values["levels"] = {
        k: (v if isinstance(v, dict) else {"at": v, "used": v, "methods": old_methods})
        for k, v in levels.items()
    }
    values["amr"] = list(values.get("amr") or [])
    return SsoSession(**values)
