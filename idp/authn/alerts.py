"""Alerts for the citizen: durable records the account page lists, plus a text message.

Today one kind: ``not_me``, a push approval the citizen refused as not theirs
(``idp.authn.approvals``). The record holds what the request said (portal, channel,
place), never an ID number or a secret. The text goes through the SMS gateway
(``idp.authn.sms.gateway``) to the phone on record; a delivery failure is logged,
never raised: the alert on the account page stands either way.
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
SHOWN = 10  # most recent alerts on the account page
NOT_ME_TEXT = (
    "[Government identity] You refused a sign-in request as not yours. Requests to your "
    "app are paused. If someone knows your password, change it now."
)


@dataclass(frozen=True)
class Alert:
    id: str
    kind: str
    detail: dict[str, Any]
    created_at: datetime


def record(*, citizen_id: str, kind: str, detail: dict[str, Any]) -> Alert:
    row = AccountAlert(citizen_id=citizen_id, kind=kind, detail=detail)
    db.session.add(row)
    db.session.commit()
    citizen = db.session.get(Citizen, citizen_id)
    if citizen is not None and citizen.phone and kind == NOT_ME:
        try:
            current_gateway().send(phone=citizen.phone, text=NOT_ME_TEXT)
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
