"""The ``idp`` operator command: ``idp serve``, ``idp demo``, ``idp db upgrade``,
``idp citizens import``, ``idp clients ...``, ``idp keys rotate``."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup


def register_cli(app: Flask) -> None:
    from .commands.citizens import citizens
    from .commands.clients import clients
    from .commands.keys import keys

    app.cli.add_command(citizens)
    app.cli.add_command(clients)
    app.cli.add_command(keys)


def _create_app() -> Flask:
    from . import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False)
def main() -> None:
    """Operate the identity provider."""
