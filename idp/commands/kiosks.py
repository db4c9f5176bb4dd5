"""`idp kiosks create|list|show|disable|enable`: register and manage self-service kiosks.

A kiosk is a client of its own (``private_key_jwt``) with its public JWKS, a name and the
place it stands (recorded in every session started there and shown to a citizen
approving a sign-in on it). ``disable`` refuses its client assertions and card
assertions from then on and revokes its tokens; ``enable`` undoes it. Exit status 2 on
invalid input, 1 for an unknown kiosk.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup

from ..errors import InvalidInput
from ..oauth import kiosks as registry

kiosks = AppGroup("kiosks", help="Register and manage self-service kiosks.")


def _print(data: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    for key, value in data.items():
        if isinstance(value, list):
            value = " ".join(str(v) for v in value) or "-"
        click.echo(f"{key:20} {value if value is not None else '-'}")


@kiosks.command("create")
@click.option("--name", required=True, help="The kiosk's name, shown to citizens.")
@click.option("--place", required=True, help="Where it stands, e.g. 'Futian hall, ground floor'.")
@click.option(
    "--jwks",
    "jwks_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON file with the kiosk's public JWKS (private_key_jwt and card assertions).",
)
@click.option("--scope", default=registry.DEFAULT_SCOPE, show_default=True)
@click.option("--sector-identifier", help="Pairwise sub sector host (default: kiosk.<issuer>).")
@click.option(
    "--kind",
    type=click.Choice(registry.KINDS),
    default="kiosk",
    show_default=True,
    help="counter: a service-hall counter terminal (its --scope caps assisted sessions).",
)
@click.option("--window", help="The counter window a counter terminal serves (kind counter).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def create(
    name: str,
    place: str,
    jwks_file: Path,
    scope: str,
    sector_identifier: str | None,
    kind: str,
    window: str | None,
    as_json: bool,
) -> None:
    """Register a kiosk and print its client_id."""
    try:
        jwks = json.loads(jwks_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot read the JWKS file: {exc}") from None
    try:
        client = registry.register_kiosk(
            name=name,
            place=place,
            jwks=jwks,
            scope=scope,
            sector_identifier=sector_identifier,
            kind=kind,
            window=window,
        )
    except InvalidInput as exc:
        click.echo(f"error: {exc.field}: {exc.public}", err=True)
        raise SystemExit(2) from None
    found = registry.get_kiosk(client.client_id)
    assert found is not None
    _print(registry.describe(*found), as_json)


@kiosks.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(as_json: bool) -> None:
    """List registered kiosks."""
    rows = [registry.describe(c, k) for c, k in registry.list_kiosks()]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        state = "disabled" if row["disabled"] else "active"
        click.echo(f"{row['client_id']}  {state:8}  {row['name']}  ({row['place']})")


@kiosks.command("show")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(client_id: str, as_json: bool) -> None:
    """Show one kiosk."""
    found = registry.get_kiosk(client_id)
    if found is None:
        click.echo(f"error: no kiosk {client_id}", err=True)
        raise SystemExit(1)
    _print(registry.describe(*found), as_json)


@kiosks.command("disable")
@click.argument("client_id")
def disable(client_id: str) -> None:
    """Refuse the kiosk from now on and revoke its tokens."""
    if not registry.set_disabled(client_id, True):
        click.echo(f"error: no kiosk {client_id}", err=True)
        raise SystemExit(1)
    click.echo(f"disabled {client_id}")


@kiosks.command("enable")
@click.argument("client_id")
def enable(client_id: str) -> None:
    """Accept a disabled kiosk again."""
    if not registry.set_disabled(client_id, False):
        click.echo(f"error: no kiosk {client_id}", err=True)
        raise SystemExit(1)
    click.echo(f"enabled {client_id}")
