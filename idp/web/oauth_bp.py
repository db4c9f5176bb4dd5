"""HTTP binding of the provider's endpoints: thin calls into ``idp.oauth``.

Each view turns the Flask request into a ``ProtocolRequest`` (the query string for GET,
the form body for POST; never both), calls the protocol layer, and turns the result
into a response. Client-authenticated API endpoints, the authorization endpoint (RPs
POST to it cross-site by design) and the logout endpoint (its confirmation form checks
the CSRF token itself) are exempt from the global CSRF check.
"""

from __future__ import annotations

import logging
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error
from flask import Blueprint
from flask import Response
from flask import current_app
from flask import json
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask.blueprints import BlueprintSetupState
from flask_wtf.csrf import CSRFError
from flask_wtf.csrf import validate_csrf
from wtforms import ValidationError

from ..authn.service import current_session
from ..extensions import csrf
from ..oauth import authorize as authorize_flow
from ..oauth import discovery
from ..oauth import generations
from ..oauth import keys
from ..oauth import logout as logout_flow
from ..oauth.requests import ProtocolRequest
from ..oauth.requests import ProtocolResponse
from ..oauth.requests import multi_params
from ..oauth.server import build_server
from ..oauth.server import current_server
from . import logout_frames
from .browser import browser_id
from .browser import clear_sso_cookie
from .browser import sso_cookie
from .i18n import from_ui_locales
from .i18n import page_locale

bp = Blueprint("oauth", __name__)
log = logging.getLogger(__name__)

# Portals may cache the discovery document and the JWKS this long; keep it well below
# the key propagation delay (idp.oauth.keys).
METADATA_MAX_AGE = 300
DISCOVERY_KEY = "idp.discovery_json"


@bp.record_once
def _build(state: BlueprintSetupState) -> None:
    build_server(state.app)  # type: ignore[arg-type]
    # One store read per request for the client and key generations (idp.oauth.generations).
    state.app.before_request(generations.begin_request)
    state.app.teardown_request(generations.end_request)


# -- conversions -----------------------------------------------------------------------


def protocol_request(path: str) -> ProtocolRequest:
    source = request.form if request.method == "POST" else request.args
    issuer = str(current_app.config["IDP_ISSUER"]).rstrip("/")
    return ProtocolRequest(
        method=request.method,
        uri=issuer + path,
        params=multi_params(source.items(multi=True)),
        headers={k: v for k, v in request.headers.items()},
        cookies=request.cookies,
    )


def to_flask(response: ProtocolResponse) -> Response:
    body = response.body
    if isinstance(body, dict | list):
        body = json.dumps(body)
    return Response(body or "", status=response.status, headers=response.headers)


def error_page(error: str, description: str, status: int = 400) -> tuple[str, int]:
    return render_template(
        "oauth_error.html", error=error, description=description, status=status
    ), status


def outcome_response(outcome: authorize_flow.Outcome) -> Any:
    """Render anything the authorization flow returns."""
    if isinstance(outcome, ProtocolResponse):
        return to_flask(outcome)
    if isinstance(outcome, authorize_flow.ErrorPage):
        return error_page(outcome.error, outcome.description, outcome.status)
    if isinstance(outcome, authorize_flow.GoToInteraction):
        return redirect(url_for("interaction.show", uid=outcome.uid), 303)
    if isinstance(outcome, authorize_flow.GoTo):
        return redirect(outcome.location, 303)
    if isinstance(outcome, authorize_flow.ShowConsent):
        return render_template(
            "consent.html",
            interaction=outcome.interaction,
            client=outcome.client.model,
            scopes=outcome.scopes,
            items=outcome.items,
            locale=str(page_locale()),
        )
    raise TypeError(f"unexpected outcome {outcome!r}")


def remember_ui_locales(value: str | None) -> None:
    """OIDC Core 3.1.2.1 ui_locales: the pages of this sign-in use the first we offer."""
    locale = from_ui_locales(value)
    if locale and locale in current_app.config["IDP_LOCALES"]:
        session["locale"] = locale


# -- discovery and keys ----------------------------------------------------------------


