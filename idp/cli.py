"""The ``idp`` operator command. Placeholder group: commands are being written (issue 2)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup


def register_cli(app: Flask) -> None:
    pass


def _create_app() -> Flask:
    from . import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False)
def main() -> None:
    """Operate the identity provider."""
