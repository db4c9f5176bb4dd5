"""Self-service kiosks: registered devices, each an OAuth client with its own key.

A kiosk is an ``OAuthClient`` (``private_key_jwt``, its public JWKS on the client row)
plus this row, which marks the client as a kiosk and records where it stands. The same
key signs the kiosk's client assertions (RFC 7523) and its card + face assertions
(``idp.authn.methods.terminal``). A kiosk is active while neither this row nor its client
is disabled.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ..extensions import db
from ._types import UTCDateTime
from ._types import utcnow


class Kiosk(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "kiosk"

    client_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("oauth_client.client_id", ondelete="CASCADE"), primary_key=True
    )
    # Where it stands ("Futian service hall, ground floor"): recorded in every session
    # started there and shown to the citizen approving a sign-in from it.
    place: Mapped[str] = mapped_column(String(200))
    # "kiosk" (self-service) or "counter" (a service-hall counter terminal, adapters/hall):
    # a device's assertions are accepted only on its own kind's endpoints.
    kind: Mapped[str] = mapped_column(String(16), default="kiosk", server_default="kiosk")
    # The counter window a counter terminal serves ("Window 3"); None for kiosks.
    window: Mapped[str | None] = mapped_column(String(64))
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
