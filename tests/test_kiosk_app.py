"""The app at the kiosk (adapters/kiosk_app.py): the kiosk screen shows "sign in with the
app" (a QR code the kiosk asked for with a request it signed), the app approves, and the
kiosk's browser gets a kiosk session; the signed-in kiosk shows "continue on your phone",
and the phone's browser continues at the level reached at the kiosk (idp.authn.handoff)
while the kiosk session ends. Everything through the real endpoints, with the kiosk
simulator (its own key) and the app simulator (its own device key)."""

from __future__ import annotations

import html as html_lib
import re
import time
from typing import Any
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
from conftest import CITIZEN_ID_NUMBER
from kiosk_simulator import KioskSimulator
from mobile_helpers import bound_phone
from oidc_helpers import ISSUER
from oidc_helpers import authorize_params
from oidc_helpers import csrf_from
from oidc_helpers import decode_id_token
from oidc_helpers import exchange
from oidc_helpers import fresh_requests
from oidc_helpers import grant_consent
from oidc_helpers import path_of
from oidc_helpers import pkce
from oidc_helpers import redirected_to
from oidc_helpers import sign_in

from idp.authn import approvals
from idp.authn import handoff
from idp.authn import sessions

HIGH = "urn:idp:acr:high"
_QR = re.compile(r'<a href="([^"]+)" id="kiosk-app-link"')
_HANDOFF = re.compile(r'<a href="([^"]+)" id="kiosk-handoff-link"')
_UID = re.compile(r'data-uid="([^"]*)"')
_MATCH = re.compile(r'id="kiosk-app-match">(\d+)<')


@pytest.fixture(autouse=True)
def _fresh(app: Any) -> None:
    fresh_requests(app)


@pytest.fixture
def kiosk(app: Any, http: Any) -> KioskSimulator:
    simulator = KioskSimulator(http, issuer=ISSUER)
    simulator.register(name="Kiosk 7", place="Futian service hall")
    return simulator


@pytest.fixture
def phone(app: Any, citizen: Any) -> Any:
    return bound_phone(app, citizen)


class KioskScreen:
    """What the kiosk's browser shows after the kiosk software asked for a QR code."""

    def __init__(self, kiosk: KioskSimulator, *, uid: str | None = None) -> None:
        self.http = kiosk.http
        response = kiosk.show_qr(uid=uid)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        self.response = response
        self.page = response.get_data(as_text=True)
        assert 'data-state="app"' in self.page and 'id="kiosk-app-qr"' in self.page
        self.qr = html_lib.unescape(_QR.search(self.page).group(1))
        self.uid = _UID.search(self.page).group(1)
        self.match = _MATCH.search(self.page).group(1)

    def status(self, http: Any = None) -> Any:
        return (http or self.http).get(f"/kiosk/qr/{self.uid}/status")

    def done(self, http: Any = None) -> Any:
        return (http or self.http).get(f"/kiosk/qr/{self.uid}/done")


def kiosk_sessions_of(store: Any, citizen: Any) -> list[Any]:
    return [s for s in sessions.list_for(store, citizen.id) if s.kiosk_id]


def sso_header(app: Any, response: Any) -> str:
    [header] = [
        h
        for h in response.headers.getlist("Set-Cookie")
        if h.startswith(app.config["IDP_SESSION_COOKIE"] + "=")
    ]
    return header.lower()


# --- sign in with the app at the kiosk --------------------------------------------------------


