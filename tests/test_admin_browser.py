"""The admin console in a real browser: headless Chromium with a virtual WebAuthn
authenticator (the DevTools Protocol's WebAuthn domain, user verification on).

A staff member enrols their key with the one-time code, signs out and back in with it,
and uses the main pages: register a client (the secret shown once), find a citizen by
ID number, rotate the signing keys after a fresh verification, create a staff member.
Debian's Chromium only (``/usr/bin/chromium``), never ``playwright install``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import CITIZEN_ID_NUMBER
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
def live(app: Any, backend: Any, provider_server: LiveServer) -> Any:
    provider_server.app = app
    return provider_server


def _shot(page: Any, name: str, backend: Any) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"admin-{name}-{backend[0]}.png"), full_page=True)


def test_console_sign_in_and_main_pages(live: Any, backend: Any, page: Any, citizen: Any) -> None:
    from idp.authn.staff import accounts

    _, code = accounts.create_staff(
        username="root", display_name="Root Admin", department=None, roles=["administrator"]
    )
    authenticator = VirtualAuthenticator(page, user_verification=True, user_verified=True)
    base = live.url

    # Enrolment: username + one-time code, then the key (user verification required).
    page.goto(f"{base}/admin/sign-in")
    page.click("text=Register your security key")
    page.fill("#enrol-username", "root")
    page.fill("#enrol-code", code)
    page.click("#admin-enrol-code button[type=submit]")
    page.wait_for_selector("form#admin-enrol-key[data-ready='1']")
    page.click("#admin-enrol-button")
    page.wait_for_url(f"{base}/admin/")
    assert len(authenticator.credentials()) == 1
    _shot(page, "home", backend)

    # Sign out, and back in with the key alone (a discoverable credential).
    page.click("#admin-sign-out")
    page.wait_for_url(f"{base}/admin/sign-in")
    page.wait_for_selector("form#admin-sign-in[data-ready='1']")
    page.click("#admin-sign-in-button")
    page.wait_for_url(f"{base}/admin/")

    # Register a client: the secret is shown once.
    page.click("nav.admin-nav >> text=Clients")
    page.click("#client-new")
    page.fill("#f-name", "Housing portal")
    page.fill("#f-department", "Housing Bureau")
    page.fill("#f-redirect", "https://housing.example.gov/cb")
    page.fill("#f-scope", "openid profile")
    page.click("#client-save")
    page.wait_for_selector("#client-secret")
    client_id = page.text_content("#client-id")
    assert client_id and page.text_content("#client-secret")
    _shot(page, "client-secret", backend)
    page.goto(f"{base}/admin/clients")
    assert "Housing portal" in page.text_content("#client-list")

    # Find a citizen by ID number: the page shows it masked, the URL never holds it.
    page.click("nav.admin-nav >> text=Citizens")
    page.fill("#c-number", CITIZEN_ID_NUMBER)
    page.click("#citizen-lookup button[type=submit]")
    page.wait_for_selector("#citizen-name")
    assert CITIZEN_ID_NUMBER not in page.url and CITIZEN_ID_NUMBER not in page.content()
    assert "11**************2X" in page.text_content("#citizen-number")
    _shot(page, "citizen", backend)

    # Keys: rotating is allowed right after sign-in; the new key shows as pending.
    page.click("nav.admin-nav >> text=Signing keys")
    page.click("#key-rotate-button")
    page.wait_for_selector("p.notice[role=status]")
    assert "pending" in page.text_content("#key-list")
    _shot(page, "keys", backend)

    # A fresh verification with the key, and back to where it was asked for.
    page.goto(f"{base}/admin/verify?next=/admin/keys")
    page.wait_for_selector("form#admin-verify[data-ready='1']")
    page.click("#admin-verify-button")
    page.wait_for_url(f"{base}/admin/keys")

    # Staff: create a member; the one-time code is shown once.
    page.click("nav.admin-nav >> text=Staff")
    page.fill("#s-username", "auditor1")
    page.fill("#s-name", "First Auditor")
    page.check("input[name=roles][value=auditor]")
    page.click("#staff-create")
    page.wait_for_selector("#enrolment-code")
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,}", page.text_content("#enrolment-code") or "")
    page.goto(f"{base}/admin/staff")
    assert "auditor1" in page.text_content("#staff-list")
    _shot(page, "staff", backend)
