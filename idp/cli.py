"""The ``idp`` operator command: ``idp serve``, ``idp demo``, ``idp db upgrade``,
``idp citizens import``, ``idp clients ...``, ``idp keys rotate``, ``idp licences ...``,
``idp audit ...``, ``idp staff ...``.

``serve`` belongs to the group itself: it decides how many processes to run before any app
(and any store) exists. Every other command runs inside an app built by ``create_app``
from the same configuration layers as the server (``db`` comes from Flask-Migrate).
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup
from flask.cli import NoAppException

from .commands.serve import serve


def register_cli(app: Flask) -> None:
    from .commands.aaguids import aaguids
    from .commands.audit import audit
    from .commands.backchannel import backchannel
    from .commands.citizens import citizens
    from .commands.clients import clients
    from .commands.consents import consents
    from .commands.demo import demo
    from .commands.keys import keys
    from .commands.kiosks import kiosks
    from .commands.licences import licences
    from .commands.staff import staff

    app.cli.add_command(citizens)
    app.cli.add_command(clients)
    app.cli.add_command(keys)
    app.cli.add_command(demo)
    app.cli.add_command(licences)
    app.cli.add_command(consents)
    app.cli.add_command(backchannel)
    app.cli.add_command(audit)
    app.cli.add_command(kiosks)
    app.cli.add_command(staff)
    app.cli.add_command(aaguids)


def _create_app() -> Flask:
    from . import create_app
    from .errors import ConfigurationError
    from .store.memory_store import SingleProcessViolation

    try:
        # Operator commands serve no sessions, so they may run beside `idp serve` on the
        # embedded default without taking its single-process lock.
        return create_app({"IDP_EMBEDDED_STORE_LOCK": False})
    except (ConfigurationError, SingleProcessViolation) as exc:
        # One line instead of a traceback: the operator has a configuration to fix, or an
        # `idp serve` on the embedded default already holds this instance.
        raise NoAppException(str(exc)) from None


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False)
def main() -> None:
    """Operate the identity provider."""


main.add_command(serve)
