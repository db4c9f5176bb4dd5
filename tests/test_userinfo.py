"""UserInfo (OIDC Core 5.3) protected per RFC 6750: claims by scope, bearer errors."""

from __future__ import annotations

import pytest
from oidc_helpers import bearer
from oidc_helpers import decode_id_token
from oidc_helpers import grant_consent
from oidc_helpers import refresh
from oidc_helpers import sign_in


@pytest.fixture
def consented(citizen, rp, login):
    grant_consent(citizen, rp)
    login()


def test_openid_only_releases_sub(http, rp, consented):
    token = sign_in(http, rp, scope="openid")
    body = http.get("/userinfo", headers=bearer(token["access_token"])).get_json()
    _, claims = decode_id_token(http, token["id_token"], client_id=rp.client_id)
    assert body == {"sub": claims["sub"]}


def test_profile_and_phone_claims(http, rp, consented, citizen):
    from idp.extensions import db

    token = sign_in(http, rp, scope="openid profile phone")
    response = http.get("/userinfo", headers=bearer(token["access_token"]))
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    db.session.refresh(citizen)
    assert body["name"] == "张三"
    assert body["birthdate"] == "1949-12-31"
    assert body["gender"] == "female"
    assert body["phone_number"] == "+8613800138000"
    assert body["phone_number_verified"] is False
    # The ID number is never released in this issue.
    assert "11010519491231002X" not in response.get_data(as_text=True)
    assert set(body) == {
        "sub",
        "name",
        "birthdate",
        "gender",
        "phone_number",
        "phone_number_verified",
    }


def test_profile_without_phone(http, rp, consented):
    token = sign_in(http, rp, scope="openid profile")
    body = http.get("/userinfo", headers=bearer(token["access_token"])).get_json()
    assert "phone_number" not in body and "name" in body


def test_post_with_header_and_with_form_body(http, rp, consented):
    token = sign_in(http, rp, scope="openid profile")
    via_header = http.post("/userinfo", headers=bearer(token["access_token"]))
    via_body = http.post("/userinfo", data={"access_token": token["access_token"]})
    assert via_header.status_code == via_body.status_code == 200
    assert via_header.get_json() == via_body.get_json()


def test_missing_token_is_401_without_error_code(http):
    """RFC 6750 3.1: no error information when the request carries no credentials."""
    for response in (
        http.get("/userinfo"),
        http.post("/userinfo"),
        http.get("/userinfo", headers={"Authorization": "Basic abc"}),
    ):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="idp"'
        assert "error" not in response.headers["WWW-Authenticate"]


def test_token_in_query_string_is_not_accepted(http, rp, consented):
    token = sign_in(http, rp, scope="openid")
    assert http.get(f"/userinfo?access_token={token['access_token']}").status_code == 401


def test_invalid_token_is_401_invalid_token(http):
    response = http.get("/userinfo", headers=bearer("forged"))
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_expired_token_is_invalid_token(http, rp, consented):
    from datetime import UTC
    from datetime import datetime

    from idp.extensions import db
    from idp.models import OAuthToken

    token = sign_in(http, rp, scope="openid")
    for row in db.session.query(OAuthToken).all():
        row.access_expires_at = datetime.now(UTC)
    db.session.commit()
    assert http.get("/userinfo", headers=bearer(token["access_token"])).status_code == 401


def test_refresh_token_is_not_an_access_token(http, rp, consented):
    token = sign_in(http, rp, scope="openid offline_access")
    response = http.get("/userinfo", headers=bearer(token["refresh_token"]))
    assert response.status_code == 401


def test_two_ways_at_once_is_invalid_request(http, rp, consented):
    token = sign_in(http, rp, scope="openid")
    response = http.post(
        "/userinfo",
        headers=bearer(token["access_token"]),
        data={"access_token": token["access_token"]},
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


def test_token_without_openid_is_insufficient_scope(http, rp, consented):
    token = sign_in(http, rp, scope="openid profile offline_access")
    narrowed = refresh(http, rp, token["refresh_token"], scope="profile offline_access")
    response = http.get("/userinfo", headers=bearer(narrowed.get_json()["access_token"]))
    assert response.status_code == 403
    assert response.get_json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert 'scope="openid"' in response.headers["WWW-Authenticate"]


def test_locked_citizen_token_is_invalid(http, rp, consented, citizen):
    from datetime import UTC
    from datetime import datetime

    from idp.extensions import db

    token = sign_in(http, rp, scope="openid")
    citizen.locked_at = datetime.now(UTC)
    db.session.commit()
    assert http.get("/userinfo", headers=bearer(token["access_token"])).status_code == 401


def test_disabled_client_token_is_invalid(http, rp, consented):
    """A client disabled after issuing (its tokens not revoked, as if the revocation
    had not happened yet) gets no claims: the client is checked on every call."""
    from datetime import UTC
    from datetime import datetime

    from idp.extensions import db

    token = sign_in(http, rp, scope="openid profile")
    assert http.get("/userinfo", headers=bearer(token["access_token"])).status_code == 200
    rp.client.disabled_at = datetime.now(UTC)
    db.session.commit()
    response = http.get("/userinfo", headers=bearer(token["access_token"]))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


@pytest.fixture
def every_scope(app, citizen, login):
    """A portal allowed every UserInfo scope, the citizen's consent to all of them (the
    ID number needs a substantial sign-in) and a registry address."""
    from oidc_helpers import register

    from idp.extensions import db

    citizen.address = {"formatted": "北京市东城区景山前街4号", "country": "CN"}
    db.session.commit()
    portal = register(
        name="Every scope portal",
        redirect_uris=["https://every.example.gov/callback"],
        scope="openid profile phone address id_number",
    )
    grant_consent(citizen, portal, "openid profile phone address id_number")
    login(acr="urn:idp:acr:substantial")
    return portal


def test_id_number_scope_releases_the_unsealed_number(http, every_scope):
    from conftest import CITIZEN_ID_NUMBER

    token = sign_in(http, every_scope, scope="openid id_number")
    body = http.get("/userinfo", headers=bearer(token["access_token"])).get_json()
    assert set(body) == {"sub", "id_number", "id_type"}
    assert body["id_number"] == CITIZEN_ID_NUMBER


def test_every_scope_releases_every_claim_it_names(http, every_scope):
    from idp.consent.categories import CATALOGUE

    scopes = "openid profile phone address id_number"
    token = sign_in(http, every_scope, scope=scopes)
    body = http.get("/userinfo", headers=bearer(token["access_token"])).get_json()
    assert set(body) == {c for s in scopes.split() for c in CATALOGUE[s].claims}
    assert body["name"] == "张三" and body["gender"] == "female"
    assert body["address"]["country"] == "CN" and body["phone_number_verified"] is False
