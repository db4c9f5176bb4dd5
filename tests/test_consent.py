"""The consent step (OIDC Core 3.1.2.4) for portals not marked first-party."""

from __future__ import annotations

import pytest
from oidc_helpers import ISSUER
from oidc_helpers import authorize
from oidc_helpers import csrf_from
from oidc_helpers import fresh_requests
from oidc_helpers import redirected_to
from oidc_helpers import register


@pytest.fixture(autouse=True)
def _fresh(app):
    fresh_requests(app)


def consent_page(http, rp, **params):
    parked = authorize(http, rp, **params)
    assert parked.status_code == 303, parked.data[:300]
    shown = http.get(parked.headers["Location"])
    assert shown.status_code == 303 and "/resume" in shown.headers["Location"]
    page = http.get(shown.headers["Location"])
    assert page.status_code == 200
    uid = parked.headers["Location"].rstrip("/").split("/")[-1]
    return uid, page


def decide(http, uid, page, decision):
    return http.post(
        f"/interaction/{uid}/consent",
        data={"csrf_token": csrf_from(page.get_data(as_text=True)), "decision": decision},
    )


def test_consent_page_shows_portal_and_data(http, rp, login):
    login()
    _, page = consent_page(http, rp, scope="openid profile phone offline_access", ui_locales="en")
    html = page.get_data(as_text=True)
    assert "Tax portal" in html and "Tax Bureau" in html
    for words in (
        "Your name, date of birth and sex",
        "Your mobile phone number",
        "while you are signed out",
        "not your ID number",
    ):
        assert words in html
    assert "style=" not in html and "<script" not in html


def test_consent_page_in_chinese_by_default(http, rp, login):
    login()
    _, page = consent_page(http, rp, ui_locales="zh-CN")
    assert page.status_code == 200
    assert 'lang="zh-CN"' in page.get_data(as_text=True)


def test_approve_issues_code_and_remembers(http, rp, citizen, login):
    from idp.consent import service

    login()
    uid, page = consent_page(http, rp, scope="openid profile")
    params = redirected_to(decide(http, uid, page, "approve"), rp.redirect_uri)
    assert "code" in params and params["state"] == "state-123" and params["iss"] == ISSUER
    record = service.find_active(citizen_id=citizen.id, client_id=rp.client_id)
    assert record is not None and set(record.scopes) == {"openid", "profile"}
    # Remembered: the next request goes straight back with a code.
    again = redirected_to(authorize(http, rp, scope="openid profile"), rp.redirect_uri)
    assert "code" in again
    # A subset is covered too; more data asks again.
    assert "code" in redirected_to(authorize(http, rp, scope="openid"), rp.redirect_uri)
    assert authorize(http, rp, scope="openid phone").status_code == 303


def test_deny_returns_access_denied(http, rp, citizen, login):
    from idp.consent import service

    login()
    uid, page = consent_page(http, rp)
    params = redirected_to(decide(http, uid, page, "deny"), rp.redirect_uri)
    assert params["error"] == "access_denied"
    assert params["state"] == "state-123" and params["iss"] == ISSUER
    assert service.find_active(citizen_id=citizen.id, client_id=rp.client_id) is None


def test_consent_is_single_use(http, rp, login):
    login()
    uid, page = consent_page(http, rp)
    decide(http, uid, page, "approve")
    replay = decide(http, uid, page, "approve")
    assert replay.status_code == 400 and "Location" not in replay.headers


def test_consent_post_needs_csrf_token(http, rp, login):
    login()
    uid, _ = consent_page(http, rp)
    response = http.post(f"/interaction/{uid}/consent", data={"decision": "approve"})
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_consent_post_needs_a_decision(http, rp, login):
    login()
    uid, page = consent_page(http, rp)
    assert decide(http, uid, page, "maybe").status_code == 400


def test_granting_more_keeps_earlier_scopes(http, rp, citizen, login):
    from idp.consent import service

    login()
    uid, page = consent_page(http, rp, scope="openid profile")
    decide(http, uid, page, "approve")
    uid, page = consent_page(http, rp, scope="openid phone")
    decide(http, uid, page, "approve")
    record = service.find_active(citizen_id=citizen.id, client_id=rp.client_id)
    assert set(record.scopes) == {"openid", "profile", "phone"}


def test_prompt_consent_asks_even_when_remembered(http, rp, citizen, login):
    from oidc_helpers import grant_consent

    grant_consent(citizen, rp)
    login()
    consent_page(http, rp, prompt="consent")


def test_first_party_portal_skips_consent(http, citizen, login):
    login()
    portal = register(
        name="Citizen portal", redirect_uris=["https://my.example.gov/cb"], first_party=True
    )
    params = redirected_to(authorize(http, portal), portal.redirect_uri)
    assert "code" in params


def test_revoked_consent_asks_again_and_ends_tokens(http, rp, citizen, login):
    from oidc_helpers import bearer
    from oidc_helpers import grant_consent
    from oidc_helpers import sign_in

    from idp.consent import service

    grant_consent(citizen, rp)
    login()
    token = sign_in(http, rp)
    assert service.revoke(citizen_id=citizen.id, client_id=rp.client_id, by="citizen")
    assert authorize(http, rp).status_code == 303
    assert http.get("/userinfo", headers=bearer(token["access_token"])).status_code == 401


def test_abort_from_consent_page(http, rp, login):
    login()
    uid, page = consent_page(http, rp)
    response = http.post(
        f"/interaction/{uid}/abort", data={"csrf_token": csrf_from(page.get_data(as_text=True))}
    )
    assert redirected_to(response, rp.redirect_uri)["error"] == "access_denied"


def test_disabled_while_consenting_shows_error_page(http, rp, login):
    from idp.oauth.clients import disable_client

    login()
    uid, page = consent_page(http, rp)
    disable_client(rp.client_id)
    response = decide(http, uid, page, "approve")
    assert response.status_code == 400 and "Location" not in response.headers
