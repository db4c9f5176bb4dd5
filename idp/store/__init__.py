"""Ephemeral state behind one Protocol; see ``base.EphemeralStore``."""

from __future__ import annotations

from flask import current_app

from .base import EphemeralStore


def current_store() -> EphemeralStore:
    store: EphemeralStore = current_app.extensions["idp.store"]
    return store


__all__ = ["EphemeralStore", "current_store"]
