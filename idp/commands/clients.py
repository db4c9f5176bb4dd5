"""`idp clients ...` (placeholder, being written for issue 2)."""

import click
from flask.cli import AppGroup

clients = AppGroup("clients", help="Manage clients.")
