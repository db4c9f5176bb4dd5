"""Purging the back-channel logout outbox: finished notices past the retention.

A notice (``BackchannelDelivery``) that was delivered or abandoned stays in the outbox
so ``idp backchannel list --all`` can show what happened to it; after
``IDP_BACKCHANNEL_RETENTION_DAYS`` it has no further use. ``purge`` deletes delivered
and abandoned notices whose ``delivered_at`` / ``abandoned_at`` is older than the
retention, never a pending one (both NULL: a worker may still send it). It deletes in
batches of ``BATCH`` rows, each its own short transaction, so purging a large outbox
never holds one long lock against the delivery workers writing beside it. Each run
(not a dry run) is one ``backchannel.purge`` record on the audit trail with the counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute

from .. import audit
from ..audit import EventType
from ..extensions import db
from ..models import BackchannelDelivery

Finished = InstrumentedAttribute[datetime | None]  # delivered_at or abandoned_at

BATCH = 500  # rows per delete: well under SQLite's bound-parameter limit
STATES = (
    ("delivered", BackchannelDelivery.delivered_at),
    ("abandoned", BackchannelDelivery.abandoned_at),
)


@dataclass(frozen=True)
class Purged:
    delivered: int
    abandoned: int
    older_than_days: int
    cutoff: datetime
    dry_run: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "delivered": self.delivered,
            "abandoned": self.abandoned,
            "older_than_days": self.older_than_days,
            "cutoff": self.cutoff.isoformat(),
            "dry_run": self.dry_run,
        }


def purge(
    *,
    older_than_days: int,
    dry_run: bool = False,
    batch: int = BATCH,
    now: datetime | None = None,
) -> Purged:
    """Delete (or, ``dry_run``, only count) the delivered and abandoned notices finished
    more than ``older_than_days`` days ago; record the run on the audit trail."""
    if older_than_days < 0 or batch < 1:
        raise ValueError("the retention and the batch size cannot be negative")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=older_than_days)
    counts = {
        state: _count(column, cutoff) if dry_run else _delete(column, cutoff, batch)
        for state, column in STATES
    }
    purged = Purged(
        delivered=counts["delivered"],
        abandoned=counts["abandoned"],
        older_than_days=older_than_days,
        cutoff=cutoff,
        dry_run=dry_run,
    )
    if not dry_run:
        details = purged.as_dict()
        del details["dry_run"]
        audit.record(EventType.BACKCHANNEL_PURGE, details=details, commit=True)
    return purged


def _count(column: Finished, cutoff: datetime) -> int:
    query = select(func.count()).select_from(BackchannelDelivery).where(column < cutoff)
    total = int(db.session.scalar(query) or 0)
    db.session.commit()
    return total


def _delete(column: Finished, cutoff: datetime, batch: int) -> int:
    """Delete in batches found through the column's index, one commit each."""
    total = 0
    while True:
        ids = db.session.scalars(
            select(BackchannelDelivery.id).where(column < cutoff).order_by(column).limit(batch)
        ).all()
        if not ids:
            break
        result = db.session.execute(
            delete(BackchannelDelivery)
            .where(BackchannelDelivery.id.in_(ids), column < cutoff)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        total += int(getattr(result, "rowcount", 0) or 0)
        if len(ids) < batch:
            break
    return total
