"""`idp licences ...`: load electronic licences and change their status.

``idp licences import FILE`` loads a CSV or JSON-lines file (format from the extension,
or ``--format``); the semantics (validate everything first, all or nothing, idempotent
on type and number) are in ``idp.licences.loading``. ``idp licences set-status TYPE
NUMBER STATUS`` suspends, reinstates or revokes one licence (an operator may act for
any department; departments use ``POST /admin/api/licences/status``).

Exit status: 0 the load was written (or, with ``--dry-run``, would be); 1 some rows
were rejected and nothing was written; 2 the file or the arguments could not be used.
ID numbers are printed only redacted, document fields never.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click
from flask.cli import AppGroup

from ..errors import InvalidInput
from ..licences import store
from ..licences.loading import LoadFileError
from ..licences.loading import LoadReport
from ..licences.loading import load
from ..licences.loading import read_file

licences = AppGroup("licences", help="Load and manage electronic licences.")

EXIT_REJECTED = 1
EXIT_FILE_ERROR = 2


@licences.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    help="File format (default: from the extension, .csv or .jsonl/.ndjson).",
)
@click.option("--dry-run", is_flag=True, help="Validate and count; write nothing.")
@click.option(
    "--encoding",
    default="utf-8",
    show_default=True,
    help="Text encoding of the file (a UTF-8 byte-order mark is accepted), e.g. gb18030.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def import_command(
    file: Path, fmt: str | None, dry_run: bool, encoding: str, as_json: bool
) -> None:
    """Load licences: all rows or, if any row is bad, none."""
    if fmt is None:
        suffix = file.suffix.lower()
        fmt = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(suffix)
        if fmt is None:
            _fail("give --format csv or jsonl (the extension says neither)", as_json)
    assert fmt is not None
    try:
        report = load(read_file(file.read_bytes(), fmt=fmt, encoding=encoding), dry_run=dry_run)
    except LoadFileError as exc:
        _fail(exc.public, as_json)
    if as_json:
        click.echo(json.dumps(asdict(report), ensure_ascii=False))
    else:
        _print_text(report)
    if report.rejected:
        raise SystemExit(EXIT_REJECTED)


def _fail(message: str, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"error": message, "written": False}))
    else:
        click.echo(f"error: {message}", err=True)
    raise SystemExit(EXIT_FILE_ERROR)


def _print_text(report: LoadReport) -> None:
    for error in report.errors:
        where = error.field or "row"
        number = f" ({error.id_number})" if error.id_number else ""
        click.echo(f"line {error.line}: {where}{number}: {error.rule}", err=True)
    if report.rejected:
        click.echo(f"rejected {report.rejected} row(s): nothing written")
        return
    summary = f"inserted {report.inserted}, updated {report.updated}, unchanged {report.unchanged}"
    if report.dry_run:
        summary += " (dry run: nothing written)"
    click.echo(summary)


@licences.command("set-status")
@click.argument("licence_type", metavar="TYPE")
@click.argument("number")
@click.argument("status", type=click.Choice(["valid", "suspended", "revoked"]))
@click.option("--reason", help="Why (kept with the licence, at most 200 characters).")
def set_status(licence_type: str, number: str, status: str, reason: str | None) -> None:
    """Suspend, reinstate (valid) or revoke one licence."""
    try:
        licence = store.set_status(
            type=licence_type, number=number, status=status, reason=reason, department=None
        )
    except InvalidInput as exc:
        click.echo(f"error: {exc.field}: {exc.public}", err=True)
        raise SystemExit(EXIT_FILE_ERROR) from None
    click.echo(f"{licence.type} {licence.number}: {licence.status}")
