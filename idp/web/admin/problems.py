"""RFC 9457 problem details for the admin API (``application/problem+json``).

Each problem ``type`` is a URN naming the problem; ``title`` is the same for every
occurrence of that type; ``detail`` says what went wrong this time; ``field`` (an
extension member, RFC 9457 section 3.2) names the offending input.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask import json

MEDIA_TYPE = "application/problem+json"

TITLES = {
    "invalid-input": "The request is invalid",
    "unauthenticated": "A valid admin API token is required",
    "forbidden": "Your role does not allow this",
    "fresh-verification-required": "A recent security-key verification is required",
    "not-found": "Not found",
    "method-not-allowed": "Method not allowed",
    "too-large": "The request body is too large",
    # The change was rolled back with its audit record (idp.admin.events.AuditUnavailable).
    "audit-unavailable": "Nothing was saved: the audit trail could not be written",
}
STATUS = {
    "invalid-input": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "fresh-verification-required": 403,
    "not-found": 404,
    "method-not-allowed": 405,
    "too-large": 413,
    "audit-unavailable": 503,
}


def type_uri(kind: str) -> str:
    return f"urn:idp:admin:problem:{kind}"


def problem(
    kind: str, detail: str = "", *, headers: dict[str, str] | None = None, **extra: Any
) -> Response:
    body: dict[str, Any] = {
        "type": type_uri(kind),
        "title": TITLES[kind],
        "status": STATUS[kind],
    }
    if detail:
        body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v is not None})
    response = Response(json.dumps(body), status=STATUS[kind], mimetype=MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
