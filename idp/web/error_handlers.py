"""Map errors to responses: never a stack trace, never an ID number in the output."""

from __future__ import annotations

import logging

from flask import Flask
from flask import jsonify
from flask import render_template
from flask import request
from flask_babel import gettext as _
from sqlalchemy.exc import DBAPIError
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

    @app.errorhandler(DBAPIError)
    def database_gone(exc: DBAPIError):  # type: ignore[no-untyped-def]
        """A pooled connection found dead (the database restarted: connections are not
        pinged before each use, see idp.config). SQLAlchemy has already dropped the
        pool; the client may retry at once (RFC 6749 5.2 / 4.1.2.1 name
        ``temporarily_unavailable``, RFC 9110 15.6.4 ``503``)."""
        if not exc.connection_invalidated:
            return unexpected(exc)
        log.warning("database connection lost on %s %s", request.method, request.path)
        headers = {"Retry-After": "1"}
        if _wants_json():
            body = jsonify(
                error="temporarily_unavailable", error_description="Please retry the request."
            )
            return body, 503, headers
        page = render_template("error.html", message=_("Please try again."), status=503)
        return page, 503, headers

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _wants_json():
            return jsonify(error="server_error", error_description="Internal error"), 500
        return render_template("error.html", message="Internal error", status=500), 500
