"""CIBA over HTTP (idp.oauth.ciba): the hotline's client-authenticated API calls.

- ``POST /bc-authorize``: the backchannel authentication endpoint (CIBA Core 7).
- ``POST /bc-authorize/read-back``: the SMS code the citizen read out to the agent.

No CSRF token (a client's API call, authenticated like /token); tokens come from /token.
"""

from __future__ import annotations

from flask import Blueprint
from flask import Response

from ..extensions import csrf
from ..oauth import ciba
from ..oauth.server import current_server
from .oauth_bp import protocol_request
from .oauth_bp import to_flask

bp = Blueprint("ciba", __name__)


@bp.post(ciba.PATH)
@csrf.exempt
def backchannel_authentication() -> Response:
    preq = protocol_request(ciba.PATH)
    return to_flask(current_server().create_endpoint_response("backchannel_authentication", preq))


@bp.post(ciba.READ_BACK_PATH)
@csrf.exempt
def read_back() -> Response:
    preq = protocol_request(ciba.READ_BACK_PATH)
    return to_flask(current_server().create_endpoint_response("ciba_read_back", preq))
