"""Kiosk sign-in with the chip ID card and a face match done on the kiosk: the kiosk
simulator signs the assertion with its own key and posts it from the kiosk's browser
(the ``http`` test client); the provider verifies it and starts a short kiosk session,
which portals opened on the kiosk then use through the normal /authorize."""

from __future__ import annotations

import time

import pytest
from conftest import CITIZEN_ID_NUMBER
from kiosk_simulator import KioskSimulator
from oidc_helpers import ISSUER
from oidc_helpers import csrf_from
from oidc_helpers import decode_id_token
from oidc_helpers import grant_consent
from oidc_helpers import path_of
from oidc_helpers import sign_in

# A valid GB 11643 number no citizen in these tests holds.
UNREGISTERED_ID_NUMBER = "110101199003074530"


@pytest.fixture
def kiosk(app, http):
    simulator = KioskSimulator(http, issuer=ISSUER)
    simulator.register(name="Kiosk 7", place="Futian service hall")
    return simulator


def sso_cookie(app, http):
    cookie = http.get_cookie(app.config["IDP_SESSION_COOKIE"], domain="localhost")
    return cookie.value if cookie else None


def refused(response, reason, status=400):
    assert response.status_code == status, response.data[:300]
    assert f'data-reason="{reason}"' in response.text, response.text[:800]
    return response


def signed_in(http, kiosk, citizen):
    response = kiosk.insert_card(CITIZEN_ID_NUMBER)
    assert response.status_code == 303, response.data[:500]
    return response


