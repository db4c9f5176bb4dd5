"""Alerts for the citizen: durable records the account page lists, plus a text message.

Kinds: ``not_me``, a push approval the citizen refused as not theirs
(``idp.authn.approvals``); ``assisted``, an action a staff member took for the citizen
at a service-hall counter (``idp.authn.hall``: detail ``action`` and ``place``). The
record holds what happened (portal, channel, place), never an ID number or a secret.
The text goes through the SMS gateway (``idp.authn.sms.gateway``) to the phone on
record; a delivery failure is logged, never raised: the alert on the account page
stands either way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..models import AccountAlert
from ..models import Citizen
from .sms.gateway import SmsDeliveryFailed
from .sms.gateway import current_gateway

log = logging.getLogger(__name__)

NOT_ME = "not_me"
ASSISTED = "assisted"
SHOWN = 10  # most recent alerts on the account page
NOT_ME_TEXT = (
    "[Government identity] You refused a sign-in request as not yours. Requests to your "
    "app are paused. If someone knows your password, change it now."
)

# The text for each assisted action (idp.authn.hall): no code, no number, no name.
ASSISTED_TEXTS = {
    "assisted_sign_in": "a staff member signed you in at {place}.",
    "proofing_in_person": "a staff member verified your identity in person at {place}.",
    "phone_bound": "a staff member changed the phone number of your account at {place}.",
    "password_reset": "your password was reset at {place}; your sign-ins were ended.",
    "passkey_enrolled": "a passkey was added to your account with a code from {place}.",
}
ASSISTED_TEXT = (
    "[Government identity] At the service counter, {what} If this was not you, call the "
    "hotline now."
)


def _text(kind: str, detail: dict[str, Any]) -> str | None:
    if kind == NOT_ME:
        return NOT_ME_TEXT
    if kind == ASSISTED and (what := ASSISTED_TEXTS.get(str(detail.get("action")))):
        return ASSISTED_TEXT.format(what=what.format(place=str(detail.get("place") or "-")))
    return None


@dataclass(frozen=True)
class Alert:
    id: str
    kind: str
    detail: dict[str, Any]
    created_at: datetime


def record(
    *, citizen_id: str, kind: str, detail: dict[str, Any], extra_phones: list[str] | None = None
) -> Alert:
    """Store the alert and text the phone on record (and ``extra_phones``: a number
    just replaced hears of it too)."""
    row = AccountAlert(citizen_id=citizen_id, kind=kind, detail=detail)
    db.session.add(row)
    db.session.commit()
    citizen = db.session.get(Citizen, citizen_id)
    text = _text(kind, detail)
    phones = [citizen.phone] if citizen is not None and citizen.phone else []
    phones += [p for p in extra_phones or [] if p and p not in phones]
    for phone in phones if text else []:
        try:
            current_gateway().send(phone=phone, text=text or "")
        except SmsDeliveryFailed as exc:
            log.warning("alert text not sent: %s", exc.detail or type(exc).__name__)
    return Alert(id=row.id, kind=row.kind, detail=dict(row.detail), created_at=row.created_at)


def active(*, citizen_id: str) -> list[Alert]:
    rows = db.session.scalars(
        select(AccountAlert)
        .where(AccountAlert.citizen_id == citizen_id, AccountAlert.dismissed_at.is_(None))
        .order_by(AccountAlert.created_at.desc())
        .limit(SHOWN)
    )
    return [
        Alert(id=r.id, kind=r.kind, detail=dict(r.detail), created_at=r.created_at) for r in rows
    ]


def dismiss(*, citizen_id: str, alert_id: str) -> bool:
    row = db.session.get(AccountAlert, alert_id) if 0 < len(alert_id) <= 36 else None
    if row is None or row.citizen_id != citizen_id or row.dismissed_at is not None:
        return False
    row.dismissed_at = datetime.now(UTC)
    db.session.commit()
    return True