# Both documents are serialised once (per configuration, per key change), not per request.
# idp.web.metadata_wsgi answers them in front of Flask with these same bytes and headers.
@bp.get(discovery.WELL_KNOWN)
def openid_configuration() -> Response:
    body = current_app.extensions.get(DISCOVERY_KEY)
    if body is None:  # the configuration does not change while the app runs
        body = current_app.extensions[DISCOVERY_KEY] = discovery.metadata_json(current_app.config)
    response = Response(body, mimetype="application/json")
    response.headers["Cache-Control"] = f"public, max-age={METADATA_MAX_AGE}"
    return response


@bp.get(discovery.PATHS["jwks_uri"])
def jwks() -> Response:
    response = Response(keys.current_jwks_json(), mimetype="application/json")
    response.headers["Cache-Control"] = f"public, max-age={METADATA_MAX_AGE}"
    return response


# -- authorization ---------------------------------------------------------------------


@bp.route(discovery.PATHS["authorization_endpoint"], methods=["GET", "POST"])
def authorize() -> Any:
    preq = protocol_request(discovery.PATHS["authorization_endpoint"])
    remember_ui_locales(preq.payload.data.get("ui_locales"))
    outcome = authorize_flow.begin(preq, session=current_session(sso_cookie()), browser=browser_id)
    return outcome_response(outcome)


# -- client-authenticated API endpoints ------------------------------------------------


@bp.post(discovery.PATHS["token_endpoint"])
def token() -> Response:
    return to_flask(current_server().create_token_response(protocol_request("/token")))


@bp.route(discovery.PATHS["userinfo_endpoint"], methods=["GET", "POST"])
def userinfo() -> Response:
    preq = protocol_request(discovery.PATHS["userinfo_endpoint"])
    return to_flask(current_server().create_endpoint_response("userinfo", preq))


@bp.post(discovery.PATHS["revocation_endpoint"])
def revoke() -> Response:
    preq = protocol_request(discovery.PATHS["revocation_endpoint"])
    return to_flask(current_server().create_endpoint_response("revocation", preq))


@bp.post(discovery.PATHS["introspection_endpoint"])
def introspect() -> Response:
    preq = protocol_request(discovery.PATHS["introspection_endpoint"])
    return to_flask(current_server().create_endpoint_response("introspection", preq))


# -- RP-initiated logout ---------------------------------------------------------------


@bp.route(discovery.PATHS["end_session_endpoint"], methods=["GET", "POST"])
def logout() -> Any:
    preq = protocol_request(discovery.PATHS["end_session_endpoint"])
    remember_ui_locales(preq.payload.data.get("ui_locales"))
    server = current_server()
    try:
        end_request = server.validate_endpoint_request("end_session", preq)
    except OAuth2Error as error:
        return error_page(str(error.error), str(error.get_error_description() or ""))
    sso = current_session(sso_cookie())
    if logout_flow.needs_confirmation(end_request, sso) and not _confirmed():
        fields = {
            k: v
            for k, v in preq.payload.data.items()
            if k
            in ("id_token_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales")
        }
        client = end_request.client.model if end_request.client is not None else None
        return render_template("logout_confirm.html", fields=fields, client=client)
    # Front-Channel Logout 1.0 section 2: the portals of the session that ends, read
    # before it ends; their frames go on the page, then the post-logout redirect.
    frames = logout_frames.frames_for(sso)
    result = server.create_endpoint_response("end_session", end_request)
    if result is not None:
        response = to_flask(result)
        if frames and response.status_code in (302, 303):
            response = logout_frames.signed_out(
                "logout_done.html", frames, next_url=response.headers["Location"]
            )
    else:
        response = logout_frames.signed_out("logout_done.html", frames)
    return clear_sso_cookie(response)


def _confirmed() -> bool:
    """The citizen pressed "sign out" on our own confirmation page (CSRF-checked)."""
    if request.method != "POST" or request.form.get("confirm") != "yes":
        return False
    try:
        validate_csrf(request.form.get("csrf_token"))
    except (ValidationError, CSRFError):
        return False
    return True


for _view in (authorize, token, userinfo, revoke, introspect, logout):
    csrf.exempt(_view)