class Clock:
    """An injected clock for the session module: real time plus ``offset`` seconds."""

    def __init__(self) -> None:
        self.offset = 0

    def time(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clock(monkeypatch):
    from idp.authn import sessions

    fake = Clock()
    monkeypatch.setattr(sessions, "time", fake)
    return fake


# --- the happy path ---------------------------------------------------------------------------


def test_adapter_conforms_to_the_channel_interface():
    """STYLE.md 7.15: every adapter exposes NAME, bp and authenticate(*, interaction, form)."""
    import inspect

    from adapters import ADAPTERS
    from adapters import kiosk as adapter

    assert adapter in ADAPTERS
    assert adapter.NAME == "kiosk" and adapter.bp.name == "kiosk"
    params = inspect.signature(adapter.authenticate).parameters
    assert list(params) == ["interaction", "form"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())


def test_card_and_face_start_a_high_kiosk_session(app, http, kiosk, citizen, store):
    response = signed_in(http, kiosk, citizen)
    # The sign-in ends on the kiosk's home page, through the interaction.
    home = http.get(path_of(response), follow_redirects=True)
    assert 'data-state="signed_in"' in home.text and "Futian service hall" in home.text

    from idp.authn import sessions

    [session] = sessions.list_for(store, citizen.id)
    assert session.channel == "kiosk"
    assert session.device_id == kiosk.client_id
    assert session.place == "Futian service hall"
    assert session.acr == "urn:idp:acr:high"
    assert session.amr == ["sc", "face", "mfa"]
    assert session.expires_at - session.created_at == app.config["IDP_KIOSK_SESSION_SECONDS"]


def test_the_kiosk_cookie_is_a_browser_session_cookie(app, http, kiosk, citizen):
    response = signed_in(http, kiosk, citizen)
    [header] = [
        h
        for h in response.headers.getlist("Set-Cookie")
        if h.startswith(app.config["IDP_SESSION_COOKIE"] + "=")
    ]
    lowered = header.lower()
    assert "expires=" not in lowered and "max-age" not in lowered
    assert "httponly" in lowered and "samesite=lax" in lowered
    # No other cookie outlives the kiosk browser either (the UI cookie included).
    for other in response.headers.getlist("Set-Cookie"):
        assert "expires=" not in other.lower() and "max-age" not in other.lower(), other


def test_a_portal_on_the_kiosk_gets_acr_high_and_amr_sc_face(app, http, kiosk, citizen, rp):
    signed_in(http, kiosk, citizen)
    grant_consent(citizen, rp)
    token = sign_in(http, rp)
    _, claims = decode_id_token(http, token["id_token"], client_id=rp.client_id, nonce="nonce-456")
    assert claims["acr"] == "urn:idp:acr:high"
    assert claims["amr"] == ["sc", "face", "mfa"]


def test_card_sign_in_for_a_portal_waiting_at_the_login_page(app, http, kiosk, citizen, rp):
    from oidc_helpers import authorize
    from oidc_helpers import redirected_to

    grant_consent(citizen, rp)
    login_page = http.get(path_of(authorize(http, rp)))
    uid = path_of(login_page).rsplit("/", 1)[1]
    response = kiosk.insert_card(CITIZEN_ID_NUMBER, uid=uid)
    assert path_of(response) == f"/interaction/{uid}/resume"
    params = redirected_to(http.get(path_of(response)), rp.redirect_uri)
    assert "code" in params and params["state"] == "state-123"


def test_a_stale_or_foreign_uid_falls_back_to_a_direct_kiosk_sign_in(http, kiosk, citizen):
    response = kiosk.insert_card(CITIZEN_ID_NUMBER, uid="no-such-interaction")
    assert response.status_code == 303
    home = http.get(path_of(response), follow_redirects=True)
    assert 'data-state="signed_in"' in home.text


# --- what the provider refuses -------------------------------------------------------------


def test_expired_assertion_is_refused(http, kiosk, citizen):
    old = int(time.time()) - 120
    refused(kiosk.insert_card(CITIZEN_ID_NUMBER, iat=old), "expired")


def test_assertion_living_too_long_is_refused(http, kiosk, citizen):
    refused(kiosk.insert_card(CITIZEN_ID_NUMBER, lifetime=3600), "expired")


def test_assertion_from_the_future_is_refused(http, kiosk, citizen):
    refused(kiosk.insert_card(CITIZEN_ID_NUMBER, iat=int(time.time()) + 60), "expired")


def test_replayed_assertion_is_refused(http, kiosk, citizen):
    assertion = kiosk.card_assertion(CITIZEN_ID_NUMBER, nonce=kiosk.page_nonce())
    assert kiosk.post_card(assertion).status_code == 303
    http.post("/kiosk/end", data={"csrf_token": csrf_from(http.get("/kiosk").text)})
    refused(kiosk.post_card(assertion), "replayed")


def test_same_jti_in_a_new_assertion_is_refused(http, kiosk, citizen):
    assert kiosk.insert_card(CITIZEN_ID_NUMBER, jti="nonce-0123456789abcdef").status_code == 303
    refused(kiosk.insert_card(CITIZEN_ID_NUMBER, jti="nonce-0123456789abcdef"), "replayed")


def test_failed_face_match_is_refused(http, kiosk, citizen):
    response = refused(kiosk.insert_card(CITIZEN_ID_NUMBER, matched=False), "face_mismatch")
    assert "人脸核验结果与身份证件不符" in response.text


def test_failed_liveness_is_refused(http, kiosk, citizen):
    refused(kiosk.insert_card(CITIZEN_ID_NUMBER, liveness=False), "liveness_failed")


def test_unverified_chip_is_refused(http, kiosk, citizen):
    refused(kiosk.insert_card(CITIZEN_ID_NUMBER, chip_verified=False), "card_not_verified")


def test_disabled_kiosk_is_refused(http, kiosk, citizen):
    from idp.oauth.kiosks import set_disabled

    set_disabled(kiosk.client_id, True)
    refused(kiosk.insert_card(CITIZEN_ID_NUMBER), "bad_signature")  # as a forgery


def test_unregistered_device_is_refused(app, http, citizen):
    stranger = KioskSimulator(http, issuer=ISSUER)
    stranger.client_id = "notakiosk"
    refused(stranger.insert_card(CITIZEN_ID_NUMBER), "bad_signature")  # as a forgery


def test_a_portal_client_cannot_sign_card_assertions(app, http, citizen):
    from oidc_helpers import register

    device = KioskSimulator(http, issuer=ISSUER)
    portal = register(
        name="Key portal",
        auth_method="private_key_jwt",
        jwks=device.public_jwks(),
        redirect_uris=["https://keys.example.gov/cb"],
    )
    device.client_id = portal.client_id
    refused(device.insert_card(CITIZEN_ID_NUMBER), "bad_signature")


def test_wrong_kiosk_key_is_refused(http, kiosk, citizen):
    from joserfc.jwk import ECKey

    other = ECKey.generate_key("P-256", parameters={"kid": kiosk.key.kid})
    refused(kiosk.insert_card(CITIZEN_ID_NUMBER, key=other), "bad_signature")


def test_assertion_for_another_audience_is_refused(http, kiosk, citizen):
    refused(kiosk.insert_card(CITIZEN_ID_NUMBER, aud=ISSUER + "/token"), "wrong_audience")


def test_image_data_is_refused(http, kiosk, citizen):
    photo = "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDA"
    response = kiosk.insert_card(CITIZEN_ID_NUMBER, extra={"face": {"image": photo}})
    refused(response, "image_data")
    template = {"face_match": {"matched": True, "score": 0.9, "template": "AAEC"}}
    refused(kiosk.insert_card(CITIZEN_ID_NUMBER, extra=template), "image_data")


def test_an_assertion_large_enough_to_hold_an_image_is_refused(http, kiosk, citizen):
    blob = "A" * 6000
    refused(kiosk.insert_card(CITIZEN_ID_NUMBER, extra={"x": blob}), "image_data")


def test_unknown_id_number_is_refused(http, kiosk, citizen):
    response = refused(kiosk.insert_card(UNREGISTERED_ID_NUMBER), "unknown_id_number")
    # The page never repeats the number.
    assert UNREGISTERED_ID_NUMBER not in response.text


def test_invalid_id_number_is_refused(http, kiosk, citizen):
    refused(kiosk.insert_card("110101199003074531"), "invalid_id_number")


def test_missing_or_garbage_assertion_is_a_clear_400(http, kiosk):
    refused(http.post("/kiosk/card", data={}), "missing")
    refused(http.post("/kiosk/card", data={"assertion": "not.a.jwt"}), "malformed")


def test_no_session_after_a_refusal(app, http, kiosk, citizen):
    kiosk.insert_card(CITIZEN_ID_NUMBER, matched=False)
    assert sso_cookie(app, http) is None
    assert 'data-state="idle"' in http.get("/kiosk").text


# --- short sessions, "end" and card removal ---------------------------------------------------


def test_kiosk_session_expires_after_its_lifetime(app, http, kiosk, citizen, rp, clock):
    signed_in(http, kiosk, citizen)
    clock.offset = 100
    assert 'data-state="signed_in"' in http.get("/kiosk").text
    clock.offset = app.config["IDP_KIOSK_SESSION_SECONDS"] + 1
    assert 'data-state="idle"' in http.get("/kiosk").text
    # A portal opened now asks for a sign-in again.
    from oidc_helpers import authorize

    assert path_of(authorize(http, rp)).startswith("/interaction/")


def test_kiosk_session_ends_when_idle(app, http, kiosk, citizen, clock):
    signed_in(http, kiosk, citizen)
    clock.offset = app.config["IDP_KIOSK_IDLE_SECONDS"] + 1
    assert 'data-state="idle"' in http.get("/kiosk").text


def test_kiosk_lifetimes_are_configurable(app, http, kiosk, citizen, store):
    app.config["IDP_KIOSK_SESSION_SECONDS"] = 90
    signed_in(http, kiosk, citizen)
    from idp.authn import sessions

    [session] = sessions.list_for(store, citizen.id)
    assert session.expires_at - session.created_at == 90


def test_end_button_ends_the_session_and_clears_the_cookie(app, http, kiosk, citizen, store):
    signed_in(http, kiosk, citizen)
    page = http.get("/kiosk")
    response = http.post("/kiosk/end", data={"csrf_token": csrf_from(page.text)})
    assert response.status_code == 303
    assert 'data-state="ended"' in http.get(path_of(response)).text
    assert sso_cookie(app, http) is None
    from idp.authn import sessions

    assert sessions.list_for(store, citizen.id) == []


def test_end_needs_the_csrf_token(http, kiosk, citizen):
    signed_in(http, kiosk, citizen)
    assert http.post("/kiosk/end").status_code == 400
    assert 'data-state="signed_in"' in http.get("/kiosk").text


def test_card_removal_ends_the_session(app, http, kiosk, citizen, store):
    signed_in(http, kiosk, citizen)
    # The reader reports it over its own connection, not the kiosk browser's.
    response = kiosk.remove_card(http=app.test_client())
    assert response.status_code == 200
    assert response.get_json() == {"event": "card_removed", "session_ended": True}
    assert 'data-state="idle"' in http.get("/kiosk").text
    from idp.authn import sessions

    assert sessions.list_for(store, citizen.id) == []


def test_card_removal_must_be_signed_by_the_kiosk(app, http, kiosk, citizen):
    signed_in(http, kiosk, citizen)
    impostor = KioskSimulator(app.test_client(), issuer=ISSUER)
    impostor.client_id = kiosk.client_id  # claims to be the kiosk, with another key
    forged = impostor.remove_card()
    assert forged.status_code == 400
    assert forged.get_json() == {
        "error": "invalid_assertion",
        "error_description": "The kiosk's card reading was refused.",
        "reason": "bad_signature",
    }
    # A card assertion is no event (typ), even from the right key.
    wrong = app.test_client().post("/kiosk/event", json={"assertion": kiosk.card_assertion("x")})
    assert wrong.get_json()["reason"] == "wrong_type"
    assert 'data-state="signed_in"' in http.get("/kiosk").text


def test_card_removal_event_cannot_be_replayed(app, kiosk):
    event = kiosk.card_removed()
    client = app.test_client()
    assert client.post("/kiosk/event", json={"assertion": event}).status_code == 200
    again = client.post("/kiosk/event", json={"assertion": event})
    assert again.status_code == 400 and again.get_json()["reason"] == "replayed"


def test_next_card_at_the_same_kiosk_ends_the_previous_session(app, http, kiosk, citizen, store):
    from idp.authn import sessions
    from idp.authn.citizens import create_citizen

    signed_in(http, kiosk, citizen)
    other = create_citizen(id_number=UNREGISTERED_ID_NUMBER, name="李四", phone=None)
    # The next person, in a fresh browser at the same kiosk.
    kiosk.http = app.test_client()
    assert kiosk.insert_card(UNREGISTERED_ID_NUMBER).status_code == 303
    assert sessions.list_for(store, citizen.id) == []
    assert len(sessions.list_for(store, other.id)) == 1


def test_kiosk_session_is_listed_on_the_account_page_and_ends_everywhere(
    app, http, kiosk, citizen, store
):
    from idp.authn import sessions

    signed_in(http, kiosk, citizen)
    phone = app.test_client()
    _, cookie = sessions.start(
        store,
        result=_website_result(citizen),
        lifetime=3600,
        idle=600,
    )
    phone.set_cookie(app.config["IDP_SESSION_COOKIE"], cookie, domain="localhost")
    page = phone.get("/account", headers={"Accept-Language": "en"})
    assert "Self-service kiosk" in page.text and "Futian service hall" in page.text
    sessions.end_all(store, citizen.id)
    assert 'data-state="idle"' in http.get("/kiosk").text


def _website_result(citizen):
    from datetime import UTC
    from datetime import datetime

    from idp.authn.result import Acr
    from idp.authn.result import Amr
    from idp.authn.result import AuthResult
    from idp.authn.result import Channel

    return AuthResult(
        citizen_id=citizen.id,
        methods=(Amr.PWD,),
        acr=Acr.LOW,
        channel=Channel.WEBSITE,
        auth_time=datetime.now(UTC),
    )
