"""The resource-server helper: ``@require_token(scope=, acr=, max_age=)`` answers RFC 6750
errors and RFC 9470's ``insufficient_user_authentication`` challenge, in-process (the
provider's own database and keys) and as a separate process (JWKS + introspection over
HTTP against a live provider)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask import jsonify
from oidc_helpers import basic
from oidc_helpers import bearer
from oidc_helpers import decode_id_token
from oidc_helpers import grant_consent
from oidc_helpers import sign_in
from werkzeug.serving import make_server

from idp.authn.result import Acr
from idp.extensions import db
from idp.resource import RemoteVerifier
from idp.resource import current_token
from idp.resource import init_resource_server
from idp.resource import require_token

SUBSTANTIAL = "urn:idp:acr:substantial"


def _routes(app: Flask) -> None:
    """The same protected views on the provider and on a separate resource server."""

    @app.get("/api/profile")
    @require_token(scope="profile")
    def profile() -> Any:
        token = current_token()
        return jsonify(
            sub=token.sub,
            client_id=token.client_id,
            acr=token.acr,
            auth_time=token.auth_time,
            format=token.format,
        )

    @app.get("/api/pension")
    @require_token(scope="profile", acr=Acr.SUBSTANTIAL)
    def pension() -> Any:
        return jsonify(ok=True)

    @app.get("/api/transfer")
    @require_token(acr=Acr.HIGH, max_age=300)
    def transfer() -> Any:
        return jsonify(ok=True)

    @app.get("/api/recent")
    @require_token(max_age=300)
    def recent() -> Any:
        return jsonify(ok=True)

    @app.get("/api/tax")
    @require_token(scope="tax")
    def tax() -> Any:
        return jsonify(ok=True)


@pytest.fixture
def api(app: Any) -> Any:
    _routes(app)
    return app


@pytest.fixture(params=["opaque", "jwt"])
def token_format(request: pytest.FixtureRequest, rp: Any) -> str:
    rp.client.access_token_format = request.param
    db.session.commit()
    return str(request.param)


def _token(http: Any, citizen: Any, rp: Any, login: Any, **session: Any) -> dict[str, Any]:
    grant_consent(citizen, rp)
    login(**session)
    return sign_in(http, rp, scope="openid profile offline_access")


# --- RFC 6750 ------------------------------------------------------------------------------------


def test_no_token_gets_a_bare_challenge(http: Any, api: Any) -> None:
    response = http.get("/api/profile")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    response = http.get("/api/profile", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_malformed_header_is_invalid_request(http: Any, api: Any) -> None:
    response = http.get("/api/profile", headers={"Authorization": "Bearer a b"})
    assert response.status_code == 400
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_request"')


@pytest.mark.parametrize("token", ["nothing", "eyJhbGciOiJub25lIn0.e30.", "x" * 5000])
def test_an_unknown_token_is_invalid_token(http: Any, api: Any, token: str) -> None:
    response = http.get("/api/profile", headers=bearer(token))
    assert response.status_code in (400, 401)
    assert "invalid_" in response.headers["WWW-Authenticate"]


def test_a_valid_token_reaches_the_view(
    http: Any, api: Any, citizen: Any, rp: Any, login: Any, token_format: str
) -> None:
    tokens = _token(http, citizen, rp, login)
    response = http.get("/api/profile", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200
    body = response.get_json()
    _, id_claims = decode_id_token(http, tokens["id_token"], client_id=rp.client_id)
    assert body["sub"] == id_claims["sub"]
    assert body["client_id"] == rp.client_id
    assert body["acr"] == "urn:idp:acr:low"
    assert body["auth_time"] == id_claims["auth_time"]
    assert body["format"] == token_format


def test_a_missing_scope_is_insufficient_scope(
    http: Any, api: Any, citizen: Any, rp: Any, login: Any, token_format: str
) -> None:
    tokens = _token(http, citizen, rp, login)
    response = http.get("/api/tax", headers=bearer(tokens["access_token"]))
    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_scope", error_description="The access token does not '
        'grant the scope this resource needs.", scope="tax"'
    )


def test_a_revoked_token_is_invalid_token(
    http: Any, api: Any, citizen: Any, rp: Any, login: Any, token_format: str
) -> None:
    tokens = _token(http, citizen, rp, login)
    http.post(
        "/revoke", data={"token": tokens["access_token"]}, headers=basic(rp.client_id, rp.secret)
    )
    response = http.get("/api/profile", headers=bearer(tokens["access_token"]))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_a_refresh_token_is_no_bearer_token(
    http: Any, api: Any, citizen: Any, rp: Any, login: Any
) -> None:
    tokens = _token(http, citizen, rp, login)
    response = http.get("/api/profile", headers=bearer(tokens["refresh_token"]))
    assert response.status_code == 401


def test_a_locked_citizen_ends_the_token(
    http: Any, api: Any, citizen: Any, rp: Any, login: Any, token_format: str
) -> None:
    from idp.models._types import utcnow

    tokens = _token(http, citizen, rp, login)
    citizen.locked_at = utcnow()
    db.session.commit()
    assert http.get("/api/profile", headers=bearer(tokens["access_token"])).status_code == 401


# --- RFC 9470 --------------------------------------------------------------------------------


def test_acr_too_low_gets_the_step_up_challenge(
    http: Any, api: Any, citizen: Any, rp: Any, login: Any, token_format: str
) -> None:
    tokens = _token(http, citizen, rp, login)  # password only: low
    response = http.get("/api/pension", headers=bearer(tokens["access_token"]))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_user_authentication", '
        'error_description="A different authentication level is required", '
        f'acr_values="{SUBSTANTIAL}"'
    )
    assert response.get_json()["error"] == "insufficient_user_authentication"


def test_a_high_enough_level_passes(
    http: Any, api: Any, citizen: Any, rp: Any, login: Any, token_format: str
) -> None:
    tokens = _token(http, citizen, rp, login, amr=("pwd", "otp"))
    assert http.get("/api/pension", headers=bearer(tokens["access_token"])).status_code == 200


def test_an_old_sign_in_gets_the_max_age_challenge(
    http: Any, api: Any, citizen: Any, rp: Any, login: Any, token_format: str
) -> None:
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    tokens = _token(http, citizen, rp, login, auth_time=an_hour_ago)
    response = http.get("/api/recent", headers=bearer(tokens["access_token"]))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_user_authentication", '
        'error_description="More recent authentication is required", max_age="300"'
    )


def test_both_requirements_are_named_together(
    http: Any, api: Any, citizen: Any, rp: Any, login: Any
) -> None:
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    tokens = _token(http, citizen, rp, login, amr=("pwd", "otp"), auth_time=an_hour_ago)
    response = http.get("/api/transfer", headers=bearer(tokens["access_token"]))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_user_authentication", '
        'error_description="A different authentication level is required", '
        'acr_values="urn:idp:acr:high", max_age="300"'
    )


def test_a_recent_sign_in_passes_max_age(
    http: Any, api: Any, citizen: Any, rp: Any, login: Any
) -> None:
    tokens = _token(http, citizen, rp, login)
    assert http.get("/api/recent", headers=bearer(tokens["access_token"])).status_code == 200


# --- a separate resource server ------------------------------------------------------------


@pytest.fixture
def live_provider(app: Any) -> Iterator[str]:
    """The provider answering HTTP on 127.0.0.1 in a thread (JWKS, introspection)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def resource_server(live_provider: str, rp: Any) -> Flask:
    """Another Flask application: knows only URLs and the portal's credentials."""
    rs = Flask("pension_api")
    rs.config.update(
        IDP_RESOURCE_ISSUER="http://localhost",
        IDP_RESOURCE_INTROSPECTION_URL=f"{live_provider}/introspect",
        IDP_RESOURCE_JWKS_URL=f"{live_provider}/jwks.json",
        IDP_RESOURCE_CLIENT_ID=rp.client_id,
        IDP_RESOURCE_CLIENT_SECRET=rp.secret,
        IDP_RESOURCE_TIMEOUT=5,
    )
    _routes(rs)
    verifier = init_resource_server(rs)
    assert isinstance(verifier, RemoteVerifier)
    return rs


