"""End to end in headless Chromium: the demo portal's sign-in, "sign in with the
government app", the QR page polling while the reference app (tests/app_simulator.py,
over real HTTP) scans and approves, and the portal receiving the ID token with the
mobile channel at high."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from app_simulator import AppSimulator
from app_simulator import HttpTransport
from mobile_helpers import native_app
from test_e2e_browser import app_config  # noqa: F401 - live-server fixtures
from test_e2e_browser import live  # noqa: F401
from test_e2e_browser import portal_server  # noqa: F401
from test_e2e_browser import provider_server  # noqa: F401

from idp.authn import sessions
from idp.authn.citizens import find_by_id_number
from idp.authn.result import Acr
from idp.authn.result import Amr
from idp.authn.result import AuthResult
from idp.authn.result import Channel
from idp.commands.demo import DEMO_ID_NUMBER

pytestmark = pytest.mark.e2e


def _phone(app: Any, provider: str) -> AppSimulator:
    """The demo citizen's phone: signed in to the app at high (a session planted in
    the app's own HTTP client), key bound over HTTP."""
    from datetime import UTC
    from datetime import datetime

    citizen = find_by_id_number(DEMO_ID_NUMBER)
    assert citizen is not None
    result = AuthResult(
        citizen_id=citizen.id,
        methods=(Amr.HWK, Amr.MFA),
        acr=Acr.HIGH,
        channel=Channel.WEBSITE,
        auth_time=datetime.now(UTC),
    )
    _, cookie = sessions.start(
        app.extensions["idp.store"],
        result=result,
        lifetime=app.config["IDP_TTL_SSO_SESSION"],
        idle=app.config["IDP_TTL_SSO_IDLE"],
    )
    transport = HttpTransport(provider)
    transport.session.cookies.set(app.config["IDP_SESSION_COOKIE"], cookie)
    sim = AppSimulator(transport, issuer=provider, name="Demo phone")
    client = native_app()
    sim.sign_in(client_id=client.client_id, redirect_uri="http://127.0.0.1:40123/callback")
    assert sim.bind().status == 201
    transport.session.cookies.clear()
    return sim


def test_qr_page_signs_the_browser_in_after_the_app_approves(app: Any, live: Any, page: Any):  # noqa: F811
    provider = re.escape(live.provider)
    phone = _phone(app, live.provider)

    page.goto(f"{live.portal}/")
    page.click("#sign-in")
    page.wait_for_url(re.compile(rf"^{provider}/login/[^/?#]+"))
    page.click("#app-link")
    page.wait_for_selector("#app-qr")
    match = page.text_content("#app-match")
    qr = page.get_attribute("#app-open", "href") or ""
    assert qr.startswith(f"{live.provider}/mobile/qr/")

    # The app scans, shows the same matching code and the portal, and approves with a
    # fingerprint; the page, polling, moves on by itself.
    scanned = phone.scan(qr)
    assert scanned.status == 200 and scanned.body["match"] == match
    page.wait_for_selector("#app-wait[data-status=scanned]")
    assert phone.decide(scanned.body["id"], "approve", uv=True, uvm="fpt").status == 200

    page.wait_for_url(re.compile(rf"^{provider}/interaction/[^/?#]+"))
    page.click("button[name=decision][value=approve]")
    page.wait_for_url(f"{live.portal}/")
    page.wait_for_selector("#id-token-claims")
    claims = json.loads(page.text_content("#id-token-claims") or "{}")
    assert claims["acr"] == "urn:idp:acr:high"
    assert claims["amr"] == ["swk", "fpt", "mfa"]
    assert claims["channel"] == "mobile"


def test_the_demo_simulator_script_speaks_the_same_api(
    app: Any,
    live: Any,  # noqa: F811
    tmp_path: Any,
) -> None:
    """scripts/app_simulator.py, with a bound key in its state file, lists the devices
    and pending requests of the live provider."""
    import subprocess
    import sys
    from pathlib import Path

    phone = _phone(app, live.provider)
    state = tmp_path / "state.json"
    state.write_text(
        json.dumps({"key": phone.key.as_dict(private=True), "device_id": phone.device_id})
    )
    script = Path(__file__).resolve().parent.parent / "scripts" / "app_simulator.py"
    base = [sys.executable, str(script), "--issuer", live.provider, "--state", str(state)]
    listed = subprocess.run([*base, "devices"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "Demo phone" in listed.stdout
    pending = subprocess.run([*base, "pending"], capture_output=True, text=True, timeout=60)
    assert pending.returncode == 0 and '"requests": []' in pending.stdout
