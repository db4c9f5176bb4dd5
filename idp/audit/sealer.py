"""The sealer: links committed pending records into the hash chain, in batches.

An action writes its record into ``audit_pending`` in its own transaction
(``chain.record``: atomic with the action, no lock). ``seal`` takes the chain lock
(the ``audit_chain_head`` row), reads the pending records its snapshot sees, oldest id
first, gives them the next ``seq`` numbers and links them (``chain.link``), deletes them
from ``audit_pending``, signs a checkpoint when one is due, and commits: the lock is
held for one batch, never across an action.

Order: the chain's order is the order in which records became visible to a sealer.
A record whose id is lower than one already sealed (its transaction committed later)
is sealed by the next pass, after it: nothing is skipped, because every pass takes
every committed pending row, whatever its id, and two sealers never take the same rows
(the lock serialises them, and the second reads after the first committed its DELETE).
A rolled-back action leaves no pending row, so nothing to seal.

Who seals:

- each serving process runs a ``Worker`` thread (started with its first request, like
  the back-channel delivery worker), every ``IDP_AUDIT_SEAL_INTERVAL`` seconds; on
  PostgreSQL it skips a pass while another process's sealer holds the lock
  (``SKIP LOCKED``) instead of queueing behind it;
- a process without a worker (operator commands, tests) seals right after each commit
  that wrote records (``IDP_AUDIT_SEAL_ON_COMMIT``, on by default), on a connection of
  its own;
- ``verify``, ``checkpoints.create`` and the auditors' search seal first, so what they
  read or sign includes every committed record.

A pending record is not yet covered by the chain: ``verify`` reports records pending
for longer than ``IDP_AUDIT_SEAL_MAX_AGE`` seconds (no sealer running). Until it is
sealed, and then until the next checkpoint, a record is as exposed to someone able to
rewrite the database as the records after the last checkpoint always were; the content
hash taken when it was written makes an edit made while it waited show once sealed.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

from flask import Flask
from flask import current_app
from flask import has_app_context
from sqlalchemy import delete
from sqlalchemy import event
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import AuditPending
from .chain import WROTE
from .chain import Appended
from .chain import link
from .chain import lock_head
from .checkpoints import configured_signer

log = logging.getLogger(__name__)

BATCH = 500
WORKER_KEY = "idp.audit.sealer"
_PENDING = AuditPending.__table__
_COLUMNS = [c.name for c in _PENDING.columns if c.name != "id"]


def seal(*, session: Session | None = None, limit: int = BATCH, wait: bool = True) -> int:
    """Chain every pending record this session can see, in batches of ``limit``, one
    transaction (committed) each. Returns how many were sealed. ``wait=False``: return
    at once when another sealer holds the lock (PostgreSQL; SQLite always waits)."""
    session = session or db.session
    signer = configured_signer()
    if signer is not None:
        # Before the lock: creating the first key writes (SQLite would wait on itself).
        signer.prepare()
    sealed = 0
    while True:
        head = lock_head(session, skip_locked=not wait)
        if head is None:
            session.rollback()
            return sealed
        rows = session.execute(select(_PENDING).order_by(_PENDING.c.id).limit(limit)).all()
        if not rows:
            session.rollback()  # releases the lock; nothing was written
            return sealed
        appended = link(session, head, [{c: getattr(r, c) for c in _COLUMNS} for r in rows])
        session.execute(delete(_PENDING).where(_PENDING.c.id.in_([r.id for r in rows])))
        _checkpoint_if_due(session, appended)
        session.info.pop(WROTE, None)
        session.commit()
        sealed += len(rows)
        if len(rows) < limit:
            return sealed


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


def pending(session: Session | None = None) -> tuple[int, datetime | None]:
    """How many records wait to be sealed, and when the oldest was written."""
    session = session or db.session
    count, oldest = session.execute(select(func.count(), func.min(_PENDING.c.at))).one()
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return int(count or 0), oldest


def stale_before() -> datetime:
    """Records written before this should have been sealed long ago."""
    age = float(current_app.config.get("IDP_AUDIT_SEAL_MAX_AGE") or 60)
    return datetime.now(UTC) - timedelta(seconds=age)


# -- sealing right after a commit, in processes without a worker --------------------------


def _after_commit(session: Session) -> None:
    if not session.info.pop(WROTE, False) or not has_app_context():
        return
    app = current_app
    if WORKER_KEY in app.extensions or not app.config.get("IDP_AUDIT_SEAL_ON_COMMIT", True):
        return
    try:
        # A connection of its own: the committed session is between transactions.
        with Session(bind=db.engine) as own:
            seal(session=own)
    except Exception:  # the action is committed; its record waits for the next sealer
        log.exception("sealing audit records after a commit failed")


def _after_rollback(session: Session, previous_transaction: Any = None) -> None:
    session.info.pop(WROTE, None)


def listen() -> None:
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", _after_rollback)


# -- the per-process worker -------------------------------------------------------------


class Worker:
    """A daemon thread sealing every ``IDP_AUDIT_SEAL_INTERVAL`` seconds."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._stopping = False
        self._event = threading.Event()
        self._thread = threading.Thread(target=self._run, name="idp-audit-sealer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._stopping = True
        self._event.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        interval = float(self.app.config.get("IDP_AUDIT_SEAL_INTERVAL") or 0.2)
        while not self._stopping:
            try:
                with self.app.app_context():
                    try:
                        # An idle pass is one unlocked look, not a lock and a rollback.
                        if db.session.execute(select(_PENDING.c.id).limit(1)).first():
                            seal(wait=False)
                    finally:
                        db.session.remove()
            except Exception:  # the worker must outlive a database hiccup
                log.exception("audit sealer pass failed")
            self._event.wait(interval)


def worker_enabled(app: Flask) -> bool:
    setting = app.config.get("IDP_AUDIT_SEALER")
    if setting is None:
        return not app.testing
    return bool(setting)


_start_lock = threading.Lock()


def ensure_worker(app: Flask) -> Worker | None:
    worker: Worker | None = app.extensions.get(WORKER_KEY)
    if worker is not None or not worker_enabled(app):
        return worker
    with _start_lock:
        worker = app.extensions.get(WORKER_KEY)
        if worker is None:
            worker = Worker(app)
            app.extensions[WORKER_KEY] = worker
            worker.start()
    return worker


def stop_worker(app: Flask) -> None:
    worker: Worker | None = app.extensions.pop(WORKER_KEY, None)
    if worker is not None:
        worker.stop()


def init_app(app: Flask) -> None:
    """Seal after commits where no worker runs; start the worker with the first request
    this process serves (every gunicorn worker gets one, after the fork; operator
    commands, which serve no requests, seal after their commits instead)."""
    listen()
    if not worker_enabled(app):
        return

    def _start_worker() -> None:
        if WORKER_KEY not in app.extensions:
            ensure_worker(app)

    app.before_request(_start_worker)
