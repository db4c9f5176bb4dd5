"""Token introspection, RFC 7662: clients introspect only their own tokens."""

from __future__ import annotations

import time

import pytest
from oidc_helpers import ISSUER
from oidc_helpers import basic
from oidc_helpers import decode_id_token
from oidc_helpers import grant_consent
from oidc_helpers import refresh
from oidc_helpers import register
from oidc_helpers import sign_in


@pytest.fixture
def tokens(http, citizen, rp, login):
    grant_consent(citizen, rp)
    login(amr=("pwd", "otp"))
    return sign_in(http, rp, scope="openid profile offline_access")


def introspect(http, rp, token, hint=None, secret=None):
    data = {"token": token}
    if hint:
        data["token_type_hint"] = hint
    return http.post("/introspect", data=data, headers=basic(rp.client_id, secret or rp.secret))


def test_active_access_token(http, rp, tokens):
    response = introspect(http, rp, tokens["access_token"])
    assert response.status_code == 200
    body = response.get_json()
    _, id_claims = decode_id_token(http, tokens["id_token"], client_id=rp.client_id)
    assert body["active"] is True
    assert body["scope"] == "openid profile offline_access"
    assert body["client_id"] == rp.client_id
    assert body["sub"] == id_claims["sub"]  # pairwise, as the client knows it
    assert body["token_type"] == "Bearer"
    assert body["acr"] == "urn:idp:acr:substantial"
    assert body["auth_time"] == id_claims["auth_time"]
    assert body["iss"] == ISSUER
    assert 590 <= body["exp"] - int(time.time()) <= 600
    assert body["iat"] <= int(time.time())


def test_active_refresh_token(http, rp, tokens):
    body = introspect(http, rp, tokens["refresh_token"], "refresh_token").get_json()
    assert body["active"] is True
    assert body["token_type"] == "refresh_token"
    assert body["exp"] - int(time.time()) > 29 * 24 * 3600


def test_rotated_refresh_token_is_inactive(http, rp, tokens):
    refresh(http, rp, tokens["refresh_token"])
    assert introspect(http, rp, tokens["refresh_token"]).get_json() == {"active": False}


def test_revoked_token_is_inactive(http, rp, tokens):
    http.post(
        "/revoke", data={"token": tokens["access_token"]}, headers=basic(rp.client_id, rp.secret)
    )
    assert introspect(http, rp, tokens["access_token"]).get_json() == {"active": False}


def test_unknown_token_is_inactive(http, rp, tokens):
    assert introspect(http, rp, "nothing").get_json() == {"active": False}


def test_another_clients_token_is_inactive(http, rp, tokens):
    other = register(name="Other", redirect_uris=["https://other.example.gov/cb"])
    assert introspect(http, other, tokens["access_token"]).get_json() == {"active": False}


def test_introspection_requires_client_authentication(http, rp, tokens):
    response = introspect(http, rp, tokens["access_token"], secret="wrong")
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    assert "WWW-Authenticate" in response.headers


def test_public_clients_cannot_introspect(http, rp, tokens):
    native = register(name="App", redirect_uris=["http://localhost:7000/cb"], auth_method="none")
    response = http.post(
        "/introspect", data={"token": tokens["access_token"], "client_id": native.client_id}
    )
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_missing_token_is_invalid_request(http, rp, tokens):
    response = http.post("/introspect", data={}, headers=basic(rp.client_id, rp.secret))
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_tokens_of_a_disabled_client_are_inactive(http, rp, tokens):
    from idp.oauth.clients import disable_client

    disable_client(rp.client_id)
    response = introspect(http, rp, tokens["access_token"])
    assert response.status_code == 401  # the disabled client cannot authenticate either


def test_tokens_of_a_locked_citizen_are_inactive_and_active_again_after_unlock(
    http, rp, tokens, citizen
):
    from datetime import UTC
    from datetime import datetime

    from idp.extensions import db

    citizen.locked_at = datetime.now(UTC)
    db.session.commit()
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert introspect(http, rp, token).get_json() == {"active": False}
    citizen.locked_at = None
    db.session.commit()
    assert introspect(http, rp, tokens["access_token"]).get_json()["active"] is True


def test_tokens_of_a_citizen_no_longer_on_record_are_inactive(http, rp, tokens, citizen):
    from sqlalchemy import text

    from idp.extensions import db

    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs the token rows to outlive the citizen row (PostgreSQL replica role)")
    # The token rows outlive the citizen row (foreign-key actions off for this delete):
    # the standing read with the token finds nobody, and the token is refused.
    with db.engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("DELETE FROM citizen WHERE id = :id"), {"id": citizen.id})
        left = conn.execute(
            text("SELECT count(*) FROM oauth_token WHERE citizen_id = :id"), {"id": citizen.id}
        ).scalar()
    assert left
    db.session.expire_all()
    assert introspect(http, rp, tokens["access_token"]).get_json() == {"active": False}
