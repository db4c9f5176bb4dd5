"""`idp keys ...` (placeholder, being written for issue 2)."""

import click
from flask.cli import AppGroup

keys = AppGroup("keys", help="Manage keys.")
