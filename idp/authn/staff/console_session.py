"""The console session of a staff member, held in the ephemeral store.

Separate from citizens' SSO sessions in every way: its own store kind, its own cookie
(``IDP_ADMIN_COOKIE``, path ``/admin``, set by the web layer), a short idle timeout
(``IDP_ADMIN_SESSION_IDLE``) and an absolute one (``IDP_ADMIN_SESSION_MAX``). The browser
holds ``<sid>.<secret>``; the store keeps only a hash of the secret.

``verified_at`` is when the member last proved presence with WebAuthn (sign-in or a
re-verification): dangerous actions need it within ``IDP_ADMIN_FRESH_VERIFICATION``.
Roles are not copied in: every request reads the account, so a role change or a
disabled account takes effect on the next request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import replace
from typing import Any

from ...store.base import EphemeralStore

KIND = "admin-session"
INDEX = "staff-admin-sessions"


@dataclass(frozen=True)
class ConsoleSession:
    sid: str
    staff_id: str
    secret_hash: str
    created_at: int
    last_seen: int
    expires_at: int
    verified_at: int

    def fresh(self, *, within: int, now: int | None = None) -> bool:
        return (now or int(time.time())) - self.verified_at <= within


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _save(store: EphemeralStore, session: ConsoleSession, *, idle: int, now: int) -> None:
    ttl = max(1, min(idle, session.expires_at - now))
    store.put(KIND, session.sid, asdict(session), ttl)
    store.index_add(INDEX, session.staff_id, session.sid, max(1, session.expires_at - now))


def start(
    store: EphemeralStore, *, staff_id: str, idle: int, lifetime: int
) -> tuple[ConsoleSession, str]:
    """A new session after a WebAuthn sign-in; returns it and the cookie value."""
    now = int(time.time())
    secret = secrets.token_urlsafe(32)
    session = ConsoleSession(
        sid=secrets.token_urlsafe(24),
        staff_id=staff_id,
        secret_hash=_hash(secret),
        created_at=now,
        last_seen=now,
        expires_at=now + lifetime,
        verified_at=now,
    )
    _save(store, session, idle=idle, now=now)
    return session, f"{session.sid}.{secret}"


def load(store: EphemeralStore, cookie: str | None, *, idle: int) -> ConsoleSession | None:
    """The live session behind the cookie, its idle timer restarted; None if the cookie
    is unknown, forged, idle for longer than ``idle`` or past its absolute end."""
    if not cookie or "." not in cookie or len(cookie) > 200:
        return None
    sid, secret = cookie.split(".", 1)
    data: dict[str, Any] | None = store.get(KIND, sid)
    if data is None:
        return None
    try:
        session = ConsoleSession(**data)
    except TypeError:
        return None
    if not hmac.compare_digest(session.secret_hash, _hash(secret)):
        return None
    now = int(time.time())
    if now >= session.expires_at or now - session.last_seen > idle:
        end(store, session)
        return None
    session = replace(session, last_seen=now)
    _save(store, session, idle=idle, now=now)
    return session


def mark_verified(store: EphemeralStore, session: ConsoleSession, *, idle: int) -> ConsoleSession:
    now = int(time.time())
    updated = replace(session, verified_at=now, last_seen=now)
    _save(store, updated, idle=idle, now=now)
    return updated


def end(store: EphemeralStore, session: ConsoleSession) -> None:
    store.delete(KIND, session.sid)
    store.index_remove(INDEX, session.staff_id, session.sid)


def end_all(store: EphemeralStore, staff_id: str) -> int:
    """End every console session of a staff member (disabled account)."""
    sids = store.index_members(INDEX, staff_id)
    for sid in sids:
        store.delete(KIND, sid)
        store.index_remove(INDEX, staff_id, sid)
    return len(sids)
