"""``search``: the auditors' query over the trail (the console and `idp audit search`).

Filters combine with AND; results come newest first, ``limit`` at a time, and the next
page starts below the last ``seq`` seen (``before_seq``), which stays stable while new
records are appended. A citizen is found by internal id or by ID number, through the
blind index (the number itself is never stored or compared in clear). It seals first
(idp.audit.sealer, committing the session), so the newest committed records are found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import or_
from sqlalchemy import select

from ..extensions import db
from ..ids import parse_id_number
from ..ids.protect import blind_index
from ..models import AuditEvent
from ..models import Citizen

MAX_LIMIT = 1000


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    at: datetime
    event: str
    outcome: str
    actor_type: str
    actor_id: str | None
    citizen_id: str | None
    client_id: str | None
    ip: str | None
    channel: str | None
    details: dict[str, Any]
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "at": self.at.isoformat()}


class UnknownCitizen(LookupError):
    """No citizen holds the ID number searched for (the message never repeats it)."""


def search(
    *,
    citizen_id: str | None = None,
    id_number: str | None = None,
    client_id: str | None = None,
    actor_id: str | None = None,
    actor_type: str | None = None,
    events: list[str] | tuple[str, ...] | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_seq: int | None = None,
    limit: int = 100,
) -> list[AuditRecord]:
    """Records matching every given filter. ``events`` holds exact types or prefixes
    ending in ``.`` ("login." for every sign-in event). ``id_number`` raises
    ``idp.ids.InvalidIdNumber`` when malformed and ``UnknownCitizen`` when nobody
    holds it."""
    from .sealer import seal

    seal()
    query = select(AuditEvent)
    if id_number is not None:
        number = parse_id_number(number=id_number)
        index = blind_index(current_app.extensions["idp.keyring"], number.normalised)
        found = db.session.scalar(select(Citizen.id).where(Citizen.id_number_index == index))
        if found is None:
            raise UnknownCitizen("no citizen holds this ID number")
        if citizen_id is not None and citizen_id != found:
            return []
        citizen_id = found
    if citizen_id is not None:
        query = query.where(AuditEvent.citizen_id == citizen_id)
    if client_id is not None:
        query = query.where(AuditEvent.client_id == client_id)
    if actor_id is not None:
        query = query.where(AuditEvent.actor_id == actor_id)
    if actor_type is not None:
        query = query.where(AuditEvent.actor_type == actor_type)
    if events:
        exact = [e for e in events if not e.endswith(".")]
        prefixes = [e for e in events if e.endswith(".")]
        clauses = [AuditEvent.event.in_(exact)] if exact else []
        clauses += [AuditEvent.event.startswith(p, autoescape=True) for p in prefixes]
        query = query.where(or_(*clauses))
    if outcome is not None:
        query = query.where(AuditEvent.outcome == outcome)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if until is not None:
        query = query.where(AuditEvent.at < until)
    if before_seq is not None:
        query = query.where(AuditEvent.seq < before_seq)
    limit = max(1, min(int(limit), MAX_LIMIT))
    rows = db.session.scalars(query.order_by(AuditEvent.seq.desc()).limit(limit)).all()
    return [
        AuditRecord(
            seq=r.seq,
            at=r.at,
            event=r.event,
            outcome=r.outcome,
            actor_type=r.actor_type,
            actor_id=r.actor_id,
            citizen_id=r.citizen_id,
            client_id=r.client_id,
            ip=r.ip,
            channel=r.channel,
            details=dict(r.details or {}),
            hash=r.hash,
        )
        for r in rows
    ]
