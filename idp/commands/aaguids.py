"""`idp aaguids list|add|remove`: the authenticator models admitted to high, from the
operator's shell (the same table as the console's ``/admin/authenticators``; see
``idp.authn.passkeys.allowlist``).

``list`` shows the effective list: the table's models and those of the
``IDP_WEBAUTHN_HIGH_AAGUIDS`` setting (which only the configuration changes). ``add`` and
``remove`` are recorded on the audit trail as the console's are (``admin.aaguids.add``,
``admin.aaguids.remove``), with the OS user as the actor. Exit status 2 on invalid input
(a duplicate included), 1 when the model is not on the table.
"""

from __future__ import annotations

import getpass
import json
from typing import Any

import click
from flask.cli import AppGroup

from .. import audit
from ..authn.passkeys import allowlist
from ..errors import InvalidInput
from .audit import bind_operator

aaguids = AppGroup("aaguids", help="Authenticator models (AAGUIDs) admitted to high.")


def _operator() -> str:
    try:
        return "operator:" + getpass.getuser()[:64]
    except (KeyError, OSError):
        return "operator:unknown"


def _record(action: str, model: dict[str, Any], before: Any = None) -> None:
    bind_operator()
    audit.record(
        "admin.aaguids." + action,
        details={"target": model["aaguid"], "via": "cli", "before": before, "after": model},
        commit=True,
    )


def _refuse(exc: InvalidInput) -> None:
    click.echo(f"error: {exc.field}: {exc.public}", err=True)
    raise SystemExit(2) from None


@aaguids.command("list")
@click.option("--removed", is_flag=True, help="Also list removed models.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(removed: bool, as_json: bool) -> None:
    """List the models admitted to high (table and setting)."""
    rows = [m.as_dict() for m in allowlist.listed()]
    if removed:
        rows += [m.as_dict() for m in allowlist.removed(limit=1000)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not any(r["removed_at"] is None for r in rows):
        click.echo("no model listed: every authenticator model reaches high")
    for row in rows:
        if row["source"] == allowlist.CONFIGURATION:
            click.echo(f"{row['aaguid']}  (IDP_WEBAUTHN_HIGH_AAGUIDS)")
            continue
        state = f"removed {row['removed_at']} by {row['removed_by']}" if row["removed_at"] else ""
        click.echo(
            f"{row['aaguid']}  {row['label']}  added {row['added_at']} by {row['added_by']}"
            + (f"  {state}" if state else "")
        )


@aaguids.command("add")
@click.argument("aaguid")
@click.option("--label", required=True, help="The model's name, as people know it.")
def add(aaguid: str, label: str) -> None:
    """Admit an authenticator model to high."""
    try:
        added = allowlist.add(aaguid=aaguid, label=label, by=_operator()).as_dict()
    except InvalidInput as exc:
        _refuse(exc)
        return
    _record("add", added)
    click.echo(f"added {added['aaguid']} ({added['label']})")


@aaguids.command("remove")
@click.argument("aaguid")
@click.option(
    "--open-to-any",
    is_flag=True,
    help="Needed to remove the last model: every model then reaches high.",
)
def remove(aaguid: str, open_to_any: bool) -> None:
    """Take an authenticator model off the table (the removal is recorded)."""
    try:
        gone = allowlist.remove(aaguid=aaguid, by=_operator(), open_to_any=open_to_any)
    except InvalidInput as exc:
        _refuse(exc)
        return
    except LookupError:
        click.echo(f"error: {aaguid.strip().lower()} is not on the table", err=True)
        raise SystemExit(1) from None
    after = gone.as_dict()
    _record("remove", after, before={**after, "removed_by": None, "removed_at": None})
    click.echo(f"removed {gone.aaguid} ({gone.label})")
