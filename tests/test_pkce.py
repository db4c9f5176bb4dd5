"""PKCE (RFC 7636) as RFC 9700 2.1.1 wants it: S256 only, required for public clients,
accepted from confidential ones."""

from __future__ import annotations

import pytest
from oidc_helpers import authorize
from oidc_helpers import exchange
from oidc_helpers import get_code
from oidc_helpers import grant_consent
from oidc_helpers import pkce
from oidc_helpers import redirected_to
from oidc_helpers import register


@pytest.fixture
def native(app, citizen, login):
    client = register(
        name="Mobile app", redirect_uris=["http://127.0.0.1:8765/cb"], auth_method="none"
    )
    grant_consent(citizen, client)
    login()
    return client


def _error(response, rp):
    return redirected_to(response, rp.redirect_uri)["error"]


def test_public_client_with_s256_gets_tokens(http, native):
    verifier, challenge = pkce()
    code, _ = get_code(http, native, code_challenge=challenge, code_challenge_method="S256")
    response = exchange(http, native, code, verifier=verifier)
    assert response.status_code == 200
    assert "id_token" in response.get_json()


def test_public_client_without_pkce_is_refused_at_authorize(http, native):
    assert _error(authorize(http, native), native) == "invalid_request"


def test_plain_method_is_refused(http, rp, native):
    verifier, _ = pkce()
    for client in (native, rp):
        response = authorize(http, client, code_challenge=verifier, code_challenge_method="plain")
        assert _error(response, client) == "invalid_request"


def test_challenge_without_method_is_plain_and_refused(http, native):
    """RFC 7636 4.3: the method defaults to plain."""
    _, challenge = pkce()
    assert _error(authorize(http, native, code_challenge=challenge), native) == "invalid_request"


def test_unknown_method_is_refused(http, native):
    _, challenge = pkce()
    response = authorize(http, native, code_challenge=challenge, code_challenge_method="S512")
    assert _error(response, native) == "invalid_request"


def test_method_without_challenge_is_refused(http, native):
    response = authorize(http, native, code_challenge_method="S256")
    assert _error(response, native) == "invalid_request"


def test_malformed_challenge_is_refused(http, native):
    response = authorize(http, native, code_challenge="short", code_challenge_method="S256")
    assert _error(response, native) == "invalid_request"


def test_wrong_verifier_is_invalid_grant(http, native):
    _, challenge = pkce()
    other_verifier, _ = pkce()
    code, _ = get_code(http, native, code_challenge=challenge, code_challenge_method="S256")
    response = exchange(http, native, code, verifier=other_verifier)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"


def test_missing_verifier_is_invalid_request(http, native):
    _, challenge = pkce()
    code, _ = get_code(http, native, code_challenge=challenge, code_challenge_method="S256")
    response = exchange(http, native, code)
    assert response.get_json()["error"] == "invalid_request"


def test_confidential_client_may_use_pkce(http, citizen, rp, login):
    grant_consent(citizen, rp)
    login()
    verifier, challenge = pkce()
    code, _ = get_code(http, rp, code_challenge=challenge, code_challenge_method="S256")
    assert exchange(http, rp, code, verifier=verifier).status_code == 200
    code, _ = get_code(http, rp, code_challenge=challenge, code_challenge_method="S256")
    assert exchange(http, rp, code).get_json()["error"] == "invalid_request"


def test_confidential_client_without_pkce_is_accepted(http, citizen, rp, login):
    grant_consent(citizen, rp)
    login()
    code, _ = get_code(http, rp)
    assert exchange(http, rp, code).status_code == 200


def test_verifier_without_challenge_is_refused(http, citizen, rp, login):
    """RFC 9700 4.8.2: a code_verifier for a code issued without a challenge is refused."""
    grant_consent(citizen, rp)
    login()
    verifier, _ = pkce()
    code, _ = get_code(http, rp)
    assert exchange(http, rp, code, verifier=verifier).get_json()["error"] == "invalid_request"


def test_public_client_cannot_send_a_secret(http, native):
    verifier, challenge = pkce()
    code, _ = get_code(http, native, code_challenge=challenge, code_challenge_method="S256")
    response = exchange(http, native, code, verifier=verifier, client_secret="guess")
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