def test_the_app_signs_the_kiosk_in_with_a_short_kiosk_session(
    app: Any, http: Any, kiosk: KioskSimulator, phone: Any, citizen: Any, store: Any
) -> None:
    screen = KioskScreen(kiosk)
    scanned = phone.scan(screen.qr)
    assert scanned.status == 200, scanned.body
    # The app shows the channel and the kiosk's *registered* place, and the same code.
    assert scanned.body["channel"] == "kiosk"
    assert scanned.body["place"] == "Futian service hall"
    assert scanned.body["match"] == screen.match
    assert screen.status().get_json() == {"status": "scanned"}
    assert phone.decide(scanned.body["id"], "approve", uv=True, uvm="face").status == 200
    assert screen.status().get_json() == {"status": "approved"}

    done = screen.done()
    assert done.status_code == 303, done.get_data(as_text=True)[:500]
    header = sso_header(app, done)
    assert "expires=" not in header and "max-age" not in header  # a browser-session cookie
    home = http.get(path_of(done), follow_redirects=True)
    assert 'data-state="signed_in"' in home.text and "Futian service hall" in home.text

    [session] = kiosk_sessions_of(store, citizen)
    assert session.kiosk_id == kiosk.client_id
    assert session.place == "Futian service hall"
    assert session.expires_at - session.created_at == app.config["IDP_KIOSK_SESSION_SECONDS"]
    assert session.idle == app.config["IDP_KIOSK_IDLE_SECONDS"]
    # The proof is the app's: its channel, device and methods, at its level.
    assert session.channel == "mobile" and session.device_id == phone.device_id
    assert session.acr == HIGH and session.amr == ["swk", "face", "mfa"]
    assert store.get("kiosk-session", kiosk.client_id)["sid"] == session.sid

    # The account page lists it as a kiosk session, with the kiosk's place.
    page = http.get("/account", headers={"Accept-Language": "en"}).text
    assert "Self-service kiosk" in page and "Futian service hall" in page

    # End signs the kiosk out.
    response = http.post("/kiosk/end", data={"csrf_token": csrf_from(home.text)})
    assert response.status_code == 303
    assert kiosk_sessions_of(store, citizen) == []
    assert store.get("kiosk-session", kiosk.client_id) is None
    assert 'data-state="idle"' in http.get("/kiosk").text


def test_portals_on_the_kiosk_see_the_apps_channel_and_amr(
    app: Any, http: Any, kiosk: KioskSimulator, phone: Any, citizen: Any, rp: Any
) -> None:
    screen = KioskScreen(kiosk)
    phone.approve_qr(screen.qr, uv=True, uvm="fpt")
    assert screen.done().status_code == 303
    grant_consent(citizen, rp)
    tokens = sign_in(http, rp)
    _, claims = decode_id_token(http, tokens["id_token"], client_id=rp.client_id)
    assert claims["acr"] == HIGH
    assert claims["amr"] == ["swk", "fpt", "mfa"]
    assert claims["channel"] == "mobile"  # where the level was proved


def test_a_device_bound_at_substantial_never_yields_high_at_the_kiosk(
    app: Any, http: Any, kiosk: KioskSimulator, citizen: Any, store: Any
) -> None:
    phone = bound_phone(app, citizen, amr=("pwd", "otp"))
    screen = KioskScreen(kiosk)
    phone.approve_qr(screen.qr, uv=True, uvm="face")
    assert screen.done().status_code == 303
    [session] = kiosk_sessions_of(store, citizen)
    assert session.acr == "urn:idp:acr:substantial"


def test_a_portal_waiting_at_the_kiosk_signs_in_with_the_app(
    app: Any, http: Any, kiosk: KioskSimulator, phone: Any, citizen: Any, rp: Any
) -> None:
    grant_consent(citizen, rp)
    verifier, challenge = pkce()
    query = authorize_params(rp, code_challenge=challenge, code_challenge_method="S256")
    started = http.get("/authorize?" + urlencode(query))
    uid = path_of(started).rstrip("/").rsplit("/", 1)[1]
    # The kiosk software opens the kiosk screen for that sign-in and asks for a code.
    screen = KioskScreen(kiosk, uid=uid)
    assert screen.uid == uid
    scanned = phone.scan(screen.qr)
    assert scanned.body["client_name"] == "Tax portal"
    assert scanned.body["channel"] == "kiosk"
    phone.decide(scanned.body["id"], "approve", uv=True, uvm="fpt")
    done = screen.done()
    assert path_of(done) == f"/interaction/{uid}/resume"
    params = redirected_to(http.get(path_of(done)), rp.redirect_uri)
    assert "code" in params and params["state"] == "state-123"
    tokens = exchange(http, rp, params["code"], verifier=verifier)
    assert tokens.status_code == 200, tokens.get_json()
    _, claims = decode_id_token(http, tokens.get_json()["id_token"], client_id=rp.client_id)
    assert claims["acr"] == HIGH and claims["channel"] == "mobile"


