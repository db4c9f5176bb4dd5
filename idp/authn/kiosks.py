"""Registered kiosks as the authentication core sees them (read only).

A kiosk is an OAuth client marked by a ``Kiosk`` row (``idp.models.kiosk``); its public
keys are the client's JWKS. Registration lives in ``idp.oauth.kiosks``; this module only
answers "is this an active kiosk, and what are its keys and place".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..extensions import db
from ..models import Kiosk
from ..models import OAuthClient

MAX_CLIENT_ID = 64


@dataclass(frozen=True)
class KioskDevice:
    client_id: str
    name: str
    place: str
    jwks: dict[str, Any]
    kind: str = "kiosk"  # or "counter" (a service-hall counter terminal)
    window: str | None = None


def find_kiosk(client_id: Any) -> Kiosk | None:
    """The kiosk row for ``client_id``, active or not; None for anything else."""
    if not isinstance(client_id, str) or not client_id or len(client_id) > MAX_CLIENT_ID:
        return None
    if not client_id.isascii() or not client_id.replace("-", "").replace("_", "").isalnum():
        return None
    return db.session.get(Kiosk, client_id)


def active_kiosk(client_id: Any, *, kind: str = "kiosk") -> KioskDevice | None:
    """The device, if it is registered as ``kind`` and neither it nor its client is
    disabled (a counter terminal is no kiosk, and the other way round)."""
    kiosk = find_kiosk(client_id)
    if kiosk is None or kiosk.disabled_at is not None or (kiosk.kind or "kiosk") != kind:
        return None
    client = db.session.get(OAuthClient, kiosk.client_id)
    if client is None or client.disabled_at is not None or not client.jwks:
        return None
    return KioskDevice(
        client_id=client.client_id,
        name=client.name,
        place=kiosk.place,
        jwks=dict(client.jwks),
        kind=kiosk.kind or "kiosk",
        window=kiosk.window,
    )
