"""Passkeys in a real browser: headless Chromium with a virtual WebAuthn authenticator.

The authenticator is the Chrome DevTools Protocol's WebAuthn domain
(https://chromedevtools.github.io/devtools-protocol/tot/WebAuthn/), reached through
Playwright's CDP session: a CTAP2 platform authenticator with resident keys, with or
without user verification. Chromium runs its real WebAuthn client (clientDataJSON,
origin and RP ID checks), our ``static/js/webauthn.js`` drives it, the provider verifies.

The provider serves on ``http://localhost:<port>``: WebAuthn needs a secure context and
an RP ID that is a domain, and Chromium treats ``localhost`` as secure (an IP address
cannot be an RP ID). The demo portal (Authlib's client) verifies the ID tokens.
Debian's Chromium only (``/usr/bin/chromium``), never ``playwright install``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from test_e2e_browser import SCREENSHOTS
from test_e2e_browser import LiveServer

from idp.commands.demo import DEMO_ID_NUMBER
from idp.commands.demo import DEMO_PASSWORD

pytestmark = pytest.mark.e2e

HIGH = "urn:idp:acr:high"


@pytest.fixture
def provider_server() -> Iterator[LiveServer]:
    server = LiveServer("idp")
    # WebAuthn: the RP ID must be a domain; "localhost" is one, and a secure context.
    server.url = f"http://localhost:{server.server.server_port}"
    yield server
    server.close()


@pytest.fixture
def portal_server() -> Iterator[LiveServer]:
    server = LiveServer("portal")
    yield server
    server.close()


@pytest.fixture
def app_config(provider_server: LiveServer) -> dict[str, Any]:
    return {"IDP_ISSUER": provider_server.url, "SERVER_NAME": None, "IDP_COOKIE_SECURE": False}


class _Live:
    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


@pytest.fixture
def live(app: Any, backend: Any, provider_server: LiveServer, portal_server: LiveServer) -> Any:
    """Provider and demo portal serving; the portal also has ``/login-high``, a sign-in
    that asks for ``acr_values=urn:idp:acr:high`` (how a portal asks for a level)."""
    from demo.portal import create_portal
    from idp.commands.demo import seed_demo

    info = seed_demo(portal_url=portal_server.url)
    portal = create_portal(
        issuer=provider_server.url,
        client_id=info.client_id,
        client_secret=info.client_secret,
        base_url=portal_server.url,
    )
    client = portal.extensions["authlib.integrations.flask_client"].create_client("idp")

    @portal.get("/login-high")
    def login_high() -> Any:
        return client.authorize_redirect(f"{portal_server.url}/callback", acr_values=HIGH)

    provider_server.app = app
    portal_server.app = portal
    return _Live(backend=backend[0], provider=provider_server.url, portal=portal_server.url)


class VirtualAuthenticator:
    """A CTAP2 platform authenticator in the page's browser (CDP WebAuthn domain)."""

    def __init__(self, page: Any, *, user_verification: bool, user_verified: bool) -> None:
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("WebAuthn.enable", {"enableUI": False})
        added = self.cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "ctap2Version": "ctap2_1",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": user_verification,
                    "isUserVerified": user_verified,
                    "automaticPresenceSimulation": True,
                }
            },
        )
        self.id = added["authenticatorId"]

    def credentials(self) -> list[dict[str, Any]]:
        found = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})
        return list(found["credentials"])

    def set_user_verified(self, verified: bool) -> None:
        self.cdp.send(
            "WebAuthn.setUserVerified", {"authenticatorId": self.id, "isUserVerified": verified}
        )


def _password_sign_in(page: Any, live: Any) -> None:
    page.wait_for_url(re.compile(rf"^{re.escape(live.provider)}/login/[^/?#]+$"))
    page.fill("input[name=id_number]", DEMO_ID_NUMBER)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.locator("form:has(input[name=password]) button[type=submit]").first.click()


