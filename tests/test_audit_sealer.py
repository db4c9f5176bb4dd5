"""The audit sealer (issue 7): actions write pending records without a lock, and the
sealer links them into the chain in order, in batches, keeping every guarantee of the
trail: an action and its record are atomic, an edit made before or after sealing is
named by ``verify``, nothing committed is skipped, records waiting too long are reported.

Here records are not sealed after each commit (``IDP_AUDIT_SEAL_ON_COMMIT`` off), so
each test decides when the sealer runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import pytest
from audit_helpers import tamper
from conftest import TEST_MASTER_KEY
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from idp import audit
from idp.audit import EventType
from idp.audit import sealer
from idp.audit.canonical import GENESIS
from idp.audit.chain import lock_head
from idp.extensions import db
from idp.models import AuditChainHead
from idp.models import AuditCheckpoint
from idp.models import AuditEvent
from idp.models import AuditPending


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"IDP_AUDIT_SEAL_ON_COMMIT": False}


def _record(n: int, **kw: Any) -> None:
    audit.record(EventType.ADMIN_ACTION, details={"n": n}, **kw)


def _count(model: Any) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def _chain() -> list[AuditEvent]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


def test_records_wait_pending_then_are_sealed_in_order(app):
    for n in (1, 2, 3):
        _record(n)
    db.session.commit()
    assert _count(AuditEvent) == 0 and _count(AuditPending) == 3
    report = audit.verify(seal_first=False)
    assert report.ok and report.records == 0 and report.pending == 3

    assert audit.seal() == 3
    rows = _chain()
    assert [(r.seq, r.details["n"]) for r in rows] == [(1, 1), (2, 2), (3, 3)]
    assert rows[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:], strict=False))
    assert all(r.content_hash for r in rows)
    assert _count(AuditPending) == 0
    report = audit.verify()
    assert report.ok and report.records == 3 and report.pending == 0


def test_a_rolled_back_action_leaves_nothing_to_seal(app):
    _record(1)
    db.session.rollback()
    assert _count(AuditPending) == 0
    assert audit.seal() == 0
    assert _count(AuditEvent) == 0


def test_batches_keep_the_order_and_seal_everything(app):
    for n in range(1, 8):
        _record(n)
    db.session.commit()
    assert sealer.seal(limit=3) == 7
    assert [r.details["n"] for r in _chain()] == list(range(1, 8))
    assert audit.verify().ok


def test_a_record_edited_while_pending_is_named_once_sealed(app):
    for n in (1, 2, 3):
        _record(n)
    db.session.commit()
    second = db.session.scalars(select(AuditPending.id).order_by(AuditPending.id)).all()[1]
    tamper(
        app,
        ("UPDATE audit_pending SET details = :d WHERE id = :i", {"d": '{"n": 99}', "i": second}),
    )
    audit.seal()
    report = audit.verify()
    assert [(p.kind, p.seq) for p in report.problems] == [("edited", 2)]


def test_a_record_edited_after_sealing_is_named(app):
    for n in (1, 2, 3):
        _record(n)
    db.session.commit()
    audit.seal()
    tamper(app, ("UPDATE audit_event SET outcome = 'failure' WHERE seq = 2", {}))
    report = audit.verify()
    assert [(p.kind, p.seq) for p in report.problems] == [("edited", 2)]


def test_a_replaced_content_hash_is_named(app):
    """Rewriting the stored content hash to match an edit breaks the record's link."""
    from idp.audit.canonical import row_content_hash

    for n in (1, 2, 3):
        _record(n)
    db.session.commit()
    audit.seal()
    row = db.session.get(AuditEvent, 2)
    row.details = {"n": 99}
    forged = row_content_hash(row)
    db.session.rollback()
    tamper(
        app,
        (
            "UPDATE audit_event SET details = :d, content_hash = :c WHERE seq = 2",
            {"d": '{"n": 99}', "c": forged},
        ),
    )
    report = audit.verify()
    assert [(p.kind, p.seq) for p in report.problems] == [("edited", 2)]


def test_records_pending_too_long_are_reported(app):
    _record(1)
    db.session.commit()
    app.config["IDP_AUDIT_SEAL_MAX_AGE"] = 0.001
    time.sleep(0.01)
    report = audit.verify(seal_first=False)
    assert [(p.kind, p.seq) for p in report.problems] == [("unsealed", None)]
    assert "not yet sealed" in report.problems[0].message
    result = app.test_cli_runner().invoke(args=["audit", "verify"])  # seals first
    assert result.exit_code == 0, result.output
    assert audit.verify().ok and _count(AuditPending) == 0


def test_search_and_checkpoint_seal_first(app):
    _record(1)
    db.session.commit()
    assert [r.details["n"] for r in audit.search()] == [1]
    _record(2)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    assert "head #2" in result.output
    assert audit.verify().anchored_seq == 2


