"""End to end in headless Chromium: when the citizen signs out at the provider, the
browser itself requests the portal's front-channel logout URI (OpenID Connect
Front-Channel Logout 1.0 section 2) with ``iss`` and the ``sid`` of the portal's ID
token, under the signed-out page's real Content-Security-Policy, and then follows the
post-logout redirect with its ``state``.

The portal (``fc_portal``) signs in through the real pages; its code is exchanged over
HTTP and its ID token validated with joserfc against the published JWKS.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from fc_portal import FrontchannelPortal
from joserfc import jwt
from joserfc.jwk import KeySet
from oidc_helpers import basic
from oidc_helpers import pkce
from test_e2e_browser import _submit
from test_e2e_browser import live  # noqa: F401 - fixture
from test_e2e_browser import portal_server  # noqa: F401 - fixture
from test_e2e_browser import provider_server  # noqa: F401 - fixture

from idp.commands.demo import DEMO_ID_NUMBER
from idp.commands.demo import DEMO_PASSWORD

pytestmark = pytest.mark.e2e


@pytest.fixture
def app_config(provider_server: Any) -> dict[str, Any]:  # noqa: F811
    return {"IDP_ISSUER": provider_server.url, "SERVER_NAME": None, "IDP_COOKIE_SECURE": False}


@pytest.fixture
def fc_portal() -> Iterator[FrontchannelPortal]:
    portal = FrontchannelPortal()
    yield portal
    portal.close()


@pytest.fixture
def signed_in(app: Any, live: Any, page: Any, fc_portal: FrontchannelPortal) -> dict[str, Any]:  # noqa: F811
    """The demo citizen signed in to the front-channel portal in the browser; its ID
    token's claims, validated."""
    from idp.oauth.clients import register_client

    client, secret = register_client(
        name="Front-channel portal",
        redirect_uris=[fc_portal.callback_url],
        post_logout_redirect_uris=[fc_portal.bye_url],
        scope="openid profile",
        first_party=True,
        frontchannel_logout_uri=fc_portal.logout_uri,
        frontchannel_logout_session_required=True,
    )
    verifier, challenge = pkce()
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": fc_portal.callback_url,
        "scope": "openid",
        "state": "in-1",
        "nonce": "n-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    provider = re.escape(live.provider)
    page.goto(f"{live.provider}/authorize?{urlencode(params)}")
    page.wait_for_url(re.compile(rf"^{provider}/login/[^/?#]+"))
    page.fill("input[name=id_number]", DEMO_ID_NUMBER)
    page.fill("input[name=password]", DEMO_PASSWORD)
    _submit(page, "form:has(input[name=password])")
    page.wait_for_url(re.compile(rf"^{re.escape(fc_portal.callback_url)}\?"))
    (callback,) = fc_portal.callbacks
    token = requests.post(
        f"{live.provider}/token",
        data={
            "grant_type": "authorization_code",
            "code": callback["code"],
            "redirect_uri": fc_portal.callback_url,
            "code_verifier": verifier,
        },
        headers=basic(client.client_id, secret),
        timeout=10,
    ).json()
    keys = KeySet.import_key_set(requests.get(f"{live.provider}/jwks.json", timeout=10).json())
    claims = dict(jwt.decode(token["id_token"], keys, algorithms=["ES256", "RS256"]).claims)
    assert claims["iss"] == live.provider and claims["aud"] == client.client_id
    return {"id_token": token["id_token"], "claims": claims}


def test_rp_initiated_logout_makes_the_browser_call_the_portal_with_iss_and_sid(
    live: Any,  # noqa: F811
    page: Any,
    fc_portal: FrontchannelPortal,
    signed_in: dict[str, Any],
) -> None:
    params = {
        "id_token_hint": signed_in["id_token"],
        "post_logout_redirect_uri": fc_portal.bye_url,
        "state": "bye-1",
    }
    page.goto(f"{live.provider}/logout?{urlencode(params)}")
    # The page waited for the frame, then went on with the state.
    page.wait_for_url(f"{fc_portal.bye_url}?state=bye-1")
    assert fc_portal.byes == [{"state": "bye-1"}]
    called = fc_portal.wait_for_logout()
    assert called == {
        "tenant": "city",
        "iss": live.provider,
        "sid": signed_in["claims"]["sid"],
    }


def test_signing_out_on_the_account_page_calls_the_portal_too(
    live: Any,  # noqa: F811
    page: Any,
    fc_portal: FrontchannelPortal,
    signed_in: dict[str, Any],
) -> None:
    page.goto(f"{live.provider}/account")
    _submit(page, "form[action='/account/logout']")
    called = fc_portal.wait_for_logout()
    assert called["iss"] == live.provider and called["sid"] == signed_in["claims"]["sid"]
    page.wait_for_selector("#frontchannel-status")
