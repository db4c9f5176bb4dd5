"""``GET /api/licences``: a citizen's electronic licences for a portal, each signed.

Protected as RFC 6750 says (``idp.resource.require_token``): the portal sends the
citizen's access token in the ``Authorization: Bearer`` header. Only the licence types
the token's scopes cover are returned (``licence`` = every type, ``licence:<type>``
one), and only while the consent behind them stands: a withdrawn consent revokes the
portal's tokens (``invalid_token``), and a consent that has expired or no longer covers
a scope releases nothing under it.

``?type=<type>`` narrows the answer to one type. Answers:

- 200 ``{"sub": ..., "licences": [{"type": ..., "jws": "<licence+jwt>"}, ...]}``;
- 400 ``invalid_request``: an unknown ``type`` or another query parameter;
- 401 ``invalid_token``: no valid token, or no standing consent behind it;
- 403 ``insufficient_scope`` with ``scope="..."``: no licence scope, or not the one
  for the ``type`` asked.

Every 200 answer is a data release (``idp.consent.releases``, ``data_api``), even an
empty one: it tells the portal that the citizen holds no such licence.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import jsonify
from flask import request

from ..consent import releases
from ..consent import service as consent_service
from ..consent.categories import is_sensitive
from ..extensions import csrf
from ..extensions import db
from ..licences import store
from ..licences.types import LICENCE_TYPES
from ..licences.types import SCOPE_ALL
from ..licences.types import scopes_covering
from ..licences.types import types_for_scopes
from ..models import Citizen
from ..oauth import licence_jws
from ..oauth.clients import query_client
from ..resource import bearer_error
from ..resource import current_token
from ..resource import require_token

bp = Blueprint("licence_data_api", __name__)
csrf.exempt(bp)

INVALID = "The access token is invalid, expired or revoked."
NO_CONSENT = "The consent behind the access token has ended."


def _error(description: str) -> Any:
    response = jsonify(error="invalid_request", error_description=description)
    response.status_code = 400
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/api/licences")
@require_token()
def licences() -> Any:
    info = current_token()
    unknown = [name for name in request.args if name != "type"]
    if unknown or len(request.args.getlist("type")) > 1:
        return _error("Only one 'type' parameter is accepted.")
    wanted = request.args.get("type")
    if wanted is not None and wanted not in LICENCE_TYPES:
        return _error("Unknown licence type.")
    covered = types_for_scopes(info.scopes)
    if not covered:
        return bearer_error(
            403, "insufficient_scope", "The access token grants no licence.", scope=SCOPE_ALL
        )
    if wanted is not None and wanted not in covered:
        return bearer_error(
            403,
            "insufficient_scope",
            "The access token does not grant this licence type.",
            scope=scopes_covering(wanted)[0],
        )
    citizen = db.session.get(Citizen, info.citizen_id) if info.citizen_id else None
    client = query_client(info.client_id)
    if citizen is None or client is None:
        return bearer_error(401, "invalid_token", INVALID)
    # The token was issued under a consent; it releases only what that consent (or a
    # first-party portal's administrative consent, never for sensitive scopes) still
    # covers now. A withdrawn consent already revoked the token (require_token refused it).
    consent = consent_service.find_active(citizen_id=citizen.id, client_id=client.client_id)
    agreed = set(consent.scopes or []) if consent is not None else set()
    standing = {
        s for s in info.scopes if s in agreed or (client.first_party and not is_sensitive(s))
    }
    types = [t for t in types_for_scopes(standing) if wanted is None or t == wanted]
    if not types:
        return bearer_error(401, "invalid_token", NO_CONSENT)
    found = store.for_citizen(citizen, types)
    signed = [
        {
            "type": licence.type,
            "jws": licence_jws.sign(client=client, subject=info.sub, licence=store.view(licence)),
        }
        for licence in found
    ]
    releases.record(
        citizen_id=citizen.id,
        client_id=client.client_id,
        consent_id=consent.id if consent is not None else None,
        categories=[s for s in sorted(standing) if set(types_for_scopes({s})) & set(types)],
        items=[licence.type for licence in found],
        via=releases.Via.DATA_API,
    )
    response = jsonify(sub=info.sub, licences=signed)
    response.headers["Cache-Control"] = "no-store"
    return response
