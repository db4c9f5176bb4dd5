"""`idp backchannel purge`: delivered and abandoned logout notices past the retention
leave the outbox; pending ones never do; a dry run deletes nothing; each run is one
``backchannel.purge`` record on the audit trail."""

from __future__ import annotations

import json
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from oidc_helpers import register
from sqlalchemy import select

from idp import audit
from idp.extensions import db
from idp.models import AuditEvent
from idp.models import BackchannelDelivery
from idp.oauth import backchannel_purge


def _ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def _notice(client_id: str, *, created: float, **finished: float) -> str:
    """A notice created ``created`` days ago; ``delivered=`` / ``abandoned=`` days ago."""
    row = BackchannelDelivery(
        client_id=client_id,
        subject="pairwise-sub",
        reason="logout",
        created_at=_ago(created),
        attempts=1 if finished else 3,
        next_attempt_at=None if finished else _ago(created),
        delivered_at=_ago(finished["delivered"]) if "delivered" in finished else None,
        abandoned_at=_ago(finished["abandoned"]) if "abandoned" in finished else None,
        last_error="the portal answered HTTP 500" if "abandoned" in finished else None,
    )
    db.session.add(row)
    db.session.commit()
    return row.id


@pytest.fixture
def outbox(app):
    """Two old finished notices (to go) and four that stay: recent finished ones, an old
    pending one still being retried, a fresh pending one."""
    client_id = register(name="Tax portal", redirect_uris=["https://tax.example.gov/cb"]).client_id
    return {
        "old_delivered": _notice(client_id, created=45, delivered=40),
        "old_abandoned": _notice(client_id, created=50, abandoned=31),
        "recent_delivered": _notice(client_id, created=5, delivered=5),
        "recent_abandoned": _notice(client_id, created=29, abandoned=29),
        "old_pending": _notice(client_id, created=60),
        "new_pending": _notice(client_id, created=0),
    }


def _left() -> set[str]:
    db.session.expire_all()
    return set(db.session.scalars(select(BackchannelDelivery.id)))


def _purge_records() -> list[AuditEvent]:
    audit.seal()
    db.session.rollback()
    query = select(AuditEvent).where(AuditEvent.event == "backchannel.purge")
    return list(db.session.scalars(query.order_by(AuditEvent.seq)))


def purge(app, *args: str):
    return app.test_cli_runner().invoke(args=["backchannel", "purge", *args])


def test_purge_deletes_old_finished_notices_and_keeps_recent_and_pending(app, outbox):
    result = purge(app, "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert (shown["delivered"], shown["abandoned"]) == (1, 1)
    assert shown["older_than_days"] == 30 and shown["dry_run"] is False
    kept = {"recent_delivered", "recent_abandoned", "old_pending", "new_pending"}
    assert _left() == {outbox[name] for name in kept}
    (record,) = _purge_records()
    assert record.actor_type == "operator" and record.actor_id
    assert record.outcome == "success"
    assert record.details["delivered"] == 1 and record.details["abandoned"] == 1
    assert record.details["older_than_days"] == 30 and record.details["cutoff"]
    # Nothing of the notices (no sub, no sid) is on the trail.
    assert "pairwise-sub" not in json.dumps(record.details)


def test_dry_run_counts_and_deletes_nothing(app, outbox):
    result = purge(app, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would delete 1 delivered and 1 abandoned notice(s)" in result.output
    assert _left() == set(outbox.values())
    assert _purge_records() == []


def test_older_than_shortens_the_retention_but_never_takes_pending_notices(app, outbox):
    result = purge(app, "--older-than", "0")
    assert result.exit_code == 0, result.output
    assert "deleted 2 delivered and 2 abandoned notice(s)" in result.output
    assert _left() == {outbox["old_pending"], outbox["new_pending"]}
    # A second run finds nothing and still says so on the trail.
    again = purge(app, "--older-than", "0", "--json")
    assert json.loads(again.output)["delivered"] == 0
    assert [r.details["delivered"] for r in _purge_records()] == [2, 0]


@pytest.mark.parametrize("app_config", [{"IDP_BACKCHANNEL_RETENTION_DAYS": 10}])
def test_the_default_retention_comes_from_the_setting(app, outbox):
    result = purge(app, "--json")
    assert json.loads(result.output)["older_than_days"] == 10
    assert _left() == {outbox[name] for name in ("recent_delivered", "old_pending", "new_pending")}


@pytest.mark.parametrize("app_config", [{"IDP_BACKCHANNEL_RETENTION_DAYS": "a month"}])
def test_an_invalid_retention_setting_is_refused(app, outbox):
    result = purge(app)
    assert result.exit_code == 2
    assert "IDP_BACKCHANNEL_RETENTION_DAYS must be a whole number" in result.output
    assert _left() == set(outbox.values()) and _purge_records() == []


def test_a_negative_retention_is_refused(app, outbox):
    result = purge(app, "--older-than", "-1")
    assert result.exit_code == 2 and _left() == set(outbox.values())


def test_a_large_outbox_goes_in_several_batches(app):
    client_id = register(name="Tax portal", redirect_uris=["https://tax.example.gov/cb"]).client_id
    old = {_notice(client_id, created=40, delivered=35 + i) for i in range(7)}
    pending = _notice(client_id, created=40)
    purged = backchannel_purge.purge(older_than_days=30, batch=3)
    assert (purged.delivered, purged.abandoned) == (7, 0)
    assert _left() == {pending} and not old & _left()
    assert len(_purge_records()) == 1
