"""The Flask session cookie is verified when a request first uses the session, not at
the start of every request (``idp.web.machinery.ProviderRequestContext``), and a request
that never uses it answers as Flask would for an untouched session."""

from __future__ import annotations

import pytest
from itsdangerous import URLSafeTimedSerializer
from oidc_helpers import authorize
from oidc_helpers import basic
from oidc_helpers import get_code
from oidc_helpers import grant_consent


@pytest.fixture
def verified(monkeypatch):
    """Counts the session cookies the app verifies."""
    calls = []
    original = URLSafeTimedSerializer.loads

    def loads(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(URLSafeTimedSerializer, "loads", loads)
    return calls


@pytest.fixture
def with_session_cookie(app, http, rp, citizen):
    """A browser holding a Flask session cookie (set by the authorization request that
    parks a sign-in: it remembers the browser)."""
    response = authorize(http, rp)
    assert response.status_code == 303
    assert http.get_cookie(app.config["SESSION_COOKIE_NAME"]) is not None
    return http


def test_a_request_that_never_uses_the_session_does_not_verify_its_cookie(
    app, with_session_cookie, rp, verified
):
    response = with_session_cookie.post(
        "/token", data={"grant_type": "authorization_code"}, headers=basic(rp.client_id, rp.secret)
    )
    assert response.status_code == 400
    assert verified == []
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")


def test_a_signed_in_authorization_does_not_verify_it_either(
    app, with_session_cookie, rp, citizen, login, verified
):
    grant_consent(citizen, rp)
    login()
    code, _ = get_code(with_session_cookie, rp)
    assert code and verified == []


def test_a_request_that_uses_the_session_verifies_it_once_and_keeps_it(
    app, with_session_cookie, rp, verified
):
    response = authorize(with_session_cookie, rp)  # parks again: reads the browser id
    assert response.status_code == 303
    assert verified == [1]
    with with_session_cookie.session_transaction() as ui:
        assert ui["browser"]


def test_a_tampered_cookie_is_an_empty_session_where_it_is_used(app, http, rp):
    http.set_cookie(app.config["SESSION_COOKIE_NAME"], "tampered.value.sig", domain="localhost")
    response = authorize(http, rp)
    assert response.status_code == 303
    with http.session_transaction() as ui:
        assert ui["browser"] and ui.get("tampered") is None
