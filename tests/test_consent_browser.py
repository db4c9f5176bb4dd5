"""The consent page in a real browser (headless Chromium through Playwright, issue 4).

The provider serves on a loopback port; the portal's redirect URI is a real loopback
server (``bc_portal.Portal``) that records what it receives. The citizen's sign-in is
planted (a substantial session, so the sensitive ``id_number`` scope may be released):
what is driven is the consent page itself. The portal then exchanges the code over
HTTP and reads UserInfo, as a portal would.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from bc_portal import Portal
from test_e2e_browser import LiveServer

pytestmark = pytest.mark.e2e

POLICY = {
    "profile": {"required": True, "purpose": "To fill in your tax return"},
    "phone": {"required": False, "purpose": "To text you when the refund is paid"},
    "id_number": {"required": True, "purpose": "To match your records at the tax bureau"},
}
SCOPE = "openid profile phone id_number"


@pytest.fixture
def provider_server() -> Iterator[LiveServer]:
    server = LiveServer("idp")
    yield server
    server.close()


@pytest.fixture
def app_config(provider_server: LiveServer) -> dict[str, Any]:
    return {"IDP_ISSUER": provider_server.url, "SERVER_NAME": None, "IDP_COOKIE_SECURE": False}


@pytest.fixture
def portal(app: Any) -> Iterator[Portal]:
    served = Portal(issuer=app.config["IDP_ISSUER"])
    yield served
    served.close()


@pytest.fixture
def live(app: Any, provider_server: LiveServer, portal: Portal, citizen: Any) -> Any:
    from oidc_helpers import register

    provider_server.app = app
    rp = register(
        name="Tax portal",
        department="Tax Bureau",
        redirect_uris=[portal.callback_url],
        scope=SCOPE,
        scope_policy=POLICY,
    )
    return _Live(provider=provider_server.url, rp=rp, portal=portal, citizen=citizen)


class _Live:
    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


def _signed_in(app: Any, page: Any, live: Any) -> None:
    """Plant a substantial (password + TOTP) session cookie in the browser."""
    from idp.authn import sessions
    from idp.authn.result import Acr
    from idp.authn.result import Amr
    from idp.authn.result import AuthResult
    from idp.authn.result import Channel

    _, cookie = sessions.start(
        app.extensions["idp.store"],
        result=AuthResult(
            citizen_id=live.citizen.id,
            methods=(Amr.PWD, Amr.OTP),
            acr=Acr.SUBSTANTIAL,
            channel=Channel.WEBSITE,
            auth_time=datetime.now(UTC),
        ),
        lifetime=3600,
        idle=3600,
    )
    page.context.add_cookies(
        [{"name": app.config["IDP_SESSION_COOKIE"], "value": cookie, "url": live.provider}]
    )


def _open_consent_page(app: Any, page: Any, live: Any) -> str:
    """Start the portal's request; returns the PKCE verifier."""
    _signed_in(app, page, live)
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    params = {
        "response_type": "code",
        "client_id": live.rp.client_id,
        "redirect_uri": live.portal.callback_url,
        "scope": SCOPE,
        "state": "st-1",
        "nonce": "n-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "ui_locales": "en",
    }
    page.goto(f"{live.provider}/authorize?{urlencode(params)}")
    page.wait_for_selector("button[name=decision][value=approve]")
    return verifier


def _check_page(page: Any) -> None:
    text = page.text_content("main") or page.content()
    # The portal and its department, and what each scope is for.
    assert "Tax portal" in text and "Tax Bureau" in text
    for purpose in (p["purpose"] for p in POLICY.values()):
        assert purpose in text
    # Optional scope: its own box, ticked by default. Sensitive: a separate agreement box,
    # never ticked. Required ones: no box at all.
    phone = page.locator("input[type=checkbox][name=scope][value=phone]")
    assert phone.count() == 1 and phone.is_checked()
    sensitive = page.locator("input[type=checkbox][name=agree_sensitive][value=id_number]")
    assert sensitive.count() == 1 and not sensitive.is_checked()
    assert page.locator("input[name=scope][value=id_number]").count() == 0
    assert page.locator("input[type=checkbox][value=profile]").count() == 0


def _back_at_portal(page: Any, live: Any) -> dict[str, str]:
    page.wait_for_url(re.compile("^" + re.escape(live.portal.callback_url)))
    page.wait_for_selector("#portal-callback")
    assert len(live.portal.callbacks) == 1
    return live.portal.callbacks[0]


def test_accepting_returns_a_code_for_exactly_the_chosen_scopes(app, page, live):
    verifier = _open_consent_page(app, page, live)
    _check_page(page)
    page.uncheck("input[name=scope][value=phone]")
    page.check("input[name=agree_sensitive][value=id_number]")
    page.click("button[name=decision][value=approve]")

    answer = _back_at_portal(page, live)
    assert answer["state"] == "st-1" and answer["iss"] == live.provider and "code" in answer
    token = requests.post(
        f"{live.provider}/token",
        data={
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": live.portal.callback_url,
            "code_verifier": verifier,
        },
        auth=(live.rp.client_id, live.rp.secret),
        timeout=10,
    )
    assert token.status_code == 200, token.text
    tokens = token.json()
    assert set(tokens["scope"].split()) == {"openid", "profile", "id_number"}
    info = requests.get(
        f"{live.provider}/userinfo",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    ).json()
    assert info["name"] == "张三" and info["id_number"]
    assert "phone_number" not in info


def test_declining_a_required_sensitive_scope_is_access_denied(app, page, live):
    _open_consent_page(app, page, live)
    _check_page(page)
    page.click("button[name=decision][value=approve]")  # id_number's box left unticked
    answer = _back_at_portal(page, live)
    assert answer["error"] == "access_denied" and answer["state"] == "st-1"
    assert "code" not in answer


def test_deny_button_is_access_denied(app, page, live):
    _open_consent_page(app, page, live)
    page.click("button[name=decision][value=deny]")
    answer = _back_at_portal(page, live)
    assert answer["error"] == "access_denied" and "code" not in answer
