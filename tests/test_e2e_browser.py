"""End to end: a citizen signs in to the demo portal through the real pages, in headless
Chromium, and the portal's own OpenID Connect library (Authlib) verifies the ID token.

The provider and the demo portal run as live servers on free loopback ports; the browser
is Debian's Chromium driven by Playwright (never `playwright install`). Runs on both
backends, like every test built on the ``app`` fixture. Screenshots of the consent page
and the portal's result go to /tmp (IDP_TEST_SCREENSHOTS to change) for a human to look at.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from idp.commands.demo import DEMO_ID_NUMBER
from idp.commands.demo import DEMO_NAME
from idp.commands.demo import DEMO_PASSWORD
from idp.commands.serve import threaded_server

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(os.environ.get("IDP_TEST_SCREENSHOTS", "/tmp"))


class LiveServer:
    """A threaded werkzeug server on a free loopback port, bound before its app exists
    (the provider's issuer must name the port before the app is built)."""

    def __init__(self, label: str) -> None:
        self.app: Callable[..., Any] | None = None
        self.server = threaded_server("127.0.0.1", 0, self, label=label)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert self.app is not None, "request before the app was mounted"
        return self.app(environ, start_response)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def provider_server() -> Iterator[LiveServer]:
    server = LiveServer("idp")
    yield server
    server.close()


@pytest.fixture
def portal_server() -> Iterator[LiveServer]:
    server = LiveServer("portal")
    yield server
    server.close()


@pytest.fixture
def app_config(provider_server: LiveServer) -> dict[str, Any]:
    # A live server: the issuer is its real URL, and no SERVER_NAME pins requests to
    # "localhost" (that is for the test client).
    return {"IDP_ISSUER": provider_server.url, "SERVER_NAME": None, "IDP_COOKIE_SECURE": False}


@pytest.fixture
def live(app: Any, backend: Any, provider_server: LiveServer, portal_server: LiveServer) -> Any:
    """Provider and demo portal serving, the demo citizen and portal client seeded."""
    from demo.portal import create_portal
    from idp.commands.demo import seed_demo

    info = seed_demo(portal_url=portal_server.url)
    provider_server.app = app
    portal_server.app = create_portal(
        issuer=provider_server.url,
        client_id=info.client_id,
        client_secret=info.client_secret,
        base_url=portal_server.url,
    )
    return _Live(backend=backend[0], provider=provider_server.url, portal=portal_server.url)


class _Live:
    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


def _submit(page: Any, form_selector: str, button: str = "") -> None:
    """Click the submit button of the form matching ``form_selector``."""
    form = page.locator(form_selector).first
    form.locator(
        button or "button[type=submit], input[type=submit], button:not([type])"
    ).first.click()


def test_citizen_signs_in_to_the_portal_through_the_real_pages(live, page):
    provider = re.escape(live.provider)

    # The portal knows the provider only through discovery; its sign-in button starts
    # the code flow with PKCE S256 and a nonce (Authlib's defaults for this client).
    page.goto(f"{live.portal}/")
    page.click("#sign-in")

    # /authorize parks the request as an interaction and hands it to the website channel.
    page.wait_for_url(re.compile(rf"^{provider}/login/[^/?#]+"))
    assert DEMO_ID_NUMBER not in page.url
    page.fill("input[name=id_number]", DEMO_ID_NUMBER)
    page.fill("input[name=password]", DEMO_PASSWORD)
    _submit(page, "form:has(input[name=password])")

    # A portal not marked first-party gets a consent page.
    page.wait_for_url(re.compile(rf"^{provider}/interaction/[^/?#]+"))
    page.screenshot(path=str(SCREENSHOTS / f"e2e-consent-{live.backend}.png"), full_page=True)
    page.click("button[name=decision][value=approve]")

    # Back at the portal: Authlib exchanged the code and verified the ID token itself.
    page.wait_for_url(f"{live.portal}/")
    page.wait_for_selector("#id-token-claims")
    page.screenshot(path=str(SCREENSHOTS / f"e2e-portal-{live.backend}.png"), full_page=True)
    claims = json.loads(page.text_content("#id-token-claims") or "{}")
    userinfo = json.loads(page.text_content("#userinfo") or "{}")

    assert claims["iss"] == live.provider
    assert claims["aud"] in ("demo-portal", ["demo-portal"])
    assert claims["acr"] == "urn:idp:acr:low"
    assert claims["amr"] == ["pwd"]
    assert claims["sub"] and claims["sub"] != DEMO_ID_NUMBER
    for claim in ("auth_time", "nonce", "sid", "at_hash"):
        assert claim in claims
    assert userinfo["sub"] == claims["sub"]
    assert userinfo["name"] == DEMO_NAME
    # The demo portal asks for the address scope too: the Address Claim object arrives.
    assert userinfo["address"]["locality"] == "东城区"
    assert page.text_content("#acr") == "urn:idp:acr:low"
    assert page.text_content("#amr") == "pwd"
    assert DEMO_ID_NUMBER not in page.content()

    # Signing out goes through the provider's end_session_endpoint and back. The ID
    # token hint names the session, so the provider may skip its confirmation page
    # (OIDC RP-Initiated Logout 1.0 section 2); when it asks, the citizen confirms.
    page.click("#sign-out")
    page.wait_for_url(re.compile(rf"^({re.escape(live.portal)}/\?state=|{provider}/)"))
    if page.url.startswith(live.provider):
        page.click("button[name=confirm][value=yes]")
    page.wait_for_selector("#signed-out")

    # The provider's session is gone too: signing in again asks for the password.
    page.click("#sign-in")
    page.wait_for_url(re.compile(rf"^{provider}/login/[^/?#]+"))
