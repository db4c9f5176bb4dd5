"""Placeholder: being written (issue 2)."""

from flask import Blueprint

bp = Blueprint("interaction", __name__)
