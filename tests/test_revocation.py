"""Token revocation, RFC 7009."""

from __future__ import annotations

import pytest
from oidc_helpers import basic
from oidc_helpers import bearer
from oidc_helpers import grant_consent
from oidc_helpers import refresh
from oidc_helpers import register
from oidc_helpers import sign_in


@pytest.fixture
def tokens(http, citizen, rp, login):
    grant_consent(citizen, rp)
    login()
    return sign_in(http, rp, scope="openid profile offline_access")


def revoke(http, rp, token, hint=None, auth=None):
    data = {"token": token}
    if hint:
        data["token_type_hint"] = hint
    return http.post("/revoke", data=data, headers=auth or basic(rp.client_id, rp.secret))


def test_revoking_an_access_token_ends_only_it(http, rp, tokens):
    response = revoke(http, rp, tokens["access_token"], "access_token")
    assert response.status_code == 200
    assert http.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 401
    assert refresh(http, rp, tokens["refresh_token"]).status_code == 200


def test_revoking_a_refresh_token_revokes_its_grant(http, rp, tokens):
    assert revoke(http, rp, tokens["refresh_token"], "refresh_token").status_code == 200
    assert refresh(http, rp, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert http.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 401


def test_wrong_hint_still_finds_the_token(http, rp, tokens):
    """RFC 7009 2.1: the server MUST extend its search across all token types."""
    assert revoke(http, rp, tokens["refresh_token"], "access_token").status_code == 200
    assert refresh(http, rp, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_unknown_hint_is_ignored(http, rp, tokens):
    assert revoke(http, rp, tokens["access_token"], "id_token").status_code == 200
    assert http.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 401


def test_unknown_token_is_200(http, rp, tokens):
    """RFC 7009 2.2: "invalid tokens do not cause an error response"."""
    response = revoke(http, rp, "never-issued")
    assert response.status_code == 200
    assert response.get_json() == {}


def test_revocation_is_idempotent(http, rp, tokens):
    assert revoke(http, rp, tokens["refresh_token"]).status_code == 200
    assert revoke(http, rp, tokens["refresh_token"]).status_code == 200


def test_revocation_requires_client_authentication(http, rp, tokens):
    response = revoke(http, rp, tokens["access_token"], auth=basic(rp.client_id, "wrong"))
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    anonymous = http.post("/revoke", data={"token": tokens["access_token"]})
    assert anonymous.status_code == 401
    assert http.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 200


def test_another_clients_token_is_refused_and_kept(http, rp, tokens):
    other = register(name="Other", redirect_uris=["https://other.example.gov/cb"])
    response = revoke(http, other, tokens["access_token"])
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"
    assert http.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 200


def test_missing_token_is_invalid_request(http, rp, tokens):
    response = http.post("/revoke", data={}, headers=basic(rp.client_id, rp.secret))
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_public_client_may_revoke_its_own_token(http, citizen, login):
    from oidc_helpers import exchange
    from oidc_helpers import get_code
    from oidc_helpers import pkce

    native = register(name="App", redirect_uris=["http://localhost:7000/cb"], auth_method="none")
    grant_consent(citizen, native)
    login()
    verifier, challenge = pkce()
    code, _ = get_code(http, native, code_challenge=challenge, code_challenge_method="S256")
    token = exchange(http, native, code, verifier=verifier).get_json()
    response = http.post(
        "/revoke", data={"token": token["access_token"], "client_id": native.client_id}
    )
    assert response.status_code == 200
    assert http.get("/userinfo", headers=bearer(token["access_token"])).status_code == 401
