"""The audit pages in a real browser (headless Chromium, virtual WebAuthn authenticator):
an auditor signs in with their key, finds a citizen's records by ID number (the address
never holds it, the page shows it masked), pages to older records, and verifies the trail
before and after a record is edited in the database."""

from __future__ import annotations

from typing import Any

import pytest
from audit_helpers import tamper
from conftest import CITIZEN_ID_NUMBER
from test_admin_browser import _shot
from test_admin_browser import app_config  # noqa: F401 (fixture)
from test_admin_browser import live  # noqa: F401 (fixture)
from test_admin_browser import provider_server  # noqa: F401 (fixture)
from test_webauthn_browser import VirtualAuthenticator

from idp import audit
from idp.extensions import db

pytestmark = pytest.mark.e2e


def test_auditor_searches_and_verifies_the_trail(
    live: Any,  # noqa: F811
    backend: Any,
    page: Any,
    citizen: Any,
) -> None:
    from idp.authn.staff import accounts

    for n in range(4):
        audit.record("login.success", citizen_id=citizen.id, channel="kiosk", details={"n": n})
    audit.record("staff.action", details={"note": "<b>not markup</b>"})
    db.session.commit()
    _, code = accounts.create_staff(
        username="auditor", display_name="Auditor", department=None, roles=["auditor"]
    )
    VirtualAuthenticator(page, user_verification=True, user_verified=True)
    base = live.url
    page.goto(f"{base}/admin/sign-in")
    page.click("text=Register your security key")
    page.fill("#enrol-username", "auditor")
    page.fill("#enrol-code", code)
    page.click("#admin-enrol-code button[type=submit]")
    page.wait_for_selector("form#admin-enrol-key[data-ready='1']")
    page.click("#admin-enrol-button")
    page.wait_for_url(f"{base}/admin/")

    # The nav link, then search by ID number (POSTed) and event type.
    page.click("#nav-audit")
    page.wait_for_url(f"{base}/admin/audit")
    page.fill("#a-number", CITIZEN_ID_NUMBER)
    page.fill("#a-event", "login.success")
    page.click("#audit-search button[type=submit]")
    page.wait_for_selector("#audit-results")
    assert CITIZEN_ID_NUMBER not in page.url and CITIZEN_ID_NUMBER not in page.content()
    assert "11**************2X" in (page.text_content("#audit-citizen") or "")
    assert page.locator("tr.audit-record").count() == 4
    assert "kiosk" in (page.text_content("#audit-results") or "")
    _shot(page, "audit", backend)

    # The form keeps the filters, the citizen by record id; details show as text.
    assert page.input_value("#a-number") == ""
    assert page.input_value("#a-citizen") == citizen.id
    page.fill("#a-citizen", "")
    page.fill("#a-event", "staff.action")
    page.click("#audit-search button[type=submit]")
    page.wait_for_selector("code.audit-details")
    assert page.locator("#audit-results b").count() == 0
    assert "<b>not markup</b>" in (page.text_content("code.audit-details") or "")

    # Verify: intact, then a record edited behind the application's back is named.
    page.click("#audit-verify-link")
    page.wait_for_selector("#audit-ok")
    target = audit.search(events=["login.success"], limit=4)[1].seq
    tamper(live.app, ("UPDATE audit_event SET channel = 'hall' WHERE seq = :s", {"s": target}))
    page.reload()
    page.wait_for_selector("#audit-broken")
    assert f"record #{target} was edited" in (page.text_content("#audit-problems") or "")
    _shot(page, "audit-verify", backend)
