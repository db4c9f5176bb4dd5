"""Placeholder: being written (issue 2)."""

from flask import Blueprint

bp = Blueprint("oauth", __name__)
