"""SSO sessions, held in the ephemeral store.

The browser holds ``<sid>.<secret>``; the store holds the session under the public ``sid``
(the ID token's ``sid`` claim) with only a hash of the secret, so neither the ``sid`` a
portal sees nor a dump of the store lets anyone ride the session.

A session remembers when each assurance level was last reached (``levels``), so
``max_age`` and step-up can be judged per level.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from typing import Any

from ..store.base import EphemeralStore
from .assurance import amr_claim
from .result import Acr
from .result import AuthResult

KIND = "sso"
INDEX = "citizen-sso"


@dataclass(frozen=True)
class SsoSession:
    sid: str
    citizen_id: str
    secret_hash: str
    created_at: int
    last_seen: int
    expires_at: int  # absolute end of the session
    auth_time: int  # most recent authentication
    acr: str
    amr: list[str]
    channel: str
    levels: dict[str, int] = field(default_factory=dict)  # acr -> when last reached
    clients: list[str] = field(default_factory=list)  # portals signed in through it
    device_id: str | None = None
    acting_staff_id: str | None = None
    user_agent: str = ""

    def level_time(self, acr: Acr) -> int | None:
        """When a level at least as strong as ``acr`` was last reached."""
        times = [t for level, t in self.levels.items() if Acr(level).satisfies(acr)]
        return max(times) if times else None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _save(store: EphemeralStore, session: SsoSession, now: int, idle: int) -> None:
    ttl = max(1, min(session.expires_at - now, idle))
    store.put(KIND, session.sid, asdict(session), ttl)
    store.index_add(INDEX, session.citizen_id, session.sid, max(1, session.expires_at - now))


def start(
    store: EphemeralStore,
    *,
    result: AuthResult,
    lifetime: int,
    idle: int,
    previous: SsoSession | None = None,
    user_agent: str = "",
) -> tuple[SsoSession, str]:
    """Start a session for ``result`` and return it with the cookie value.

    The session id is always new (renewed at every sign-in against fixation). When the
    same citizen was already signed in, the portals and earlier levels carry over.
    """
    now = int(time.time())
    auth_time = int(result.auth_time.timestamp())
    secret = secrets.token_urlsafe(32)
    levels: dict[str, int] = {}
    clients: list[str] = []
    created = now
    expires = now + lifetime
    if previous is not None and previous.citizen_id == result.citizen_id:
        levels = dict(previous.levels)
        clients = list(previous.clients)
        created = previous.created_at
        expires = max(previous.expires_at, now + lifetime)
    if previous is not None:
        end(store, previous.sid, previous.citizen_id)
    levels[str(result.acr)] = auth_time
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
    )
    _save(store, session, now, idle)
    return session, f"{session.sid}.{secret}"


def load(store: EphemeralStore, cookie: str | None, *, idle: int) -> SsoSession | None:
    """The live session behind a cookie value, or None; refreshes its idle timer."""
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
    if now >= session.expires_at:
        end(store, session.sid, session.citizen_id)
        return None
    if now - session.last_seen > 30:  # avoid a store write on every page view
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


def end(store: EphemeralStore, sid: str, citizen_id: str | None = None) -> None:
    store.delete(KIND, sid)
    if citizen_id:
        store.index_remove(INDEX, citizen_id, sid)


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
    return SsoSession(**data)
