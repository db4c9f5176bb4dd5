"""The RFC 8628 verification page in headless Chromium: a kiosk (the simulator, with its
own key) shows a code; the citizen, on their phone's browser, opens /device, signs in,
types the code, sees which kiosk asks and where, and approves; the kiosk's next poll
gets an ID token. Runs on both backends like every ``app`` test."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import CITIZEN_ID_NUMBER
from conftest import CITIZEN_PASSWORD
from kiosk_simulator import KioskSimulator
from test_e2e_browser import LiveServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def provider_server() -> Iterator[LiveServer]:
    server = LiveServer("idp")
    yield server
    server.close()


@pytest.fixture
def app_config(provider_server: LiveServer) -> dict[str, Any]:
    return {"IDP_ISSUER": provider_server.url, "SERVER_NAME": None, "IDP_COOKIE_SECURE": False}


@pytest.fixture
def kiosk(app: Any, provider_server: LiveServer, citizen: Any) -> KioskSimulator:
    provider_server.app = app
    simulator = KioskSimulator(app.test_client(), issuer=provider_server.url)
    simulator.register(name="Kiosk 7", place="Futian service hall")
    return simulator


def test_citizen_approves_a_kiosk_from_the_phone_browser(kiosk, provider_server, page):
    provider = re.escape(provider_server.url)
    started = kiosk.device_authorization().get_json()

    page.goto(started["verification_uri"])
    page.wait_for_url(re.compile(rf"^{provider}/login/[^/?#]+"))
    page.fill("input[name=id_number]", CITIZEN_ID_NUMBER)
    page.fill("input[name=password]", CITIZEN_PASSWORD)
    page.locator("form:has(input[name=password]) button[type=submit]").first.click()

    # Back at the verification page: the code is typed as the kiosk shows it, any case.
    page.wait_for_url(re.compile(rf"^{provider}/device$"))
    page.fill("#user_code", started["user_code"].lower())
    page.locator("form:has(#user_code) button[type=submit]").click()
    page.wait_for_selector("#kiosk-name")
    assert page.text_content("#kiosk-name") == "Kiosk 7"
    assert "Futian service hall" in (page.text_content("#kiosk-place") or "")
    assert kiosk.poll(started["device_code"]).get_json()["error"] == "authorization_pending"

    page.click("button[name=decision][value=approve]")
    page.wait_for_selector("#device-result")
    assert "Continue on the kiosk" in (page.text_content("#device-result") or "")

    token = kiosk.poll(started["device_code"])
    assert token.status_code == 200, token.get_json()
    assert "id_token" in token.get_json()


def test_citizen_denies_from_the_qr_link(kiosk, provider_server, page):
    started = kiosk.device_authorization().get_json()
    page.goto(started["verification_uri_complete"])
    page.fill("input[name=id_number]", CITIZEN_ID_NUMBER)
    page.fill("input[name=password]", CITIZEN_PASSWORD)
    page.locator("form:has(input[name=password]) button[type=submit]").first.click()
    page.wait_for_selector("#kiosk-name")
    page.click("button[name=decision][value=deny]")
    page.wait_for_selector("#device-result")
    assert kiosk.poll(started["device_code"]).get_json()["error"] == "access_denied"


# --- the kiosk screen: "sign in with the app" and "continue on your phone" -----------------


def _image_shown(page: Any, selector: str) -> bool:
    """The image is on screen and decoded (a broken data: URI has no natural width)."""
    page.wait_for_selector(selector, state="visible")
    return bool(page.eval_on_selector(selector, "img => img.complete && img.naturalWidth > 0"))


def test_kiosk_shows_the_apps_qr_code_then_the_hand_off_code(
    app, kiosk, provider_server, page, citizen
):
    from mobile_helpers import bound_phone

    phone = bound_phone(app, citizen, issuer=provider_server.url)
    page.goto(provider_server.url + "/kiosk")
    assert page.get_attribute("#kiosk-state", "data-state") == "idle"
    # The kiosk software reads the page's nonce, signs its QR request, and submits it.
    nonce = page.get_attribute("#kiosk-screen", "data-nonce")
    request = kiosk.qr_request(nonce=nonce)
    page.eval_on_selector(
        "#kiosk-app-form",
        "(form, signed) => { form.assertion.value = signed; form.submit(); }",
        request,
    )
    assert _image_shown(page, "#kiosk-app-qr")
    assert page.get_attribute("#kiosk-state", "data-state") == "app"
    qr = page.get_attribute("#kiosk-app-link", "href")
    scanned = phone.scan(qr)
    assert scanned.body["place"] == "Futian service hall"
    assert scanned.body["match"] == page.text_content("#kiosk-app-match")
    phone.decide(scanned.body["id"], "approve", uv=True, uvm="fpt")

    # The screen's poll notices the approval and finishes the sign-in by itself.
    page.wait_for_selector("#kiosk-state[data-state=signed_in]")
    assert _image_shown(page, "#kiosk-handoff-qr")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies[app.config["IDP_SESSION_COOKIE"]]["expires"] == -1  # browser session only

    # Continuing on the phone ends the kiosk session; the kiosk screen shows it.
    from urllib.parse import urlsplit

    reply = phone.call(
        "POST", "/mobile/v1/handoff", {"handoff": page.get_attribute("#kiosk-handoff-link", "href")}
    )
    assert reply.status == 200, reply.body
    phone_browser = app.test_client()
    path = urlsplit(reply.body["continue_url"]).path
    confirm = phone_browser.get(path).get_data(as_text=True)
    from oidc_helpers import csrf_from

    assert phone_browser.post(path, data={"csrf_token": csrf_from(confirm)}).status_code == 303
    page.wait_for_selector("#kiosk-state[data-state=ended]")
