"""Map errors to responses: never a stack trace, never an ID number in the output."""

from __future__ import annotations

import logging

from flask import Flask
from flask import jsonify
from flask import render_template
from flask import request
from werkzeug.exceptions import HTTPException

from ..errors import IdpError

log = logging.getLogger(__name__)

# Endpoints called by portals' code, not by browsers: errors there are always JSON.
_API_PATHS = (
    "/api/",
    "/admin/api/",
    "/token",
    "/userinfo",
    "/revoke",
    "/introspect",
    "/jwks.json",
    "/.well-known/",
    "/device_authorization",
    "/kiosk/event",
)


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" or request.path.startswith(_API_PATHS)


def register(app: Flask) -> None:
    @app.errorhandler(IdpError)
    def domain_error(exc: IdpError):  # type: ignore[no-untyped-def]
        log.info("domain error %s: %s", type(exc).__name__, exc.detail)
        if _wants_json():
            return jsonify(error="invalid_request", error_description=exc.public), 400
        return render_template("error.html", message=exc.public, status=400), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        status = exc.code or 500
        if _wants_json():
            return jsonify(error="invalid_request", error_description=exc.name), status
        return render_template("error.html", message=exc.name, status=status), status

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _wants_json():
            return jsonify(error="server_error", error_description="Internal error"), 500
        return render_template("error.html", message="Internal error", status=500), 500
