"""Channel adapters, one module per channel. ``register_adapters`` is called only by create_app."""

from __future__ import annotations

from flask import Flask

from . import hall
from . import hotline
from . import kiosk
from . import mobile
from . import website

ADAPTERS = [website, mobile, kiosk, hotline, hall]


def register_adapters(app: Flask) -> None:
    for adapter in ADAPTERS:
        app.register_blueprint(adapter.bp)
