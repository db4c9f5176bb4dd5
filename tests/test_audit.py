"""The audit trail (issue 6): hash chain, verification of tampering made directly in the
database, signed checkpoints, the append-only guard, several writer processes, search.

Tampering goes around the application as a DBA would (audit_helpers.tamper: on
PostgreSQL the append-only triggers are disabled for it, as only the owner or a
superuser can), then `idp audit verify` must name the record concerned.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from audit_helpers import tamper
from conftest import CITIZEN_ID_NUMBER
from conftest import TEST_MASTER_KEY
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from idp import audit
from idp.audit import EventType
from idp.audit import checkpoints
from idp.extensions import db
from idp.models import AuditCheckpoint
from idp.models import AuditEvent


def _fill(n: int, **kw):
    for i in range(n):
        audit.record(EventType.ADMIN_ACTION, details={"n": i + 1}, **kw)
    db.session.commit()


def _verify_cli(app, *args):
    return app.test_cli_runner().invoke(args=["audit", "verify", *args])


def test_records_chain_and_verify_ok(app):
    _fill(5)
    rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:], strict=False))
    assert {r.alg for r in rows} == {"sha256"}
    report = audit.verify()
    assert report.ok and report.records == 5 and report.last_seq == 5
    result = _verify_cli(app)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK: chain intact. 5 record(s)")


def test_id_numbers_in_details_are_masked(app, citizen):
    audit.record(
        EventType.LOGIN_FAILURE,
        outcome="failure",
        details={"typed": CITIZEN_ID_NUMBER, "id_number": "garbage", "list": [CITIZEN_ID_NUMBER]},
        commit=True,
    )
    row = db.session.scalars(select(AuditEvent)).one()
    dumped = json.dumps(row.details)
    assert CITIZEN_ID_NUMBER not in dumped
    assert row.details["typed"] == "11**************2X"
    assert row.details["id_number"] == "*******"
    assert audit.verify().ok


def test_an_edited_record_is_named(app):
    _fill(5)
    tamper(app, ("UPDATE audit_event SET details = :d WHERE seq = 3", {"d": '{"n": 99}'}))
    report = audit.verify()
    assert [(p.kind, p.seq) for p in report.problems] == [("edited", 3)]
    result = _verify_cli(app)
    assert result.exit_code == 1
    assert "PROBLEM edited: record #3 was edited" in result.output


def test_an_edited_record_with_a_recomputed_hash_breaks_the_next_link(app):
    _fill(5)
    db.session.commit()
    row = db.session.get(AuditEvent, 3)
    from idp.audit.canonical import row_content_hash
    from idp.audit.canonical import row_hash

    row.actor_id = "someone-else"
    row.content_hash = content = row_content_hash(row)
    forged = row_hash(row)
    db.session.rollback()
    tamper(
        app,
        (
            "UPDATE audit_event SET actor_id = 'someone-else', content_hash = :c, hash = :h "
            "WHERE seq = 3",
            {"c": content, "h": forged},
        ),
    )
    report = audit.verify()
    assert [(p.kind, p.seq) for p in report.problems] == [("relinked", 3)]


def test_a_deleted_record_is_named(app):
    _fill(6)
    tamper(app, ("DELETE FROM audit_event WHERE seq = 4", {}))
    report = audit.verify()
    assert [(p.kind, p.seq) for p in report.problems] == [("removed", 4)]
    assert "record #4 was removed" in report.problems[0].message
    assert _verify_cli(app).exit_code == 1


def test_a_deletion_closed_up_by_renumbering_is_named(app):
    _fill(7)
    tamper(
        app,
        ("DELETE FROM audit_event WHERE seq IN (3, 4)", {}),
        *(
            ("UPDATE audit_event SET seq = :n WHERE seq = :o", {"n": o - 2, "o": o})
            for o in (5, 6, 7)
        ),
    )
    report = audit.verify()
    assert [(p.kind, p.seq) for p in report.problems] == [("removed", 3)]
    assert report.problems[0].message.startswith("records #3 to #4 were removed and the later")


def test_records_cut_from_the_end_are_named(app):
    _fill(6)
    tamper(app, ("DELETE FROM audit_event WHERE seq >= 5", {}))
    report = audit.verify()
    assert [(p.kind, p.seq) for p in report.problems] == [("removed", 5)]
    assert "records #5 to #6 were removed from the end" in report.problems[0].message


def test_reordered_records_are_named(app):
    _fill(6)
    tamper(
        app,
        ("UPDATE audit_event SET seq = 1000 WHERE seq = 2", {}),
        ("UPDATE audit_event SET seq = 2 WHERE seq = 5", {}),
        ("UPDATE audit_event SET seq = 5 WHERE seq = 1000", {}),
    )
    report = audit.verify()
    assert [(p.kind, p.seq) for p in report.problems] == [("moved", 2), ("moved", 5)]
    assert "record #5 was moved to position #2" in report.problems[0].message
    result = _verify_cli(app, "--json")
    assert result.exit_code == 1
    body = json.loads(result.output)
    assert body["ok"] is False and {p["kind"] for p in body["problems"]} == {"moved"}


def test_postgres_refuses_changes_through_the_application(app, backend):
    if backend[0] != "postgres":
        pytest.skip("the append-only triggers are PostgreSQL's")
    _fill(2)
    for sql in (
        "UPDATE audit_event SET outcome = 'failure' WHERE seq = 1",
        "DELETE FROM audit_event WHERE seq = 2",
        "TRUNCATE audit_event",
        "DELETE FROM audit_checkpoint",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(sql))
        db.session.rollback()
    assert audit.verify().ok and audit.verify().records == 2


def test_checkpoint_signs_the_head_and_verifies(app):
    _fill(3)
    result = app.test_cli_runner().invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    assert "head #3" in result.output
    checkpoint = db.session.scalars(select(AuditCheckpoint)).one()
    claims = checkpoints.configured_signer().verify(checkpoint.jws)
    assert claims["seq"] == 3 and claims["hash"] == checkpoint.head_hash
    announced = db.session.get(AuditEvent, 4)
    assert announced.event == "audit.checkpoint"
    assert announced.details["checkpoint"] == checkpoint.id
    assert announced.actor_type == "operator"
    report = audit.verify()
    assert report.ok and report.anchored_seq == 3
    assert [c.status for c in report.checkpoints] == ["valid"]


def test_periodic_checkpoint_every_n_records(app):
    app.config["IDP_AUDIT_CHECKPOINT_EVERY"] = 4
    # The sealer checks after each batch it seals; one commit per record here makes
    # each record its own batch (test_audit_sealer covers a batch across the count).
    for i in range(9):
        audit.record(EventType.ADMIN_ACTION, details={"n": i + 1}, commit=True)
    rows = db.session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id)).all()
    # 1-4, then the checkpoint of #4 announced as #5; 6-8, #8 is 4 past #4: the next
    # one, announced as #9; the last two records take #10 and #11.
    assert [c.seq for c in rows] == [4, 8]
    report = audit.verify()
    assert report.ok and report.last_seq == 11 and report.anchored_seq == 8


def test_a_chain_rewritten_after_a_checkpoint_is_caught(app):
    """An attacker who edits a record and recomputes every later hash keeps the chain
    consistent, but the signed checkpoint no longer matches it."""
    from idp.audit.canonical import row_content_hash
    from idp.audit.canonical import row_hash

    _fill(3)
    checkpoints.create()
    db.session.commit()
    rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    updates = []
    prev = "0" * 64
    for row in rows:
        if row.seq == 2:
            row.details = {"n": 42}
        row.content_hash = row_content_hash(row)
        row.prev_hash = prev
        row.hash = row_hash(row)
        prev = row.hash
        updates.append(
            (
                "UPDATE audit_event SET details = :d, content_hash = :c, prev_hash = :p, "
                "hash = :h WHERE seq = :s",
                {
                    "d": json.dumps(row.details),
                    "c": row.content_hash,
                    "p": row.prev_hash,
                    "h": row.hash,
                    "s": row.seq,
                },
            )
        )
    db.session.rollback()
    tamper(app, *updates)
    report = audit.verify()
    assert [(p.kind, p.seq) for p in report.problems] == [("checkpoint", 3)]
    assert "differs from the signed head" in report.problems[0].message


def test_a_forged_or_removed_checkpoint_is_caught(app):
    _fill(2)
    checkpoints.create()
    checkpoint = db.session.scalars(select(AuditCheckpoint)).one()
    header, payload, signature = checkpoint.jws.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    tamper(app, ("UPDATE audit_checkpoint SET jws = :j", {"j": forged}))
    report = audit.verify()
    assert [c.status for c in report.checkpoints] == ["invalid_signature"]
    assert not report.ok
    tamper(app, ("DELETE FROM audit_checkpoint", {}))
    report = audit.verify()
    assert [(p.kind, p.seq) for p in report.problems] == [("checkpoint", 3)]
    assert "was removed" in report.problems[0].message


_WRITER = textwrap.dedent(
    """
    import json, sys
    from idp import create_app
    from idp import audit
    config = json.loads(sys.argv[1])
    app = create_app(config)
    with app.app_context():
        for i in range(int(sys.argv[2])):
            audit.record("admin.action", actor_type="staff", actor_id=sys.argv[3],
                         details={"i": i}, commit=True)
    """
)


def test_several_writer_processes_keep_one_linear_chain(app, backend):
    name, base = backend
    config = {
        **base,
        "IDP_MASTER_KEY": TEST_MASTER_KEY,
        "IDP_ISSUER": "http://localhost",
        "IDP_EMBEDDED_STORE_LOCK": False,
    }
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, json.dumps(config), "25", f"writer-{n}"],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
    db.session.rollback()
    report = audit.verify()
    assert report.ok, report.problems
    assert report.records == 75 and report.last_seq == 75
    writers = {r.actor_id for r in db.session.scalars(select(AuditEvent))}
    assert writers == {"writer-0", "writer-1", "writer-2"}


def test_search_filters(app, citizen, rp):
    audit.record(EventType.LOGIN_SUCCESS, citizen_id=citizen.id, channel="website")
    audit.record(EventType.TOKEN_ISSUE, citizen_id=citizen.id, client_id=rp.client_id)
    audit.record(EventType.ADMIN_ACTION, actor_type="staff", actor_id="staff-7")
    db.session.commit()
    assert [r.event for r in audit.search(citizen_id=citizen.id)] == [
        "token.issue",
        "login.success",
    ]
    assert [r.seq for r in audit.search(id_number=CITIZEN_ID_NUMBER)] == [2, 1]
    assert [r.seq for r in audit.search(client_id=rp.client_id)] == [2]
    assert [r.seq for r in audit.search(actor_id="staff-7")] == [3]
    assert [r.seq for r in audit.search(events=["login."])] == [1]
    assert [r.seq for r in audit.search(limit=1, before_seq=3)] == [2]
    result = app.test_cli_runner().invoke(
        args=["audit", "search", "--id-number", CITIZEN_ID_NUMBER, "--json"]
    )
    assert result.exit_code == 0, result.output
    assert [r["seq"] for r in json.loads(result.output)] == [2, 1]
    assert CITIZEN_ID_NUMBER not in result.output
    bad = app.test_cli_runner().invoke(args=["audit", "search", "--id-number", "123"])
    assert bad.exit_code == 2 and "123" not in bad.output
    unknown = app.test_cli_runner().invoke(
        args=["audit", "search", "--id-number", "110105198001010016"]
    )
    assert unknown.exit_code == 1
    badtime = app.test_cli_runner().invoke(args=["audit", "search", "--since", "yesterday"])
    assert badtime.exit_code == 2
