"""Refresh tokens: only with offline_access (OIDC Core 11), rotated on every use, and a
reused (already rotated) token revokes the whole grant (RFC 9700 4.14.2)."""

from __future__ import annotations

import time

import pytest
from oidc_helpers import bearer
from oidc_helpers import decode_id_token
from oidc_helpers import grant_consent
from oidc_helpers import refresh
from oidc_helpers import register
from oidc_helpers import sign_in

OFFLINE = "openid profile offline_access"


@pytest.fixture
def tokens(http, citizen, rp, login):
    grant_consent(citizen, rp)
    login(amr=("pwd", "otp"))
    return sign_in(http, rp, scope=OFFLINE)


def test_refresh_token_only_with_offline_access(http, citizen, rp, login):
    grant_consent(citizen, rp)
    login()
    assert "refresh_token" not in sign_in(http, rp, scope="openid profile")
    assert "refresh_token" in sign_in(http, rp, scope=OFFLINE)


def test_refresh_rotates_and_keeps_the_sign_in_context(http, rp, tokens):
    _, first = decode_id_token(http, tokens["id_token"], client_id=rp.client_id)
    time.sleep(1)
    response = refresh(http, rp, tokens["refresh_token"])
    assert response.status_code == 200
    renewed = response.get_json()
    assert renewed["refresh_token"] != tokens["refresh_token"]
    assert renewed["access_token"] != tokens["access_token"]
    assert renewed["scope"] == OFFLINE
    # OIDC Core 12.2: same iss/sub/aud, original auth_time, new iat, no nonce.
    _, claims = decode_id_token(http, renewed["id_token"], client_id=rp.client_id)
    assert claims["sub"] == first["sub"]
    assert claims["auth_time"] == first["auth_time"]
    assert claims["acr"] == first["acr"] and claims["amr"] == first["amr"]
    assert claims["sid"] == first["sid"]
    assert claims["iat"] > first["iat"]
    assert "nonce" not in claims and "nonce" in first
    assert http.get("/userinfo", headers=bearer(renewed["access_token"])).status_code == 200
    # The new refresh token works in turn.
    assert refresh(http, rp, renewed["refresh_token"]).status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_the_grant(http, rp, tokens):
    renewed = refresh(http, rp, tokens["refresh_token"]).get_json()
    reuse = refresh(http, rp, tokens["refresh_token"])
    assert reuse.status_code == 400
    assert reuse.get_json()["error"] == "invalid_grant"
    # Everything of the grant is dead: the legitimate holder's new tokens too.
    assert refresh(http, rp, renewed["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert http.get("/userinfo", headers=bearer(renewed["access_token"])).status_code == 401
    assert http.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 401


def test_reuse_does_not_touch_other_grants(http, rp, tokens):
    other = sign_in(http, rp, scope=OFFLINE)
    refresh(http, rp, tokens["refresh_token"])
    refresh(http, rp, tokens["refresh_token"])
    assert refresh(http, rp, other["refresh_token"]).status_code == 200


def test_refresh_may_narrow_but_not_widen_the_scope(http, rp, tokens):
    wider = refresh(http, rp, tokens["refresh_token"], scope=OFFLINE + " phone")
    assert wider.status_code == 400 and wider.get_json()["error"] == "invalid_scope"
    narrower = refresh(http, rp, tokens["refresh_token"], scope="openid offline_access")
    assert narrower.status_code == 200
    assert narrower.get_json()["scope"] == "openid offline_access"


def test_refresh_token_of_another_client_is_invalid_grant(http, citizen, rp, tokens):
    other = register(name="Other", redirect_uris=["https://other.example.gov/cb"])
    response = refresh(http, other, tokens["refresh_token"])
    assert response.get_json()["error"] == "invalid_grant"


def test_unknown_or_missing_refresh_token(http, rp, tokens):
    assert refresh(http, rp, "nope").get_json()["error"] == "invalid_grant"
    missing = http.post(
        "/token", data={"grant_type": "refresh_token"}, headers={"Authorization": "Basic " + "x"}
    )
    assert missing.get_json()["error"] == "invalid_client"


def test_access_token_is_not_a_refresh_token(http, rp, tokens):
    assert refresh(http, rp, tokens["access_token"]).get_json()["error"] == "invalid_grant"


def test_expired_refresh_token_is_invalid_grant(http, rp, tokens):
    from datetime import UTC
    from datetime import datetime
    from datetime import timedelta

    from idp.extensions import db
    from idp.models import OAuthToken

    for row in db.session.query(OAuthToken).all():
        row.refresh_expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db.session.commit()
    assert refresh(http, rp, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_client_without_offline_access_cannot_refresh(http, citizen, login, rp, tokens):
    narrow = register(
        name="Narrow", redirect_uris=["https://n.example.gov/cb"], scope="openid profile"
    )
    response = refresh(http, narrow, tokens["refresh_token"])
    assert response.get_json()["error"] == "unauthorized_client"


def test_locked_citizen_cannot_refresh(http, rp, citizen, tokens):
    from datetime import UTC
    from datetime import datetime

    from idp.extensions import db

    citizen.locked_at = datetime.now(UTC)
    db.session.commit()
    assert refresh(http, rp, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
