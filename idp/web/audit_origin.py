"""Binds the audit origin of every request (client address, channel) and registers
the checkpoint signer: the web layer is the one that knows both (idp.audit.context)."""

from __future__ import annotations

from flask import Flask
from flask import request

from ..audit import Origin
from ..audit import bind
from ..audit.checkpoints import EXTENSION
from ..authn.result import Channel
from ..oauth.audit_signer import KeyCheckpointSigner
from .browser import client_ip

_CHANNELS = {c.value for c in Channel}


def _bind_origin() -> None:
    # A channel adapter's blueprint is named after its channel (adapters.base).
    blueprint = request.blueprint or ""
    bind(Origin(ip=client_ip(), channel=blueprint if blueprint in _CHANNELS else None))


def _unbind_origin(_exc: BaseException | None) -> None:
    bind(Origin())  # a worker thread's next job starts with no origin


def init_audit(app: Flask) -> None:
    app.extensions[EXTENSION] = KeyCheckpointSigner()
    app.before_request(_bind_origin)
    app.teardown_request(_unbind_origin)
