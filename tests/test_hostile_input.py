"""Malformed and hostile requests get the error the spec names, never a 500 or a trace."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from oidc_helpers import authorize_params
from oidc_helpers import basic

HOSTILE = [
    '"quoted"',
    "back\\slash",
    "中文",
    "\x00\x01\x7f",
    "a" * 5000,
    "<script>alert(1)</script>",
    "%00%ff",
    "\u202e",
]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize(
    "name",
    [
        "response_type",
        "redirect_uri",
        "client_id",
        "scope",
        "state",
        "nonce",
        "prompt",
        "max_age",
        "code_challenge",
        "code_challenge_method",
        "ui_locales",
        "login_hint",
        "response_mode",
        '"weird name"',
    ],
)
def test_authorize_never_fails_with_500(http, rp, name, value):
    params = authorize_params(rp)
    params[name] = value
    response = http.get("/authorize?" + urlencode(params))
    assert response.status_code in (302, 303, 400), (name, response.status_code)
    assert b"Traceback" not in response.data
    if response.status_code == 302:
        assert response.headers["Location"].startswith(rp.redirect_uri + "?")


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize(
    "name",
    [
        "grant_type",
        "code",
        "redirect_uri",
        "code_verifier",
        "refresh_token",
        "client_id",
        "client_secret",
        "scope",
        "client_assertion",
        "client_assertion_type",
    ],
)
def test_token_endpoint_never_fails_with_500(http, rp, name, value):
    data = {"grant_type": "authorization_code", "code": "x", "redirect_uri": rp.redirect_uri}
    data[name] = value
    if name == "client_assertion":
        data["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    response = http.post("/token", data=data, headers=basic(rp.client_id, rp.secret))
    assert response.status_code in (400, 401), (name, response.status_code)
    assert response.get_json()["error"] in (
        "invalid_request",
        "invalid_grant",
        "unsupported_grant_type",
        "invalid_client",
        "invalid_scope",
    )


@pytest.mark.parametrize(
    "header",
    [
        "Basic",
        "Basic !!!",
        "Basic " + "A" * 5000,
        "Bearer x",
        "Basic Og==",
        "Basic " + "IsKA6K+mIjoi",  # '"' and non-ASCII user name
    ],
)
def test_malformed_client_authentication_is_invalid_client(http, rp, header):
    response = http.post(
        "/token",
        data={"grant_type": "authorization_code", "code": "x"},
        headers={"Authorization": header},
    )
    assert response.status_code in (400, 401)
    assert response.get_json()["error"] == "invalid_client"


@pytest.mark.parametrize("value", HOSTILE)
def test_api_endpoints_never_fail_with_500(http, rp, value):
    auth = basic(rp.client_id, rp.secret)
    for path in ("/revoke", "/introspect"):
        for hint in (None, value):
            data = {"token": value}
            if hint:
                data["token_type_hint"] = hint
            response = http.post(path, data=data, headers=auth)
            assert response.status_code == 200, (path, response.status_code)
    userinfo = http.get("/userinfo", headers={"Authorization": "Bearer " + value[:200]})
    assert userinfo.status_code in (400, 401)
    logout = http.get(
        "/logout?"
        + urlencode(
            {
                "id_token_hint": value,
                "client_id": value,
                "post_logout_redirect_uri": value,
                "state": value,
            }
        )
    )
    assert logout.status_code in (200, 400)
    assert "Location" not in logout.headers


def test_json_body_at_token_endpoint_is_invalid_request(http, rp):
    response = http.post(
        "/token", json={"grant_type": "authorization_code"}, headers=basic(rp.client_id, rp.secret)
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_token_endpoint_ignores_query_string_parameters(http, rp):
    """RFC 6749 3.2: parameters go in the request body."""
    response = http.post(
        "/token?grant_type=authorization_code&code=x", headers=basic(rp.client_id, rp.secret)
    )
    assert response.get_json()["error"] == "invalid_request"
