"""Placeholder: being written (issue 2)."""

from flask import Blueprint

from idp.authn.result import Channel

NAME = Channel.WEBSITE
bp = Blueprint("website", __name__)
