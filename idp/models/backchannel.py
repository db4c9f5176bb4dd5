"""The back-channel outbox: logout notices (OpenID Connect Back-Channel Logout 1.0
section 2.5) and CIBA pings (CIBA Core 1.0 section 10.2), one table, one delivery."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ..extensions import db
from ._types import UTCDateTime
from ._types import new_id
from ._types import utcnow


class BackchannelDelivery(db.Model):  # type: ignore[name-defined,misc]
    """One notice owed to one client, of a ``kind``:

    - ``logout``: who (``subject``, the portal's pairwise ``sub``, and/or ``sid``) and
      why. The logout token itself is signed at each attempt (fresh ``iat``/``exp``/
      ``jti``), so a retry never sends an expired token.
    - ``ciba_ping``: the ping owed for one ping-mode ``auth_req_id``; ``secret_enc``
      holds the ``auth_req_id`` and the client's notification token, sealed
      (``idp.ids.protect.seal``, bound to the row id) and dropped once the ping is
      delivered or abandoned. ``reason`` ``expiry`` (due when the request expires) or
      ``decision`` (the citizen decided: due at once).

    Pending: ``delivered_at`` and ``abandoned_at`` both NULL; due when ``next_attempt_at``
    has passed. A worker claims a row by moving ``next_attempt_at`` past the attempt's
    timeout (a lease) in the same transaction that selects it. Delivered and abandoned
    rows stay until ``idp backchannel purge`` deletes them after the retention.
    """

    __tablename__ = "backchannel_delivery"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    client_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("oauth_client.client_id", ondelete="CASCADE"), index=True
    )
    subject: Mapped[str | None] = mapped_column(String(128))
    sid: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), default="logout", server_default="logout")
    # logout | consent_revoked (kind logout); expiry | decision (kind ciba_ping)
    reason: Mapped[str] = mapped_column(String(32))
    secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_error: Mapped[str | None] = mapped_column(String(200))
    # Indexed for ``idp backchannel purge`` (finished notices past the retention).
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    abandoned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
