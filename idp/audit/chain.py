"""``record``: append one event to the hash chain, in the caller's transaction.

Transaction: the record is written in the caller's database transaction (``db.session``)
and committed with it, so an action and its record are atomic: a consent grant or a
token issue that rolls back leaves no record, and one that commits cannot lose its record.
Events with nothing else to write (a sign-in, a failed sign-in, a sign-out) pass
``commit=True``. The cost on the hot path is three small statements in that transaction
and no commit of its own.

One linear chain across processes: every append first increments the single
``audit_chain_head`` row (``UPDATE ... RETURNING``). That takes the row lock in
PostgreSQL (READ COMMITTED re-reads the row after the wait, so the second writer sees the
first one's head) and SQLite's database write lock, held to commit; the head's ``seq``
and ``hash`` then give the new record's number and ``prev_hash`` with no second read.
Writers queue on that lock from the append to their commit, so callers record last,
just before they commit. The unique ``seq`` and ``hash`` would refuse a fork anyway.

Privacy: records reference citizens by their internal id. Any string in ``details``
that is a valid ID number, and any value under an ``id_number`` key, is masked
(``idp.ids.redact``) before it is hashed and stored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import insert
from sqlalchemy import update
from sqlalchemy.orm import Session

from ..extensions import db
from ..ids import InvalidIdNumber
from ..ids import parse_id_number
from ..ids import redact
from ..models import AuditChainHead
from ..models import AuditEvent
from . import context
from .canonical import GENESIS
from .canonical import record_hash
from .events import ActorType
from .events import EventType
from .events import Outcome

_HEAD = AuditChainHead.__table__
_EVENTS = AuditEvent.__table__
_MAX_TEXT = 500  # a detail string longer than this is cut (pasted input, not evidence)


@dataclass(frozen=True)
class Appended:
    """What ``record`` wrote; ``last_checkpoint_*`` from the head before this append."""

    seq: int
    hash: str
    last_checkpoint_seq: int = 0
    last_checkpoint_at: datetime | None = None


def record(
    event: EventType | str,
    *,
    outcome: Outcome | str = Outcome.SUCCESS,
    actor_type: ActorType | str | None = None,
    actor_id: str | None = None,
    citizen_id: str | None = None,
    client_id: str | None = None,
    details: Mapping[str, Any] | None = None,
    ip: str | None = None,
    channel: str | None = None,
    commit: bool = False,
    session: Session | None = None,
) -> Appended:
    """Append one record. ``citizen_id`` is the subject (internal id, never an ID
    number); the actor defaults to that citizen, else the operator of a command, else
    the system. ``ip`` and ``channel`` default to the bound ``context.Origin``."""
    if not 0 < len(str(event)) <= 64:
        raise ValueError("audit event types are 1 to 64 characters")
    session = session or db.session
    from .checkpoints import configured_signer

    if (signer := configured_signer()) is not None:
        signer.prepare()  # cached: no query on the hot path once the key is known
    origin = context.current()
    if actor_type is None:
        if citizen_id:
            actor_type, actor_id = ActorType.CITIZEN, citizen_id
        elif origin.operator:
            actor_type, actor_id = ActorType.OPERATOR, origin.operator
        else:
            actor_type = ActorType.SYSTEM
    address = ip if ip is not None else origin.ip
    appended = _append(
        session,
        event=str(event),
        outcome=str(outcome),
        actor_type=str(actor_type),
        actor_id=actor_id,
        citizen_id=citizen_id,
        client_id=client_id,
        ip=address[:64] if address else None,
        channel=str(channel)[:32] if channel is not None else origin.channel,
        details=mask(details or {}),
    )
    _checkpoint_if_due(session, appended)
    if commit:
        session.commit()
    return appended


def _append(session: Session, **fields: Any) -> Appended:
    head = _lock_head(session)
    seq, prev_hash = int(head.seq), str(head.hash)
    at = datetime.now(UTC)
    alg = current_app.extensions["idp.keyring"].suite.hash_name
    digest = record_hash(alg, seq=seq, at=at, prev_hash=prev_hash, **fields)
    session.execute(
        insert(_EVENTS).values(seq=seq, at=at, alg=alg, prev_hash=prev_hash, hash=digest, **fields)
    )
    session.execute(update(_HEAD).where(_HEAD.c.id == 1).values(hash=digest))
    last = head.checkpoint_at
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    return Appended(seq, digest, int(head.checkpoint_seq), last)


def _lock_head(session: Session) -> Any:
    """Take the chain lock and the next sequence number (see the module docstring)."""
    statement = (
        update(_HEAD)
        .where(_HEAD.c.id == 1)
        .values(seq=_HEAD.c.seq + 1)
        .returning(_HEAD.c.seq, _HEAD.c.hash, _HEAD.c.checkpoint_seq, _HEAD.c.checkpoint_at)
    )
    head = session.execute(statement).first()
    if head is None:
        # The migration seeds the row; it is missing only after a table was emptied
        # around the application (tests). Seed it again: an empty chain.
        session.execute(
            insert(_HEAD).values(id=1, seq=0, hash=GENESIS, checkpoint_seq=0, checkpoint_at=None)
        )
        head = session.execute(statement).one()
    return head


def _checkpoint_if_due(session: Session, appended: Appended) -> None:
    """Every IDP_AUDIT_CHECKPOINT_EVERY records, or when the last checkpoint is older
    than IDP_AUDIT_CHECKPOINT_SECONDS (or there is none yet), sign the new head."""
    from . import checkpoints

    signer = checkpoints.configured_signer()
    if signer is None:
        return
    cfg = current_app.config
    every = int(cfg.get("IDP_AUDIT_CHECKPOINT_EVERY") or 0)
    seconds = int(cfg.get("IDP_AUDIT_CHECKPOINT_SECONDS") or 0)
    last = appended.last_checkpoint_at
    due = (every > 0 and appended.seq - appended.last_checkpoint_seq >= every) or (
        seconds > 0 and last is not None and (datetime.now(UTC) - last).total_seconds() >= seconds
    )
    if due:
        checkpoints.sign_head(session, signer, seq=appended.seq, head_hash=appended.hash)


def append_raw(session: Session, **fields: Any) -> Appended:
    """Append without the periodic-checkpoint check (used by the checkpoint itself)."""
    return _append(session, **fields)


def mask(details: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-safe copy of ``details`` with ID numbers masked (module docstring)."""
    plain = json.loads(json.dumps(details, default=str))
    masked: dict[str, Any] = _mask_value(plain, key="")
    return masked


def _mask_value(value: Any, *, key: str) -> Any:
    if isinstance(value, dict):
        return {str(k): _mask_value(v, key=str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_value(v, key=key) for v in value]
    if isinstance(value, float):
        # RFC 8785 serialises floats exactly, but a float read back from the database
        # may not be the float written: keep records to integers and strings.
        return str(value)
    if isinstance(value, str):
        if key == "id_number" or _is_id_number(value):
            return redact(value)
        return value if len(value) <= _MAX_TEXT else value[:_MAX_TEXT] + "..."
    return value


def _is_id_number(value: str) -> bool:
    if not 15 <= len(value.strip()) <= 20:
        return False
    try:
        parse_id_number(number=value)
    except InvalidIdNumber:
        return False
    return True
