"""`idp citizens ...`: the population registry that self-registration checks names against.

``idp citizens import FILE`` loads a registry extract (CSV, or JSON lines for a
``.jsonl``/``.ndjson`` file or ``--format jsonl``); the formats are in
``idp.registry_extract``, the semantics (validation first, one transaction, idempotent,
duplicates) in ``idp.citizens_import``.

Exit status: 0 every row was accepted; 1 some rows were rejected (the valid ones were
imported unless ``--strict`` or ``--dry-run``); 2 the file could not be used at all and
nothing was written. ID numbers are printed only redacted, names never.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click
from flask.cli import AppGroup

from ..citizens_import import FORMATS
from ..citizens_import import ImportFileError
from ..citizens_import import ImportReport
from ..citizens_import import import_registry

citizens = AppGroup("citizens", help="Manage citizens and the population registry.")

EXIT_REJECTED = 1
EXIT_FILE_ERROR = 2


@citizens.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="File format (default: jsonl for .jsonl/.ndjson files, else csv).",
)
@click.option("--dry-run", is_flag=True, help="Validate and count; write nothing.")
@click.option("--strict", is_flag=True, help="Write nothing if any row is rejected.")
@click.option(
    "--encoding",
    default="utf-8",
    show_default=True,
    help="Text encoding of the file (a UTF-8 byte-order mark is accepted), e.g. gb18030.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def import_command(
    file: Path, fmt: str | None, dry_run: bool, strict: bool, encoding: str, as_json: bool
) -> None:
    """Load a population-registry extract: CSV with header id_number,name[,phone]
    [,address or address_<member>...], or JSON lines."""
    if fmt is None:
        fmt = "jsonl" if file.suffix.lower() in {".jsonl", ".ndjson"} else "csv"
    try:
        report = import_registry(
            data=file.read_bytes(), encoding=encoding, fmt=fmt, dry_run=dry_run, strict=strict
        )
    except ImportFileError as exc:
        if as_json:
            click.echo(json.dumps({"error": exc.public, "written": False}))
        else:
            click.echo(f"error: {exc.public}", err=True)
        raise SystemExit(EXIT_FILE_ERROR) from None
    if as_json:
        click.echo(json.dumps(asdict(report), ensure_ascii=False))
    else:
        _print_text(report)
    if report.rejected:
        raise SystemExit(EXIT_REJECTED)


def _print_text(report: ImportReport) -> None:
    for error in report.errors:
        where = error.field or "row"
        number = f" ({error.id_number})" if error.id_number else ""
        click.echo(f"line {error.line}: {where}{number}: {error.rule}", err=True)
    if report.ignored_columns:
        click.echo(f"ignored columns: {', '.join(report.ignored_columns)}", err=True)
    summary = (
        f"inserted {report.inserted}, updated {report.updated}, "
        f"unchanged {report.unchanged}, rejected {report.rejected}"
    )
    if report.accounts_updated:
        summary += f"; addresses updated on {report.accounts_updated} accounts"
    if report.dry_run:
        summary += " (dry run: nothing written)"
    elif not report.written:
        summary += " (--strict: nothing written because rows were rejected)"
    click.echo(summary)
