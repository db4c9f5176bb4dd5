"""Kiosk sessions: short, one per kiosk, ended by the citizen or by the card leaving.

A kiosk is shared: the next person in the queue uses the same browser. So a session
started in a kiosk's browser (``AuthResult.kiosk_id``: the card at the kiosk, or the app
approving the QR code the kiosk shows; not a hand-off from the kiosk to the phone)

- ends ``IDP_KIOSK_SESSION_SECONDS`` after the sign-in and after
  ``IDP_KIOSK_IDLE_SECONDS`` without a page view (``sessions.start(fixed=True)``),
  whatever an earlier session in that browser allowed;
- is the only session at its kiosk: a new card sign-in there ends the previous one;
- ends when the citizen presses "end" or when the kiosk reports (signed) that the card
  was removed: ``end_at_kiosk``; and when the citizen continues on the phone
  (``idp.authn.handoff.claim``): the kiosk is left signed out for the next person.

The kiosk -> session mapping is ephemeral (``kiosk-session:<client_id>``) and lives as
long as the session can.
"""

from __future__ import annotations

from flask import current_app

from ..store import current_store
from ..store.base import EphemeralStore
from . import sessions

KIND = "kiosk-session"


def lifetimes() -> tuple[int, int]:
    """(absolute, idle) lifetime of a kiosk session, in seconds."""
    cfg = current_app.config
    return int(cfg["IDP_KIOSK_SESSION_SECONDS"]), int(cfg["IDP_KIOSK_IDLE_SECONDS"])


def attach(store: EphemeralStore, *, kiosk_id: str, session: sessions.SsoSession) -> None:
    """``session`` is now the one at ``kiosk_id``; any earlier one there ends."""
    earlier = store.get(KIND, kiosk_id)
    if earlier and earlier.get("sid") != session.sid:
        sessions.end(store, str(earlier["sid"]), str(earlier.get("citizen_id") or "") or None)
    ttl = max(1, session.expires_at - session.last_seen)
    store.put(KIND, kiosk_id, {"sid": session.sid, "citizen_id": session.citizen_id}, ttl)


def end_at_kiosk(store: EphemeralStore, kiosk_id: str) -> bool:
    """End the session at ``kiosk_id`` (card removed); True if there was one."""
    current = store.consume(KIND, kiosk_id)
    if not current:
        return False
    live = sessions.get_by_sid(store, str(current["sid"]))
    sessions.end(store, str(current["sid"]), str(current.get("citizen_id") or "") or None)
    return live is not None


def end_session(store: EphemeralStore, session: sessions.SsoSession) -> None:
    """End a kiosk session the citizen closed ("end"), and forget its kiosk mapping."""
    sessions.end(store, session.sid, session.citizen_id)
    kiosk_id = session.kiosk_id or session.device_id
    if kiosk_id:
        current = store.get(KIND, kiosk_id)
        if current and current.get("sid") == session.sid:
            store.delete(KIND, kiosk_id)


def end_for_kiosk(kiosk_id: str) -> bool:
    """``end_at_kiosk`` on the application's store (for the kiosk adapter)."""
    return end_at_kiosk(current_store(), kiosk_id)


def end_current(session: sessions.SsoSession) -> None:
    """``end_session`` on the application's store (the citizen pressed "end")."""
    end_session(current_store(), session)
