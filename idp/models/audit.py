"""The audit trail: append-only, hash-chained records and signed checkpoints (idp.audit).

In PostgreSQL, migration 6a_audit makes ``audit_event`` and ``audit_checkpoint``
append-only (a trigger refuses UPDATE, DELETE and TRUNCATE). ``audit_chain_head`` is the
one mutable row: the lock that keeps the sealer(s) on one linear chain, and a copy of
the head for the next seal. Verification never trusts it.

``audit_pending`` (migration 9b_perf) holds records written by actions and not yet
linked into the chain (idp.audit.sealer): insert-only for the application, and a
trigger refuses UPDATE in PostgreSQL; the sealer moves rows out of it (DELETE).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import BigInteger
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ..extensions import db
from ._types import UTCDateTime

# SQLite makes only an INTEGER PRIMARY KEY auto-increment.
_BigId = BigInteger().with_variant(Integer(), "sqlite")


class AuditEvent(db.Model):  # type: ignore[name-defined,misc]
    """One record. ``hash`` is over the canonical serialisation of every other column
    (idp.audit.canonical); ``prev_hash`` is the hash of record ``seq - 1``."""

    __tablename__ = "audit_event"

    seq: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    event: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64), index=True)
    citizen_id: Mapped[str | None] = mapped_column(String(36), index=True)
    client_id: Mapped[str | None] = mapped_column(String(64), index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    alg: Mapped[str] = mapped_column(String(16))  # sha256 | sm3
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Body version 2 (idp.audit.canonical): the content hash the action computed when it
    # wrote the record; ``hash`` links (seq, prev_hash, content_hash). NULL: version 1.
    content_hash: Mapped[str | None] = mapped_column(String(64))


class AuditPending(db.Model):  # type: ignore[name-defined,misc]
    """A record written by an action, waiting for the sealer to give it its place in the
    chain. ``content_hash`` is over its canonical content (idp.audit.canonical), taken
    when it was written, so an edit made while it waits shows once it is sealed."""

    __tablename__ = "audit_pending"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    event: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    citizen_id: Mapped[str | None] = mapped_column(String(36))
    client_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    alg: Mapped[str] = mapped_column(String(16))
    content_hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(db.Model):  # type: ignore[name-defined,misc]
    """A signed statement of the chain head: JWS over {seq, hash, at}."""

    __tablename__ = "audit_checkpoint"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    head_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kid: Mapped[str] = mapped_column(String(64))
    jws: Mapped[str] = mapped_column(Text)


class AuditChainHead(db.Model):  # type: ignore[name-defined,misc]
    """Single row (id 1), locked by every seal. ``checkpoint_*`` say when the last
    checkpoint was signed, so the periodic one needs no extra query."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    checkpoint_seq: Mapped[int] = mapped_column(BigInteger)
    checkpoint_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