def test_a_separate_resource_server_accepts_and_challenges(
    http: Any, resource_server: Flask, citizen: Any, rp: Any, login: Any, token_format: str
) -> None:
    tokens = _token(http, citizen, rp, login)
    remote = resource_server.test_client()
    ok = remote.get("/api/profile", headers=bearer(tokens["access_token"]))
    assert ok.status_code == 200, ok.get_data(as_text=True)
    _, id_claims = decode_id_token(http, tokens["id_token"], client_id=rp.client_id)
    assert ok.get_json()["sub"] == id_claims["sub"]
    assert ok.get_json()["format"] == token_format
    step_up = remote.get("/api/pension", headers=bearer(tokens["access_token"]))
    assert step_up.status_code == 401
    assert step_up.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_user_authentication", '
        'error_description="A different authentication level is required", '
        f'acr_values="{SUBSTANTIAL}"'
    )
    # Revoked at the provider: refused by the resource server at once, JWT or not.
    http.post(
        "/revoke", data={"token": tokens["access_token"]}, headers=basic(rp.client_id, rp.secret)
    )
    gone = remote.get("/api/profile", headers=bearer(tokens["access_token"]))
    assert gone.status_code == 401
    assert gone.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_another_portals_token_is_refused_by_a_resource_server(
    http: Any, resource_server: Flask, citizen: Any, login: Any
) -> None:
    from oidc_helpers import register

    other = register(name="Other", redirect_uris=["https://other.example.gov/cb"])
    other.client.access_token_format = "jwt"
    db.session.commit()
    tokens = _token(http, citizen, other, login)
    response = resource_server.test_client().get(
        "/api/profile", headers=bearer(tokens["access_token"])
    )
    assert response.status_code == 401  # aud is the other portal's client_id


def test_an_unreachable_provider_is_a_503_never_a_500(rp: Any) -> None:
    rs = Flask("offline_api")
    rs.config.update(
        IDP_RESOURCE_ISSUER="http://localhost",
        IDP_RESOURCE_INTROSPECTION_URL="http://127.0.0.1:9/introspect",
        IDP_RESOURCE_CLIENT_ID="c",
        IDP_RESOURCE_CLIENT_SECRET="s",
        IDP_RESOURCE_TIMEOUT=1,
    )
    _routes(rs)
    client = rs.test_client()
    for token in ("opaque-token", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"):
        response = client.get("/api/profile", headers=bearer(token))
        assert response.status_code == 503
        assert response.get_json()["error"] == "temporarily_unavailable"


def test_remote_mode_needs_its_credentials() -> None:
    rs = Flask("misconfigured")
    rs.config.update(IDP_RESOURCE_INTROSPECTION_URL="https://id.example.gov/introspect")
    with pytest.raises(ValueError, match="IDP_RESOURCE_CLIENT_ID"):
        init_resource_server(rs)
