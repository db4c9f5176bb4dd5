"""/healthz: is the database reachable, is the ephemeral store reachable."""

from __future__ import annotations

import logging

from flask import Blueprint
from flask import jsonify
from sqlalchemy import text

from ..extensions import db
from ..store import current_store

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    checks = {"database": "ok", "ephemeral_store": "ok"}
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means unhealthy
        log.exception("health check: database unreachable")
        checks["database"] = "unavailable"
        db.session.rollback()
    try:
        current_store().ping()
    except Exception:  # noqa: BLE001
        log.exception("health check: ephemeral store unreachable")
        checks["ephemeral_store"] = "unavailable"
    healthy = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if healthy else "unavailable", checks=checks), (
        200 if healthy else 503
    )
