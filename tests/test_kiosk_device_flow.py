"""Kiosk sign-in with the OAuth 2.0 Device Authorization Grant (RFC 8628), through the
real endpoints: the kiosk simulator (its own key, private_key_jwt) asks for a code and
polls; the citizen's phone (a test client with an SSO session) approves at /device."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import pytest
from kiosk_simulator import KioskSimulator
from oidc_helpers import ISSUER
from oidc_helpers import basic
from oidc_helpers import csrf_from
from oidc_helpers import decode_id_token
from oidc_helpers import path_of

from idp.oauth.device import USER_CODE_ALPHABET

USER_CODE = re.compile(rf"^[{USER_CODE_ALPHABET}]{{4}}-[{USER_CODE_ALPHABET}]{{4}}$")


@pytest.fixture
def kiosk(app):
    simulator = KioskSimulator(app.test_client(), issuer=ISSUER)
    simulator.register(name="Kiosk 7", place="Futian service hall, ground floor")
    return simulator


@pytest.fixture
def started(kiosk):
    response = kiosk.device_authorization()
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def approve(http, user_code, decision="approve"):
    page = http.get("/device?user_code=" + user_code)
    assert page.status_code == 200, page.data[:300]
    return http.post(
        "/device",
        data={"user_code": user_code, "decision": decision, "csrf_token": csrf_from(page.text)},
    )


def test_discovery_advertises_the_device_endpoint_and_grant(http):
    meta = http.get("/.well-known/openid-configuration").get_json()
    assert meta["device_authorization_endpoint"] == ISSUER + "/device_authorization"
    assert "urn:ietf:params:oauth:grant-type:device_code" in meta["grant_types_supported"]


def test_features_off_register_no_route_and_advertise_nothing(backend):
    from conftest import make_app

    off = make_app(backend, IDP_FEATURE_DEVICE_FLOW=False, IDP_FEATURE_KIOSK=False)
    client = off.test_client()
    with off.app_context():
        meta = client.get("/.well-known/openid-configuration").get_json()
        assert "device_authorization_endpoint" not in meta
        assert "urn:ietf:params:oauth:grant-type:device_code" not in meta["grant_types_supported"]
        assert client.post("/device_authorization").status_code == 404
        assert client.get("/device").status_code == 404
        assert client.post("/kiosk/card").status_code == 404


def test_device_authorization_response_rfc8628_3_2(started):
    assert USER_CODE.match(started["user_code"])
    assert started["verification_uri"] == ISSUER + "/device"
    assert started["verification_uri_complete"] == (
        ISSUER + "/device?user_code=" + started["user_code"]
    )
    assert started["expires_in"] == 600
    assert started["interval"] == 5
    assert len(started["device_code"]) >= 32


def test_phone_approves_and_kiosk_gets_an_id_token_with_the_session_level(
    http, login, kiosk, started
):
    session = login(amr=("pwd", "otp"))
    page = http.get("/device?user_code=" + started["user_code"])
    assert "Kiosk 7" in page.text and "Futian service hall, ground floor" in page.text
    done = approve(http, started["user_code"])
    assert done.status_code == 200 and 'id="device-result"' in done.text

    response = kiosk.poll(started["device_code"])
    assert response.status_code == 200, response.get_json()
    token = response.get_json()
    assert token["token_type"] == "Bearer" and "refresh_token" not in token
    _, claims = decode_id_token(http, token["id_token"], client_id=kiosk.client_id)
    assert claims["acr"] == "urn:idp:acr:substantial"
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    assert claims["sid"] == session.sid
    assert claims["auth_time"] == session.auth_time
    assert claims["sub"] != session.citizen_id  # pairwise
    userinfo = kiosk.http.get(
        "/userinfo", headers={"Authorization": "Bearer " + token["access_token"]}
    )
    assert userinfo.get_json()["sub"] == claims["sub"]

    # RFC 8628 3.5 / RFC 6749 5.2: a device code yields tokens once.
    again = kiosk.poll(started["device_code"])
    assert again.status_code == 400 and again.get_json()["error"] == "invalid_grant"


def test_the_kiosk_joins_the_phone_session_with_device_place_time_level(
    app, http, login, kiosk, started, store
):
    from idp.authn import sessions

    session = login()
    approve(http, started["user_code"])
    joined = sessions.get_by_sid(store, session.sid)
    assert kiosk.client_id in joined.clients
    [device] = joined.devices
    assert device["channel"] == "kiosk" and device["device_id"] == kiosk.client_id
    assert device["place"] == "Futian service hall, ground floor"
    assert device["acr"] == "urn:idp:acr:low" and abs(device["at"] - time.time()) < 5


def test_pending_then_slow_down_increases_the_interval_for_later_polls(app, kiosk, started):
    app.config["IDP_DEVICE_POLL_INTERVAL"] = 1
    first = kiosk.poll(started["device_code"])
    assert first.status_code == 400
    assert first.get_json()["error"] == "authorization_pending"
    fast = kiosk.poll(started["device_code"])
    assert fast.get_json()["error"] == "slow_down"
    # The interval is now 1 + 5 s "for this and all subsequent requests" (RFC 8628 3.5).
    time.sleep(1.2)
    assert kiosk.poll(started["device_code"]).get_json()["error"] == "slow_down"


def test_denial_is_access_denied_once(http, login, kiosk, started):
    login()
    done = approve(http, started["user_code"], decision="deny")
    assert "自助终端未登录" in done.text
    response = kiosk.poll(started["device_code"])
    assert response.status_code == 400 and response.get_json()["error"] == "access_denied"
    assert kiosk.poll(started["device_code"]).get_json()["error"] == "invalid_grant"


def test_expired_device_code_is_expired_token(app, http, login, kiosk):
    app.config["IDP_TTL_DEVICE_CODE"] = 1
    started = kiosk.device_authorization().get_json()
    assert started["expires_in"] == 1
    time.sleep(1.5)
    assert kiosk.poll(started["device_code"]).get_json()["error"] == "expired_token"
    login()
    page = http.get("/device?user_code=" + started["user_code"])
    assert page.status_code == 400 and "验证码无效或已过期" in page.text


def test_a_decided_code_cannot_be_approved_again(http, login, kiosk, started):
    login()
    approve(http, started["user_code"])
    page = http.get("/device?user_code=" + started["user_code"])
    assert page.status_code == 400


def test_user_code_is_case_and_hyphen_insensitive(http, login, started):
    login()
    typed = started["user_code"].replace("-", " ").lower()
    page = http.get("/device", query_string={"user_code": typed})
    assert page.status_code == 200 and "Kiosk 7" in page.text


def test_signed_out_phone_signs_in_first_and_comes_back(http, started):
    response = http.get("/device?user_code=" + started["user_code"])
    assert response.status_code == 303
    assert path_of(response).startswith("/login/")
    from idp.authn import interaction as interactions

    uid = path_of(response).rsplit("/", 1)[1]
    parked = http.application.extensions["idp.store"].get(interactions.KIND, uid)
    assert parked["return_to"] == "/device?user_code=" + started["user_code"]


def test_user_code_guessing_is_throttled_per_ip(app, http, login):
    app.config.update(IDP_DEVICE_CODE_FREE_ATTEMPTS=2, IDP_DEVICE_CODE_LOCK_AFTER=4)
    login()
    statuses = [http.get("/device?user_code=BBBB-BBB" + c).status_code for c in "BCDFG"]
    assert statuses[:2] == [400, 400]
    assert 429 in statuses
    refused = http.get("/device?user_code=BBBB-BBBH")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1


def test_user_code_guessing_is_throttled_globally(app, http, login, started):
    app.config.update(IDP_DEVICE_CODE_GLOBAL_PER_MINUTE=3)
    login()
    for n, letter in enumerate("BCD"):
        wrong = http.get(
            "/device?user_code=ZZZZ-ZZZ" + letter, environ_base={"REMOTE_ADDR": f"10.0.0.{n}"}
        )
        assert wrong.status_code == 400
    # Everyone is refused for the rest of the minute, even with the right code.
    right = http.get(
        "/device?user_code=" + started["user_code"], environ_base={"REMOTE_ADDR": "10.0.1.1"}
    )
    assert right.status_code == 429


def test_wrong_kiosk_key_is_invalid_client(kiosk, started):
    from joserfc.jwk import ECKey

    other = ECKey.generate_key("P-256", parameters={"kid": kiosk.key.kid})
    # RFC 6749 5.2: invalid_client, 401 only when the Authorization header was used.
    response = kiosk.device_authorization(key=other)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_client"
    poll = kiosk.poll(started["device_code"], key=other)
    assert poll.status_code == 400 and poll.get_json()["error"] == "invalid_client"


def test_disabled_kiosk_cannot_start_or_poll(kiosk, started):
    from idp.oauth.kiosks import set_disabled

    set_disabled(kiosk.client_id, True)
    assert kiosk.device_authorization().get_json()["error"] == "invalid_client"
    assert kiosk.poll(started["device_code"]).get_json()["error"] == "invalid_client"


def test_a_portal_may_not_use_the_device_grant(http, rp):
    response = http.post(
        "/device_authorization", data={"scope": "openid"}, headers=basic(rp.client_id, rp.secret)
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "unauthorized_client"


def test_scope_outside_the_kiosk_registration_is_invalid_scope(kiosk):
    response = kiosk.device_authorization(scope="openid id_number")
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_scope"


def test_unknown_or_missing_device_code(kiosk):
    assert kiosk.poll("no-such-code").get_json()["error"] == "invalid_grant"
    response = kiosk.http.post(
        "/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": kiosk.client_assertion(),
        },
    )
    assert response.get_json()["error"] == "invalid_request"


def test_another_kiosks_device_code_is_invalid_grant(app, kiosk, started):
    second = KioskSimulator(app.test_client(), issuer=ISSUER)
    second.register(name="Kiosk 8", place="Nanshan hall")
    assert second.poll(started["device_code"]).get_json()["error"] == "invalid_grant"


def test_approval_needs_the_csrf_token(http, login, started):
    login()
    response = http.post("/device", data={"user_code": started["user_code"], "decision": "approve"})
    assert response.status_code == 400


def test_kiosk_minimum_level_sends_a_low_session_to_sign_in_again(app, http, login, kiosk, started):
    from idp.oauth.clients import update_acr_policy

    update_acr_policy(kiosk.client_id, minimum_acr="substantial")
    login()  # password only: low
    response = http.get("/device?user_code=" + started["user_code"])
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path.startswith("/interaction/")
