"""Authenticators disabled after too many consecutive failures (durable).

NIST SP 800-63B section 5.2.2 ("Rate Limiting (Throttling)"): "the verifier SHALL limit
consecutive failed authentication attempts on a single account to no more than 100".
The running count lives in the ephemeral store (``idp.authn.authenticator_limits``);
reaching the cap writes a row here, which survives restarts and store flushes until an
operator re-enables the authenticator.

``authenticator`` is a kind and an id, never a secret or an ID number:
``password:<citizen id>``, ``totp:<citizen id>``, ``sms:<citizen id>``,
``webauthn:<credential id>`` ...
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ..extensions import db
from ._types import UTCDateTime
from ._types import utcnow


class AuthenticatorLockout(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "authenticator_lockout"

    authenticator: Mapped[str] = mapped_column(String(255), primary_key=True)
    disabled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Consecutive failures counted when it was disabled.
    failures: Mapped[int] = mapped_column(Integer, default=0)
