"""``record``: write one event, in the caller's transaction; the sealer chains it.

Transaction: the record is written in the caller's database transaction (``db.session``)
and committed with it, so an action and its record are atomic: a consent grant or a
token issue that rolls back leaves no record, and one that commits cannot lose its record.
Events with nothing else to write (a sign-in, a failed sign-in, a sign-out) pass
``commit=True``. The cost on the hot path is one INSERT into ``audit_pending``, with
the hash of the record's content (idp.audit.canonical, version 2), and no lock: actions
no longer queue behind each other on the chain head.

One linear chain across processes: ``idp.audit.sealer`` links committed pending records
into ``audit_event`` in batches, holding the ``audit_chain_head`` row lock only for the
batch (``link`` below, also used for the checkpoint's own record, whose caller holds the
lock). The unique ``seq`` and ``hash`` would refuse a fork anyway.

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
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..extensions import db
from ..ids import InvalidIdNumber
from ..ids import parse_id_number
from ..ids import redact
from ..models import AuditChainHead
from ..models import AuditEvent
from ..models import AuditPending
from . import context
from . import jcs
from .canonical import GENESIS
from .canonical import content_hash
from .canonical import link_hash
from .events import ActorType
from .events import EventType
from .events import Outcome

_HEAD = AuditChainHead.__table__
_EVENTS = AuditEvent.__table__
_PENDING = AuditPending.__table__
_INSERT_PENDING = insert(_PENDING)  # built once: no statement construction per record
_INSERT_EVENTS = insert(_EVENTS)
_PENDING_BIND = {"clause": _INSERT_PENDING}
_MAX_TEXT = 500  # a detail string longer than this is cut (pasted input, not evidence)
_MAX_DEPTH = 32  # details nested deeper (or circular) take the JSON round trip
WROTE = "idp.audit.wrote"  # session.info flag: this transaction wrote pending records


@dataclass(frozen=True)
class Appended:
    """The head after ``link``; ``last_checkpoint_*`` from the head before it."""

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
) -> None:
    """Write one record. ``citizen_id`` is the subject (internal id, never an ID
    number); the actor defaults to that citizen, else the operator of a command, else
    the system. ``ip`` and ``channel`` default to the bound ``context.Origin``."""
    if not 0 < len(str(event)) <= 64:
        raise ValueError("audit event types are 1 to 64 characters")
    session = session or db.session
    origin = context.current()
    if actor_type is None:
        if citizen_id:
            actor_type, actor_id = ActorType.CITIZEN, citizen_id
        elif origin.operator:
            actor_type, actor_id = ActorType.OPERATOR, origin.operator
        else:
            actor_type = ActorType.SYSTEM
    address = ip if ip is not None else origin.ip
    fields = _fields(
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
    # On the session's connection (its transaction, the bind Session.execute would pick):
    # Session.execute adds only its ORM dispatch, which this Core INSERT does not need
    # (a tenth of a record's CPU).
    session.connection(bind_arguments=_PENDING_BIND).execute(_INSERT_PENDING, fields)
    session.info[WROTE] = True
    if commit:
        session.commit()


def _fields(**fields: Any) -> dict[str, Any]:
    """A record's columns with its time, hash algorithm and content hash."""
    fields["at"] = datetime.now(UTC)
    fields["alg"] = current_app.extensions["idp.keyring"].suite.hash_name
    fields["content_hash"] = content_hash(**fields)
    return fields


