"""The service-hall counter page in headless Chromium with a virtual WebAuthn
authenticator (user verification on): a counter staff member registers their key with
the one-time code, signs in at a registered counter terminal, the terminal posts a
signed card reading with the counter page's nonce from that browser, the staff member
ticks and confirms the face and starts the assisted session. Debian's Chromium only
(``/usr/bin/chromium``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import CITIZEN_ID_NUMBER
from counter_simulator import CounterSimulator
from test_e2e_browser import SCREENSHOTS
from test_e2e_browser import LiveServer
from test_webauthn_browser import VirtualAuthenticator

pytestmark = pytest.mark.e2e


@pytest.fixture
def provider_server() -> Iterator[LiveServer]:
    server = LiveServer("idp")
    # WebAuthn: the RP ID must be a domain; "localhost" is one, and a secure context.
    server.url = f"http://localhost:{server.server.server_port}"
    yield server
    server.close()


@pytest.fixture
def app_config(provider_server: LiveServer) -> dict[str, Any]:
    return {"IDP_ISSUER": provider_server.url, "SERVER_NAME": None, "IDP_COOKIE_SECURE": False}


@pytest.fixture
def live(app: Any, provider_server: LiveServer) -> Any:
    provider_server.app = app
    return provider_server


def test_counter_page_card_face_and_assisted_session(
    live: Any, backend: Any, page: Any, citizen: Any
) -> None:
    from idp.authn.staff import accounts

    base = live.url
    counter = CounterSimulator(None, issuer=base)
    counter.register()
    _, code = accounts.create_staff(
        username="clerk", display_name="Counter Clerk", department=None, roles=["counter_staff"]
    )
    authenticator = VirtualAuthenticator(page, user_verification=True, user_verified=True)

    # The clerk registers their key (no console access: the counter is where it is used).
    page.goto(f"{base}/admin/enrol")
    page.fill("#enrol-username", "clerk")
    page.fill("#enrol-code", code)
    page.click("#admin-enrol-code button[type=submit]")
    page.wait_for_selector("form#admin-enrol-key[data-ready='1']")
    page.click("#admin-enrol-button")
    page.wait_for_selector("p.notice[role=status]")
    assert len(authenticator.credentials()) == 1

    # The counter terminal opens its page; the clerk signs in with the key.
    page.goto(f"{base}/hall?counter={counter.client_id}")
    page.wait_for_selector("form#hall-sign-in[data-ready='1']")
    page.click("#hall-sign-in-button")
    page.wait_for_selector("#hall-state[data-state=waiting]")
    assert "Futian service hall, Window 3" in (page.text_content("#hall-counter") or "")

    # The reader software reads the page's nonce and posts the signed card reading with
    # it from the counter's browser.
    nonce = page.get_attribute("#hall-state", "data-nonce")
    assert nonce
    answer = page.request.post(
        f"{base}/hall/card",
        form={"assertion": counter.card_reading(CITIZEN_ID_NUMBER, nonce=nonce)},
        max_redirects=0,
    )
    assert answer.status == 303, answer.text()[:500]
    page.goto(base + answer.headers["location"].removeprefix(base))
    page.wait_for_selector("#hall-citizen")
    assert CITIZEN_ID_NUMBER not in page.content()
    page.screenshot(path=str(SCREENSHOTS / f"hall-case-{backend[0]}.png"), full_page=True)

    # No assisted session before the face is confirmed; the tick is required.
    assert page.locator("#hall-start-session").count() == 0
    page.check("#hall-face-matches")
    page.click("#hall-confirm-button")
    page.wait_for_selector("#hall-face[data-state=confirmed]")
    page.click("#hall-start-session")
    page.wait_for_selector("#hall-assisted")
    page.screenshot(path=str(SCREENSHOTS / f"hall-assisted-{backend[0]}.png"), full_page=True)
