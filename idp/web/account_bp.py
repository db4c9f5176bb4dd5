"""Placeholder: being written (issue 2)."""

from flask import Blueprint

bp = Blueprint("account", __name__)
