"""`idp citizens ...` (placeholder, being written for issue 2)."""

import click
from flask.cli import AppGroup

citizens = AppGroup("citizens", help="Manage citizens.")