def _add_passkey(page: Any, live: Any, *, kind: str, name: str) -> None:
    """From a signed-out browser: sign in with the password, add a credential."""
    page.goto(f"{live.provider}/account")
    _password_sign_in(page, live)
    page.wait_for_url(f"{live.provider}/account")
    page.click("#passkeys-link")
    page.wait_for_url(f"{live.provider}/account/passkeys")
    page.wait_for_selector("form#passkey-add[data-ready='1']")
    page.check(f"input[name=kind][value={kind}]")
    page.fill("#passkey-name", name)
    page.click("#passkey-add-button")
    page.wait_for_selector("p.notice[role=status]")
    assert name in page.text_content("#passkey-list")


def _sign_out_of_account(page: Any, live: Any) -> None:
    page.goto(f"{live.provider}/account")
    page.locator("form[action='/account/logout'] button").click()
    page.wait_for_load_state()


def _portal_claims(page: Any, live: Any) -> dict[str, Any]:
    page.wait_for_url(re.compile(rf"^{re.escape(live.portal)}/"))
    page.wait_for_selector("#id-token-claims, #error")
    if page.locator("#error").count():
        raise AssertionError(page.text_content("#error"))
    return dict(json.loads(page.text_content("#id-token-claims") or "{}"))


def _consent_if_asked(page: Any, live: Any) -> None:
    provider, portal = re.escape(live.provider), re.escape(live.portal)
    page.wait_for_url(re.compile(rf"^({portal}/|{provider}/interaction/)"))
    if page.url.startswith(f"{live.provider}/interaction/"):
        page.click("button[name=decision][value=approve]")


def _portal_sign_out(page: Any, live: Any) -> None:
    page.click("#sign-out")
    page.wait_for_url(
        re.compile(rf"^({re.escape(live.portal)}/\?state=|{re.escape(live.provider)}/)")
    )
    if page.url.startswith(live.provider):
        page.click("button[name=confirm][value=yes]")
    page.wait_for_selector("#signed-out")


def test_register_a_passkey_sign_in_with_it_and_step_up_to_high(live: Any, page: Any) -> None:
    authenticator = VirtualAuthenticator(page, user_verification=True, user_verified=True)

    # 1. Register a passkey from the account page (after a password sign-in).
    _add_passkey(page, live, kind="passkey", name="This computer")
    page.screenshot(path=str(SCREENSHOTS / f"webauthn-account-{live.backend}.png"), full_page=True)
    stored = authenticator.credentials()
    assert len(stored) == 1 and stored[0]["isResidentCredential"] is True
    _sign_out_of_account(page, live)

    # 2. Sign in to the portal with the passkey alone: no ID number typed anywhere.
    page.goto(f"{live.portal}/")
    page.click("#sign-in")
    page.wait_for_url(re.compile(rf"^{re.escape(live.provider)}/login/[^/?#]+$"))
    page.click("#passkey-link")
    page.wait_for_selector("form#passkey-form[data-ready='1']")
    page.click("#passkey-sign-in")
    _consent_if_asked(page, live)
    claims = _portal_claims(page, live)
    assert claims["acr"] == HIGH
    assert claims["amr"] == ["hwk", "mfa"]
    assert DEMO_ID_NUMBER not in page.content()
    _portal_sign_out(page, live)

    # 3. A password session (low), then the portal asks for high: step-up with the
    #    passkey only; the ID token says high.
    page.click("#sign-in")
    _password_sign_in(page, live)
    _consent_if_asked(page, live)
    assert _portal_claims(page, live)["acr"] == "urn:idp:acr:low"
    page.goto(f"{live.portal}/login-high")
    page.wait_for_url(re.compile(rf"^{re.escape(live.provider)}/login/[^/?#]+"))
    assert page.locator("input[name=id_number]").count() == 0  # asked only what is missing
    page.click("a[href$='/passkey']")
    page.wait_for_selector("form#passkey-form[data-ready='1']")
    page.click("#passkey-sign-in")
    _consent_if_asked(page, live)
    claims = _portal_claims(page, live)
    page.screenshot(path=str(SCREENSHOTS / f"webauthn-high-{live.backend}.png"), full_page=True)
    assert claims["acr"] == HIGH
    assert "hwk" in claims["amr"]


