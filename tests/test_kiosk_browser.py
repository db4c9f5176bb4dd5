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