def test_one_session_per_kiosk_a_card_after_the_app_ends_the_first(
    app: Any, http: Any, kiosk: KioskSimulator, phone: Any, citizen: Any, store: Any
) -> None:
    from idp.authn.citizens import create_citizen

    screen = KioskScreen(kiosk)
    phone.approve_qr(screen.qr)
    assert screen.done().status_code == 303
    other = create_citizen(id_number="110101199003074530", name="李四", phone=None)
    kiosk.http = app.test_client()  # the next person, in a fresh browser at the same kiosk
    assert kiosk.insert_card("110101199003074530").status_code == 303
    assert kiosk_sessions_of(store, citizen) == []
    assert len(kiosk_sessions_of(store, other)) == 1
    assert 'data-state="idle"' in http.get("/kiosk").text


def test_the_qr_session_lapses_with_the_kiosk_lifetime(
    app: Any, http: Any, kiosk: KioskSimulator, phone: Any, monkeypatch: Any
) -> None:
    import time as real_time

    screen = KioskScreen(kiosk)
    phone.approve_qr(screen.qr)
    assert screen.done().status_code == 303
    assert http.get("/kiosk/status").get_json() == {"signed_in": True}

    class Later:
        @staticmethod
        def time() -> float:
            return real_time.time() + app.config["IDP_KIOSK_SESSION_SECONDS"] + 1

    monkeypatch.setattr(sessions, "time", Later)
    assert http.get("/kiosk/status").get_json() == {"signed_in": False}
    assert 'data-state="idle"' in http.get("/kiosk").text


# --- what must fail ---------------------------------------------------------------------------


def test_a_relayed_kiosk_code_signs_in_nobody_else(
    app: Any, http: Any, kiosk: KioskSimulator, phone: Any, citizen: Any, store: Any
) -> None:
    """The request is bound to the secret in the kiosk browser's cookie (and the kiosk in
    its signed UI session): someone who relays the code, or learns the request's uid,
    gets nothing in their own browser."""
    screen = KioskScreen(kiosk)
    phone.approve_qr(screen.qr)
    attacker = app.test_client()
    assert screen.status(attacker).status_code == 404
    refused = screen.done(attacker)
    assert refused.status_code == 400 and 'data-reason="app_unknown"' in refused.text
    forged = app.test_client()
    forged.set_cookie("idp_kiosk_app", "unknown.secret", domain="localhost", path="/kiosk/")
    assert screen.status(forged).status_code == 404
    assert sso_of(app, attacker) is None and sso_of(app, forged) is None
    assert kiosk_sessions_of(store, citizen) == []
    # The kiosk's own browser still completes, once.
    assert screen.done().status_code == 303
    assert len(kiosk_sessions_of(store, citizen)) == 1


def test_an_expired_kiosk_code_signs_in_nobody(
    app: Any, http: Any, kiosk: KioskSimulator, phone: Any, citizen: Any, store: Any
) -> None:
    clock = {"now": approvals.now()}
    app.extensions["idp.clock"] = lambda: clock["now"]
    screen = KioskScreen(kiosk)
    clock["now"] += 121
    assert screen.status().get_json() == {"status": "expired"}
    scanned = phone.scan(screen.qr)
    assert scanned.status == 410
    done = screen.done()
    assert done.status_code == 410 and 'data-reason="app_expired"' in done.text
    assert kiosk_sessions_of(store, citizen) == []