def test_an_authenticator_without_user_verification_never_reaches_high(
    live: Any, page: Any
) -> None:
    # A security key that cannot verify the user (no PIN, no biometric).
    VirtualAuthenticator(page, user_verification=False, user_verified=False)
    _add_passkey(page, live, kind="security-key", name="Old key")
    _sign_out_of_account(page, live)

    page.goto(f"{live.portal}/")
    page.click("#sign-in")
    _password_sign_in(page, live)
    _consent_if_asked(page, live)
    assert _portal_claims(page, live)["acr"] == "urn:idp:acr:low"

    # Asked for high: password + a key without user verification cannot give it; the
    # portal gets an error, never a lower acr.
    page.goto(f"{live.portal}/login-high")
    page.wait_for_url(re.compile(rf"^({re.escape(live.portal)}/|{re.escape(live.provider)}/)"))
    if page.url.startswith(live.provider):
        # Offered anything, the key's assertion has no UV flag: refused.
        if page.locator("a[href$='/passkey']").count():
            page.click("a[href$='/passkey']")
            page.wait_for_selector("form#passkey-form[data-ready='1']")
            page.click("#passkey-sign-in")
            page.wait_for_selector("p.error[role=alert]:not([hidden])")
        page.locator("form[action$='/abort'] button").click()
    page.wait_for_url(re.compile(rf"^{re.escape(live.portal)}/"))
    page.wait_for_selector("#error")
    error = page.text_content("#error") or ""
    assert "unmet_authentication_requirements" in error or "access_denied" in error
    page.screenshot(path=str(SCREENSHOTS / f"webauthn-no-uv-{live.backend}.png"), full_page=True)


def test_a_passkey_that_skips_user_verification_is_refused_for_high(live: Any, page: Any) -> None:
    """The same passkey, when the device does not verify the user this time (the
    virtual authenticator's UV check fails), cannot lift a session to high."""
    authenticator = VirtualAuthenticator(page, user_verification=True, user_verified=True)
    _add_passkey(page, live, kind="passkey", name="Phone")
    _sign_out_of_account(page, live)
    authenticator.set_user_verified(False)

    page.goto(f"{live.portal}/")
    page.click("#sign-in")
    _password_sign_in(page, live)
    _consent_if_asked(page, live)
    page.wait_for_selector("#id-token-claims")
    page.goto(f"{live.portal}/login-high")
    page.wait_for_url(re.compile(rf"^{re.escape(live.provider)}/login/[^/?#]+"))
    page.click("a[href$='/passkey']")
    page.wait_for_selector("form#passkey-form[data-ready='1']")
    # The browser asks for user verification (the options say "required") and the
    # device fails it: nothing is sent.
    page.click("#passkey-sign-in")
    page.wait_for_selector("#passkey-error:not([hidden])")
    assert page.url.startswith(live.provider)

    # A tampered client that drops the requirement gets an assertion without the UV
    # flag out of the browser: the server refuses it all the same.
    def without_uv(route: Any) -> None:
        response = route.fetch()
        route.fulfill(
            response=response, json={**response.json(), "userVerification": "discouraged"}
        )

    page.route("**/passkey/options", without_uv)
    page.click("#passkey-sign-in")
    page.wait_for_selector("#form-error")
    assert "did not check that it is you" in (page.text_content("#form-error") or "")
    page.screenshot(
        path=str(SCREENSHOTS / f"webauthn-uv-failed-{live.backend}.png"), full_page=True
    )
    page.locator("form[action$='/abort'] button").click()
    page.wait_for_url(re.compile(rf"^{re.escape(live.portal)}/"))
    page.wait_for_selector("#error")
    assert "urn:idp:acr:high" not in page.content()
