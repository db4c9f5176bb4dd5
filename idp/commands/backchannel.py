"""`idp backchannel deliver|list|purge`: the back-channel outbox, from the command line.

The outbox holds logout notices (OpenID Connect Back-Channel Logout 1.0 section 2.5)
and CIBA pings (CIBA Core 1.0 section 10.2, ``idp.oauth.ciba_ping``). ``deliver`` makes
one pass over the due ones and exits: cron-able beside the serving processes' own
workers, which it never collides with (``idp.oauth.backchannel_delivery`` claims rows
atomically). ``list`` shows pending and abandoned notices (kind, client, reason,
attempts, next attempt, last error; never a token, an auth_req_id, a sub or a sid); a
CIBA ping is pending until it is sent, its next attempt at the request's expiry until
the citizen decides. Exit status 1 when a notice was abandoned
during the pass, so a cron job's mail says so. ``purge`` deletes delivered and abandoned
notices older than the retention (``--older-than`` days, default
``IDP_BACKCHANNEL_RETENTION_DAYS``), never a pending one, in short batches
(``idp.oauth.backchannel_purge``); cron it daily. ``--dry-run`` only counts. Exit
status 2 on an invalid retention setting.
"""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from ..extensions import db
from ..models import BackchannelDelivery
from ..oauth import backchannel_delivery
from ..oauth import backchannel_purge
from .audit import bind_operator

backchannel = AppGroup(
    "backchannel", help="Back-channel notices to clients: logout tokens and CIBA pings."
)


@backchannel.command("deliver")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def deliver(as_json: bool) -> None:
    """Send every due notice (logout token, CIBA ping) once; retries keep their backoff."""
    summary = backchannel_delivery.deliver_due()
    if as_json:
        click.echo(json.dumps(summary.as_dict()))
    else:
        click.echo(
            f"delivered {summary.delivered}, to retry {summary.retrying}, "
            f"abandoned {summary.abandoned}"
        )
    if summary.abandoned:
        raise SystemExit(1)


@backchannel.command("list")
@click.option("--all", "show_all", is_flag=True, help="Delivered notices too.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(show_all: bool, as_json: bool) -> None:
    """Pending and abandoned notices, oldest first."""
    query = select(BackchannelDelivery).order_by(BackchannelDelivery.created_at)
    if not show_all:
        query = query.where(BackchannelDelivery.delivered_at.is_(None))
    rows = [
        {
            "id": row.id,
            "kind": row.kind,
            "client_id": row.client_id,
            "reason": row.reason,
            "state": (
                "delivered" if row.delivered_at else "abandoned" if row.abandoned_at else "pending"
            ),
            "attempts": row.attempts,
            "created_at": row.created_at.isoformat(),
            "next_attempt_at": row.next_attempt_at.isoformat() if row.next_attempt_at else None,
            "last_error": row.last_error,
        }
        for row in db.session.scalars(query.limit(1000))
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        click.echo(
            f"{row['id']}  {row['kind']:9} {row['client_id']}  {row['reason']:16} {row['state']:9} "
            f"attempts={row['attempts']}  next={row['next_attempt_at'] or '-'}  "
            f"{row['last_error'] or ''}"
        )


@backchannel.command("purge")
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=0),
    metavar="DAYS",
    help="Retention in days (default IDP_BACKCHANNEL_RETENTION_DAYS, 30).",
)
@click.option("--dry-run", is_flag=True, help="Count what would go; delete nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def purge(days: int | None, dry_run: bool, as_json: bool) -> None:
    """Delete delivered and abandoned notices older than the retention (never pending)."""
    if days is None:
        setting = current_app.config.get("IDP_BACKCHANNEL_RETENTION_DAYS")
        if isinstance(setting, bool) or not isinstance(setting, int) or setting < 0:
            click.echo(
                "error: IDP_BACKCHANNEL_RETENTION_DAYS must be a whole number of days (0 or more)",
                err=True,
            )
            raise SystemExit(2)
        days = setting
    bind_operator()
    purged = backchannel_purge.purge(older_than_days=days, dry_run=dry_run)
    if as_json:
        click.echo(json.dumps(purged.as_dict()))
        return
    verb = "would delete" if dry_run else "deleted"
    click.echo(
        f"{verb} {purged.delivered} delivered and {purged.abandoned} abandoned notice(s) "
        f"finished before {purged.cutoff.isoformat(timespec='seconds')} ({days} days)"
    )