def test_an_unanswered_or_refused_code_signs_in_nobody(
    http: Any, kiosk: KioskSimulator, phone: Any, citizen: Any, store: Any
) -> None:
    screen = KioskScreen(kiosk)
    waiting = screen.done()
    assert waiting.status_code == 409 and 'data-reason="app_waiting"' in waiting.text
    scanned = phone.scan(screen.qr)
    phone.decide(scanned.body["id"], "deny")
    denied = screen.done()
    assert denied.status_code == 403 and 'data-reason="app_denied"' in denied.text
    assert kiosk_sessions_of(store, citizen) == []


def test_only_a_registered_kiosk_can_ask_for_a_code(app: Any, http: Any, kiosk: Any) -> None:
    from joserfc.jwk import ECKey

    # Another key under the kiosk's name, a made-up kiosk, and no signature at all.
    other = ECKey.generate_key("P-256", parameters={"kid": kiosk.key.kid})
    forged = kiosk.show_qr(key=other)
    assert forged.status_code == 400 and 'data-reason="bad_signature"' in forged.text
    stranger = KioskSimulator(http, issuer=ISSUER)
    stranger.client_id = "notakiosk"
    unknown = stranger.show_qr()
    assert 'data-reason="bad_signature"' in unknown.text  # no hint that it is unknown
    assert 'data-reason="missing"' in http.post("/kiosk/qr", data={}).text
    # A card assertion is no QR request (typ), and the request is single use.
    card = kiosk.card_assertion("x", nonce=kiosk.page_nonce())
    wrong = http.post("/kiosk/qr", data={"assertion": card})
    assert 'data-reason="wrong_type"' in wrong.text
    request = kiosk.qr_request(nonce=kiosk.page_nonce())
    assert http.post("/kiosk/qr", data={"assertion": request}).status_code == 200
    again = http.post("/kiosk/qr", data={"assertion": request})
    assert 'data-reason="replayed"' in again.text


def test_a_qr_request_needs_the_pages_nonce(app: Any, http: Any, kiosk: Any) -> None:
    missing = kiosk.show_qr(nonce=None)
    assert missing.status_code == 400 and 'data-reason="nonce_missing"' in missing.text
    # A nonce shown to another browser is not this one's.
    elsewhere = KioskSimulator(app.test_client(), issuer=ISSUER).page_nonce()
    stolen = kiosk.show_qr(nonce=elsewhere)
    assert 'data-reason="nonce_mismatch"' in stolen.text


def sso_of(app: Any, client: Any) -> str | None:
    cookie = client.get_cookie(app.config["IDP_SESSION_COOKIE"], domain="localhost")
    return cookie.value if cookie else None


# --- hand-off: from the kiosk to the phone ---------------------------------------------------


def _continue(phone: Any, payload: str) -> str:
    reply = phone.call("POST", "/mobile/v1/handoff", {"handoff": payload})
    assert reply.status == 200, reply.body
    return urlsplit(str(reply.body["continue_url"])).path


