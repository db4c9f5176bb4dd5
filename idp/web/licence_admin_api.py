"""The departments' licence API: load licences, suspend, reinstate or revoke one.

Authenticated with a client credentials access token (RFC 6749 section 4.4) carrying
the ``licences:load`` scope (``idp.oauth.service_scopes``), sent as RFC 6750 says. The
token must be the client's own (no citizen behind it), and the client must belong to a
department (``oauth_client.department``): it loads and changes only the licences of
that department.

``POST /admin/api/licences`` with ``{"licences": [<licence>, ...]}`` (at most
``IDP_LICENCES_MAX_BATCH``; members as in ``idp.licences.loading``; ``department`` may
be left out). All or nothing: 200 ``{"inserted", "updated", "unchanged"}``, or 400
``invalid_request`` with ``rows``: ``[{"row", "field", "rule", "id_number"}]`` (row from
1, the ID number redacted) and nothing written.

``POST /admin/api/licences/status`` with ``{"type", "number", "status", "reason"}``
(status ``valid``, ``suspended`` or ``revoked``): 200 with the licence's type, number
and status; 404 ``not_found`` for an unknown licence or another department's; 400
``invalid_request`` for a status change that is not allowed. Licence numbers travel in
the body, never in the URL (a driving licence number is the holder's ID number).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint
from flask import current_app
from flask import jsonify
from flask import request

from ..errors import InvalidInput
from ..extensions import csrf
from ..licences import store
from ..licences.loading import LoadFileError
from ..licences.loading import load
from ..oauth.clients import query_client
from ..resource import bearer_error
from ..resource import current_token
from ..resource import require_token

log = logging.getLogger(__name__)
bp = Blueprint("licence_admin_api", __name__, url_prefix="/admin/api/licences")
csrf.exempt(bp)

SCOPE = "licences:load"


def _json(http_status: int, **body: Any) -> Any:
    response = jsonify(body)
    response.status_code = http_status
    response.headers["Cache-Control"] = "no-store"
    return response


def _department() -> str | Any:
    """The calling department, or an error response."""
    info = current_token()
    if not info.client_only:
        # RFC 6750 3.1: the token lacks what the resource needs (a client's own token).
        return bearer_error(
            403, "insufficient_scope", "A department's client token is required.", scope=SCOPE
        )
    client = query_client(info.client_id)
    department = client.model.department if client is not None else None
    if not department:
        return _json(
            403, error="access_denied", error_description="The client belongs to no department."
        )
    return str(department)


def _body() -> dict[str, Any] | None:
    body = request.get_json(silent=True) if request.is_json else None
    return body if isinstance(body, dict) else None


@bp.post("")
@require_token(scope=SCOPE)
def load_licences() -> Any:
    department = _department()
    if not isinstance(department, str):
        return department
    body = _body()
    batch = body.get("licences") if body is not None else None
    if not isinstance(batch, list) or not batch:
        return _json(
            400,
            error="invalid_request",
            error_description='The body must be JSON: {"licences": [...]}, 1 licence or more.',
        )
    limit = int(current_app.config["IDP_LICENCES_MAX_BATCH"])
    if len(batch) > limit:
        return _json(
            400,
            error="invalid_request",
            error_description=f"At most {limit} licences per request.",
        )
    try:
        report = load(enumerate(batch, start=1), department=department)
    except LoadFileError as exc:
        return _json(409, error="conflict", error_description=exc.public)
    if report.rejected:
        return _json(
            400,
            error="invalid_request",
            error_description=f"{report.rejected} licence(s) rejected; nothing was written.",
            rows=[
                {"row": e.line, "field": e.field, "rule": e.rule, "id_number": e.id_number}
                for e in report.errors
            ],
        )
    # Counts only: licence numbers and holders never reach a log.
    log.info(
        "client %s loaded licences: %d inserted, %d updated, %d unchanged",
        current_token().client_id,
        report.inserted,
        report.updated,
        report.unchanged,
    )
    return _json(200, inserted=report.inserted, updated=report.updated, unchanged=report.unchanged)


@bp.post("/status")
@require_token(scope=SCOPE)
def set_status() -> Any:
    department = _department()
    if not isinstance(department, str):
        return department
    body = _body()
    if body is None:
        return _json(
            400,
            error="invalid_request",
            error_description='The body must be JSON: {"type", "number", "status", "reason"}.',
        )
    values = {k: body.get(k) for k in ("type", "number", "status")}
    if not all(isinstance(v, str) for v in values.values()):
        return _json(
            400, error="invalid_request", error_description="type, number and status are required."
        )
    try:
        licence = store.set_status(
            type=str(values["type"]),
            number=str(values["number"]),
            status=str(values["status"]),
            reason=body.get("reason"),
            department=department,
        )
    except store.LicenceNotFound as exc:
        return _json(404, error="not_found", error_description=exc.public)
    except InvalidInput as exc:
        return _json(400, error="invalid_request", error_description=exc.public)
    log.info(
        "client %s set a %s licence (id %s) to %s",
        current_token().client_id,
        licence.type,
        licence.id,
        licence.status,
    )
    view = store.view(licence)
    return _json(200, type=view.type, number=view.number, status=view.status)