def test_a_checkpoint_falls_due_within_a_batch(app):
    app.config["IDP_AUDIT_CHECKPOINT_EVERY"] = 4
    for n in range(1, 10):
        _record(n)
    db.session.commit()
    audit.seal()
    checkpoints = db.session.scalars(select(AuditCheckpoint)).all()
    assert [c.seq for c in checkpoints] == [9]  # the head after the batch
    rows = _chain()
    assert rows[-1].seq == 10 and rows[-1].event == "audit.checkpoint"
    assert audit.verify().anchored_seq == 9


def test_a_record_committed_after_a_later_one_was_sealed_is_sealed_next(app, backend):
    """Ids are taken at insert, commits happen in any order: the record with the lower
    id, committed last, gets the next place rather than being skipped."""
    if backend[0] != "postgres":
        pytest.skip("SQLite has one writer at a time: its records commit in id order")
    slow = Session(bind=db.engine)
    try:
        audit.record(EventType.ADMIN_ACTION, details={"n": "slow"}, session=slow)
        slow.flush()
        _record(2)
        db.session.commit()
        assert audit.seal() == 1  # the slow one is not committed: invisible
        slow.commit()
    finally:
        slow.close()
    assert audit.seal() == 1
    assert [r.details["n"] for r in _chain()] == [2, "slow"]
    assert audit.verify().ok


def test_the_worker_seals_in_the_background(app):
    app.config.update(IDP_AUDIT_SEALER=True, IDP_AUDIT_SEAL_INTERVAL=0.05)
    worker = sealer.ensure_worker(app)
    assert worker is not None
    try:
        _record(1)
        db.session.commit()
        deadline = time.monotonic() + 10
        while _count(AuditEvent) == 0 and time.monotonic() < deadline:
            db.session.rollback()
            time.sleep(0.05)
    finally:
        sealer.stop_worker(app)
    assert [r.details["n"] for r in _chain()] == [1]
    assert audit.verify().ok


def test_postgres_refuses_to_change_a_pending_record(app, backend):
    if backend[0] != "postgres":
        pytest.skip("the insert-only trigger is PostgreSQL's")
    _record(1)
    db.session.commit()
    for sql in ("UPDATE audit_pending SET outcome = 'failure'", "TRUNCATE audit_pending"):
        with pytest.raises(DBAPIError, match="cannot be changed"):
            db.session.execute(text(sql))
        db.session.rollback()
    assert audit.seal() == 1


_WRITER = textwrap.dedent(
    """
    import json, sys, time
    from idp import create_app
    from idp import audit
    from idp.audit import sealer
    config = json.loads(sys.argv[1])
    app = create_app(config)
    with app.app_context():
        sealer.ensure_worker(app)  # this process seals with its thread only
        for i in range(int(sys.argv[2])):
            audit.record("admin.action", actor_type="staff", actor_id=sys.argv[3],
                         details={"i": i}, commit=True)
        time.sleep(0.5)
        sealer.stop_worker(app)
    """
)


def test_sealer_threads_of_several_processes_keep_one_chain(app, backend):
    """Three processes write and seal at once (PostgreSQL: each pass skips while
    another process holds the lock); every record ends up in one linear chain."""
    name, base = backend
    config = {
        **base,
        "IDP_MASTER_KEY": TEST_MASTER_KEY,
        "IDP_ISSUER": "http://localhost",
        "IDP_EMBEDDED_STORE_LOCK": False,
        "IDP_AUDIT_SEALER": True,
        "IDP_AUDIT_SEAL_INTERVAL": 0.01,
    }
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, json.dumps(config), "40", f"writer-{n}"],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
        assert "sealer pass failed" not in err, err[-2000:]
    audit.seal()  # whatever the last passes left
    report = audit.verify()
    assert report.ok, report.problems
    assert report.records == 120 and report.last_seq == 120 and report.pending == 0
    per_writer: dict[str, list[int]] = {}
    for row in _chain():
        per_writer.setdefault(row.actor_id, []).append(row.details["i"])
    # Each process's records, committed one after another, keep their order.
    assert per_writer == {f"writer-{n}": list(range(40)) for n in range(3)}


def test_sealers_seeding_a_missing_head_at_once_keep_one(app, backend):
    """The head row is missing only after its table was emptied (tests do that between
    tests); two sealers seeding it at once once failed with a duplicate key ("sealer pass
    failed" in three processes): the second one now waits, inserts nothing, and goes on."""
    if backend[0] != "postgres":
        pytest.skip("SQLite has one writer at a time")
    head_table = AuditChainHead.__table__
    db.session.execute(delete(head_table))
    db.session.commit()
    other = db.engine.connect()
    pending_seed = other.begin()
    other.execute(
        insert(head_table).values(id=1, seq=0, hash=GENESIS, checkpoint_seq=0, checkpoint_at=None)
    )
    committer = threading.Timer(0.5, pending_seed.commit)
    committer.start()
    try:
        with Session(db.engine) as session:
            head = lock_head(session, skip_locked=True)  # waits for the other seed
            assert head is not None and head.seq == 0
            session.rollback()
    finally:
        committer.join()
        other.close()