def test_kiosk_to_phone_keeps_the_level_and_ends_the_kiosk_session(
    app: Any, http: Any, kiosk: KioskSimulator, phone: Any, citizen: Any, rp: Any, store: Any
) -> None:
    assert kiosk.insert_card(CITIZEN_ID_NUMBER).status_code == 303  # card + face: high
    home = http.get("/kiosk").text
    assert 'id="kiosk-handoff-qr"' in home
    assert http.get("/kiosk/status").get_json() == {"signed_in": True}
    payload = html_lib.unescape(_HANDOFF.search(home).group(1))
    path = _continue(phone, payload)

    browser = app.test_client()  # the phone's browser
    confirm = browser.get(path)
    assert confirm.status_code == 200
    response = browser.post(path, data={"csrf_token": csrf_from(confirm.text)})
    assert response.status_code == 303

    # The phone's session is an ordinary one: not short, not attached to any kiosk.
    [mine] = [s for s in sessions.list_for(store, citizen.id) if s.device_id == phone.device_id]
    assert mine.kiosk_id is None and mine.idle is None
    assert mine.expires_at - mine.created_at == app.config["IDP_TTL_SSO_SESSION"]
    assert store.get("kiosk-session", phone.device_id) is None
    # The kiosk session ended at the claim; the kiosk screen's poll sees it.
    assert kiosk_sessions_of(store, citizen) == []
    assert http.get("/kiosk/status").get_json() == {"signed_in": False}
    assert 'data-state="ended"' in http.get("/kiosk/ended").text

    # The phone signs a portal in at the level reached at the kiosk, from the card.
    grant_consent(citizen, rp, "openid profile")
    tokens = sign_in(browser, rp, acr_values=HIGH, prompt="none")
    _, claims = decode_id_token(browser, tokens["id_token"], client_id=rp.client_id)
    assert claims["acr"] == HIGH and claims["amr"] == ["sc", "face", "mfa"]
    assert claims["channel"] == "kiosk"  # where the level was proved


def test_the_handed_off_level_lapses_as_it_would_have_at_the_kiosk(
    app: Any, http: Any, kiosk: KioskSimulator, phone: Any, citizen: Any, store: Any
) -> None:
    from idp.authn.result import Acr
    from idp.authn.service import level_policy

    assert kiosk.insert_card(CITIZEN_ID_NUMBER).status_code == 303
    [at_kiosk] = kiosk_sessions_of(store, citizen)
    reached = at_kiosk.levels[HIGH]["at"]
    path = _continue(phone, html_lib.unescape(_HANDOFF.search(http.get("/kiosk").text).group(1)))
    browser = app.test_client()
    browser.post(path, data={"csrf_token": csrf_from(browser.get(path).text)})
    [mine] = [s for s in sessions.list_for(store, citizen.id) if s.device_id == phone.device_id]
    # High counts from when it was reached at the kiosk, not from the hand-off.
    assert mine.levels[HIGH]["at"] == reached and mine.auth_time == reached
    max_age = level_policy().lifetime(Acr.HIGH).max_age
    assert max_age is not None
    assert mine.standing(level_policy(), int(time.time())).acr == Acr.HIGH
    lapsed = mine.standing(level_policy(), reached + max_age)
    assert lapsed is None or lapsed.acr != Acr.HIGH


def test_a_handoff_from_the_qr_kiosk_session_also_ends_it(
    app: Any, http: Any, kiosk: KioskSimulator, phone: Any, citizen: Any, store: Any
) -> None:
    screen = KioskScreen(kiosk)
    phone.approve_qr(screen.qr)
    assert screen.done().status_code == 303
    path = _continue(phone, html_lib.unescape(_HANDOFF.search(http.get("/kiosk").text).group(1)))
    browser = app.test_client()
    confirm = browser.get(path).text
    assert browser.post(path, data={"csrf_token": csrf_from(confirm)}).status_code == 303
    assert kiosk_sessions_of(store, citizen) == []
    [mine] = [s for s in sessions.list_for(store, citizen.id) if s.device_id == phone.device_id]
    assert mine.kiosk_id is None and mine.channel == "mobile"


def test_handoff_claim_from_a_kiosk_session_is_no_kiosk_result(
    app: Any, http: Any, kiosk: KioskSimulator, phone: Any, citizen: Any, store: Any
) -> None:
    """``handoff.claim`` keeps the kiosk as the level's channel but never asks for a kiosk
    session (the phone's device id would otherwise be attached as a kiosk)."""
    assert kiosk.insert_card(CITIZEN_ID_NUMBER).status_code == 303
    [at_kiosk] = kiosk_sessions_of(store, citizen)
    path = _continue(phone, handoff.start(at_kiosk).payload)
    result = handoff.claim(path.rsplit("/", 1)[1])
    assert result.channel == "kiosk" and result.device_id == phone.device_id
    assert result.kiosk_id is None
