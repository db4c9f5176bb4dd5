"""`idp keys list|rotate|purge`: the token-signing keys (see ``idp.oauth.keys``).

``rotate`` publishes a new key per algorithm at once and lets it sign only after the
propagation delay (``IDP_KEY_PROPAGATION_DELAY`` seconds, default 3600, or
``--propagation-delay``), so portals that cache the JWKS learn it first. The keys it
replaces stop signing then and stay published ``IDP_KEY_RETIRE_GRACE`` seconds longer,
until every token they signed has expired.
"""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from ..oauth import keys as signing_keys
from .audit import bind_operator

keys = AppGroup("keys", help="Manage the token-signing keys.")


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(as_json: bool) -> None:
    """List signing keys and their state (pending, signing, published, expired)."""
    rows = signing_keys.list_keys()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(
            f"{row['kid']}  {row['alg']}  {row['state']:9}  from {row['active_from']}"
            f"  retired {row['retired_at'] or '-'}  expires {row['expires_at'] or '-'}"
        )


@keys.command("rotate")
@click.option(
    "--alg",
    "algs",
    multiple=True,
    type=click.Choice(signing_keys.ALGORITHMS),
    help="Rotate only this algorithm (repeatable; default: all).",
)
@click.option(
    "--propagation-delay",
    type=click.IntRange(min=0),
    help="Seconds between publishing the new key and signing with it.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def rotate(algs: tuple[str, ...], propagation_delay: int | None, as_json: bool) -> None:
    """Publish new signing keys; they sign after the propagation delay."""
    bind_operator()
    cfg = current_app.config
    delay = propagation_delay
    if delay is None:
        delay = int(cfg.get("IDP_KEY_PROPAGATION_DELAY", signing_keys.DEFAULT_PROPAGATION_DELAY))
    created = signing_keys.rotate(
        algs=algs or signing_keys.ALGORITHMS,
        propagation_delay=delay,
        retire_grace=int(cfg["IDP_KEY_RETIRE_GRACE"]),
    )
    rows = [{"kid": k.kid, "alg": k.alg, "active_from": k.active_from.isoformat()} for k in created]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"published {row['alg']} key {row['kid']}; signs from {row['active_from']}")


@keys.command("purge")
def purge() -> None:
    """Delete keys whose grace period is over (no longer published)."""
    bind_operator()
    click.echo(f"deleted {signing_keys.purge_expired()} expired key(s)")