def lock_head(session: Session, *, skip_locked: bool = False) -> Any:
    """Take the chain lock (the head row: seq, hash, checkpoint_seq, checkpoint_at).

    PostgreSQL: ``SELECT ... FOR UPDATE`` (READ COMMITTED: the next holder reads the
    head its predecessor committed), ``SKIP LOCKED`` when the caller would rather not
    wait (None then). SQLite: a no-op UPDATE, which takes the database write lock."""
    columns = (_HEAD.c.seq, _HEAD.c.hash, _HEAD.c.checkpoint_seq, _HEAD.c.checkpoint_at)
    if session.get_bind().dialect.name == "postgresql":
        statement: Any = (
            select(*columns).where(_HEAD.c.id == 1).with_for_update(skip_locked=skip_locked)
        )
    else:
        statement = update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq).returning(*columns)
    head = session.execute(statement).first()
    if head is None:
        if skip_locked and session.execute(select(_HEAD.c.id)).first() is not None:
            return None  # somebody else holds it
        # The migration seeds the row; it is missing only after a table was emptied
        # around the application (tests). Seed it again: an empty chain. Several
        # processes may get here at once: all but one insert nothing.
        dialect = session.get_bind().dialect.name
        seed = (pg_insert if dialect == "postgresql" else sqlite_insert)(_HEAD).values(
            id=1, seq=0, hash=GENESIS, checkpoint_seq=0, checkpoint_at=None
        )
        session.execute(seed.on_conflict_do_nothing(index_elements=[_HEAD.c.id]))
        head = session.execute(statement).first()
        if head is None:  # another process seeded it and holds it (skip_locked)
            return None
    return head


def link(session: Session, head: Any, records: list[dict[str, Any]]) -> Appended:
    """Give ``records`` (columns with ``content_hash``) the next places after ``head``,
    in order, insert them into the chain and move the head. The caller holds the lock."""
    seq, prev_hash = int(head.seq), str(head.hash)
    rows = []
    for fields in records:
        seq += 1
        digest = link_hash(
            fields["alg"], seq=seq, prev_hash=prev_hash, content_hash=fields["content_hash"]
        )
        rows.append({**fields, "seq": seq, "prev_hash": prev_hash, "hash": digest})
        prev_hash = digest
    if rows:
        session.execute(_INSERT_EVENTS, rows)
        session.execute(update(_HEAD).where(_HEAD.c.id == 1).values(seq=seq, hash=prev_hash))
    last = getattr(head, "checkpoint_at", None)
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    return Appended(seq, prev_hash, int(getattr(head, "checkpoint_seq", 0)), last)


def append_raw(session: Session, head: Any, **fields: Any) -> Appended:
    """Chain one record now, after ``head`` (the checkpoint's own announcement: its
    caller holds the lock)."""
    return link(session, head, [_fields(**fields)])


def mask(details: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-safe copy of ``details`` with ID numbers masked (module docstring)."""
    try:
        masked: dict[str, Any] = _mask_native(details, key="", depth=0)
    except _NotNative:
        # Tuples, enums, dates, non-string keys...: masked as JSON reads them back.
        plain = json.loads(json.dumps(details, default=str))
        masked = _mask_value(plain, key="")
    return masked


class _NotNative(Exception):
    """``details`` hold a value that a JSON round trip would change."""


def _mask_native(value: Any, *, key: str, depth: int) -> Any:
    """``_mask_value`` of details made only of what ``json.loads`` returns (exact types),
    which a JSON round trip gives back unchanged: the common case, without that trip."""
    kind = type(value)
    if kind is str:
        return _mask_text(value, key=key)
    if depth < _MAX_DEPTH:
        if kind is dict:
            masked = {}
            for name, item in value.items():
                if type(name) is not str:
                    raise _NotNative
                masked[name] = _mask_native(item, key=name, depth=depth + 1)
            return masked
        if kind is list:
            return [_mask_native(item, key=key, depth=depth + 1) for item in value]
    if value is None or kind is bool or kind is float:
        return _mask_value(value, key=key)
    if kind is int and -jcs.SAFE_INT <= value <= jcs.SAFE_INT:
        return value
    raise _NotNative  # other types, big integers (json refuses over 4300 digits), depth


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
        return _mask_text(value, key=key)
    return value


def _mask_text(value: str, *, key: str) -> str:
    if key == "id_number" or _is_id_number(value):
        return redact(value)
    return value if len(value) <= _MAX_TEXT else value[:_MAX_TEXT] + "..."


def _is_id_number(value: str) -> bool:
    if not 15 <= len(value.strip()) <= 20:
        return False
    try:
        parse_id_number(number=value)
    except InvalidIdNumber:
        return False
    return True
