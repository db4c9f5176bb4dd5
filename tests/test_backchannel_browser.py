"""End to end in headless Chromium: signing out on the provider's account page ends the
citizen's sign-in at the demo portal through OpenID Connect Back-Channel Logout.

The provider's own delivery worker (the serving process's thread) posts the logout
token; the demo portal validates it with joserfc against the provider's JWKS (section
2.6) and drops the sign-in, so its next page load shows the citizen signed out.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from test_e2e_browser import _submit
from test_e2e_browser import live  # noqa: F401 - fixture
from test_e2e_browser import portal_server  # noqa: F401 - fixture
from test_e2e_browser import provider_server  # noqa: F401 - fixture

from idp.commands.demo import DEMO_ID_NUMBER
from idp.commands.demo import DEMO_PASSWORD
from idp.oauth import backchannel_delivery

pytestmark = pytest.mark.e2e


@pytest.fixture
def app_config(provider_server: Any) -> dict[str, Any]:  # noqa: F811
    return {
        "IDP_ISSUER": provider_server.url,
        "SERVER_NAME": None,
        "IDP_COOKIE_SECURE": False,
        "IDP_BACKCHANNEL_WORKER": True,
    }


def test_signing_out_at_the_provider_signs_the_citizen_out_of_the_portal(
    app: Any,
    live: Any,  # noqa: F811
    page: Any,
) -> None:
    provider = re.escape(live.provider)
    try:
        page.goto(f"{live.portal}/")
        page.click("#sign-in")
        page.wait_for_url(re.compile(rf"^{provider}/login/[^/?#]+"))
        page.fill("input[name=id_number]", DEMO_ID_NUMBER)
        page.fill("input[name=password]", DEMO_PASSWORD)
        _submit(page, "form:has(input[name=password])")
        page.wait_for_url(re.compile(rf"^{provider}/interaction/[^/?#]+"))
        page.click("button[name=decision][value=approve]")
        page.wait_for_url(f"{live.portal}/")
        page.wait_for_selector("#welcome")

        # The citizen signs out on the provider's account page, in another tab.
        account = page.context.new_page()
        account.goto(f"{live.provider}/account")
        _submit(account, "form[action='/account/logout']")
        account.wait_for_load_state()

        # No portal request is involved: the provider tells the portal by itself.
        deadline = time.monotonic() + 15
        while True:
            page.goto(f"{live.portal}/")
            if page.locator("#signed-out-by-provider").count():
                break
            assert time.monotonic() < deadline, "the portal was never told"
            time.sleep(0.3)
        assert page.locator("#welcome").count() == 0
        assert page.locator("#sign-in").count() == 1
    finally:
        backchannel_delivery.stop_worker(app)
