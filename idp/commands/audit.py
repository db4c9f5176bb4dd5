"""`idp audit verify|checkpoint|seal|search`: the tamper-evident trail (idp.audit).

``verify`` seals pending records (idp.audit.sealer), then walks the whole chain and
every checkpoint and names each record that was edited, removed or moved, and each
checkpoint that does not verify; exit status 1 on any problem, 0 when all is intact.
``checkpoint`` signs the current head now (for cron, on top of the periodic ones).
``seal`` links pending records into the chain now. ``search`` prints matching records,
newest first; an ID number is looked up through the blind index and never printed.
Exit status 2 on invalid input.
"""

from __future__ import annotations

import getpass
import json
from datetime import UTC
from datetime import datetime
from typing import Any

import click
from flask.cli import AppGroup

from .. import audit as trail
from ..audit import checkpoints
from ..ids import InvalidIdNumber

audit = AppGroup("audit", help="Verify, checkpoint and search the audit trail.")


def bind_operator() -> None:
    """Commands act as the OS user running them (the actor of their records)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    trail.bind(trail.Origin(operator=user[:64]))


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify(as_json: bool) -> None:
    """Check the hash chain and the signed checkpoints."""
    report = trail.verify()
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        for problem in report.problems:
            click.echo(f"PROBLEM {problem.kind}: {problem.message}")
        for status in report.checkpoints:
            if status.status == "key_unavailable":
                click.echo(f"note: checkpoint {status.id} at #{status.seq}: {status.message}")
        verified = sum(1 for c in report.checkpoints if c.status == "valid")
        summary = (
            f"{report.records} record(s), last #{report.last_seq}; "
            f"{verified}/{len(report.checkpoints)} checkpoint(s) verified, "
            f"signed head at #{report.anchored_seq}"
        )
        if report.ok:
            click.echo(f"OK: chain intact. {summary}")
        else:
            click.echo(f"FAILED: {len(report.problems)} problem(s). {summary}")
    if not report.ok:
        raise SystemExit(1)


@audit.command("seal")
def seal() -> None:
    """Link pending audit records into the chain now."""
    sealed = trail.seal()
    click.echo(f"sealed {sealed} record(s)")


@audit.command("checkpoint")
def checkpoint() -> None:
    """Sign a checkpoint of the chain head now."""
    bind_operator()
    made = checkpoints.create()
    if made is None:
        click.echo("nothing to sign: the chain is empty")
        return
    click.echo(f"checkpoint {made.id}: head #{made.seq} {made.head_hash} signed by {made.kid}")


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        click.echo(f"error: --{name}: expected an ISO 8601 date or time", err=True)
        raise SystemExit(2) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@audit.command("search")
@click.option("--citizen", "citizen_id", help="Citizen (internal id).")
@click.option("--id-number", help="Citizen by ID number (looked up through the blind index).")
@click.option("--client", "client_id", help="Portal (client_id).")
@click.option("--actor", "actor_id", help="Actor id: staff member, operator, client or citizen.")
@click.option("--actor-type", type=click.Choice([a.value for a in trail.ActorType]))
@click.option(
    "--event",
    "events",
    multiple=True,
    help='Event type (repeatable), or a prefix ending in "." such as "login.".',
)
@click.option("--outcome", type=click.Choice([o.value for o in trail.Outcome]))
@click.option("--since", help="From this time (ISO 8601; UTC unless an offset is given).")
@click.option("--until", help="Before this time (ISO 8601).")
@click.option("--before-seq", type=click.IntRange(min=1), help="Next page: records below this seq.")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def search(
    citizen_id: str | None,
    id_number: str | None,
    client_id: str | None,
    actor_id: str | None,
    actor_type: str | None,
    events: tuple[str, ...],
    outcome: str | None,
    since: str | None,
    until: str | None,
    before_seq: int | None,
    limit: int,
    as_json: bool,
) -> None:
    """Search the trail, newest first."""
    try:
        records = trail.search(
            citizen_id=citizen_id,
            id_number=id_number,
            client_id=client_id,
            actor_id=actor_id,
            actor_type=actor_type,
            events=list(events) or None,
            outcome=outcome,
            since=_time(since, "since"),
            until=_time(until, "until"),
            before_seq=before_seq,
            limit=limit,
        )
    except InvalidIdNumber as exc:
        click.echo(f"error: --id-number: {exc}", err=True)
        raise SystemExit(2) from None
    except trail.UnknownCitizen as exc:
        click.echo(f"error: --id-number: {exc}", err=True)
        raise SystemExit(1) from None
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in records], ensure_ascii=False, indent=2))
        return
    for r in records:
        click.echo(_line(r.as_dict()))


def _line(r: dict[str, Any]) -> str:
    who = f"{r['actor_type']}:{r['actor_id'] or '-'}"
    parts = [
        f"#{r['seq']}",
        r["at"],
        r["event"],
        r["outcome"],
        who,
        f"citizen={r['citizen_id'] or '-'}",
        f"client={r['client_id'] or '-'}",
        f"ip={r['ip'] or '-'}",
        f"channel={r['channel'] or '-'}",
        json.dumps(r["details"], ensure_ascii=False, sort_keys=True),
    ]
    return "  ".join(parts)
