"""Scoped consent (issue 4): the catalogue, per-client scope policy, optional and
sensitive scopes on the consent page, expiry, and release of exactly what was granted."""

from __future__ import annotations

import json
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from conftest import CITIZEN_ID_NUMBER
from oidc_helpers import authorize
from oidc_helpers import bearer
from oidc_helpers import csrf_from
from oidc_helpers import exchange
from oidc_helpers import fresh_requests
from oidc_helpers import pkce
from oidc_helpers import redirected_to
from oidc_helpers import register

SUBSTANTIAL = "urn:idp:acr:substantial"
POLICY = {
    "openid": {"required": True, "purpose": ""},
    "profile": {"required": True, "purpose": "To fill in your tax return"},
    "phone": {"required": False, "purpose": "To text you when the refund is paid"},
    "id_number": {"required": False, "purpose": "To match your records at the tax bureau"},
}


@pytest.fixture(autouse=True)
def _fresh(app):
    fresh_requests(app)


@pytest.fixture
def portal(app):
    return register(
        name="Tax portal",
        department="Tax Bureau",
        redirect_uris=["https://tax.example.gov/callback"],
        scope="openid profile phone address id_number offline_access",
        scope_policy=POLICY,
    )


def _patch_redirect(portal):
    portal.redirect_uri = "https://tax.example.gov/callback"
    return portal


def consent_page(http, rp, **params):
    verifier, challenge = pkce()
    parked = authorize(http, rp, code_challenge=challenge, code_challenge_method="S256", **params)
    assert parked.status_code == 303, parked.data[:300]
    shown = http.get(parked.headers["Location"])
    assert shown.status_code == 303 and "/resume" in shown.headers["Location"], shown.headers
    page = http.get(shown.headers["Location"])
    assert page.status_code == 200
    uid = parked.headers["Location"].rstrip("/").split("/")[-1]
    return uid, page, verifier


def decide(http, uid, page, decision="approve", **fields):
    data = [("csrf_token", csrf_from(page.get_data(as_text=True))), ("decision", decision)]
    for name, values in fields.items():
        data += [(name, v) for v in values]
    return http.post(
        f"/interaction/{uid}/consent",
        data=urlencode(data),
        content_type="application/x-www-form-urlencoded",
    )


def tokens_for(http, rp, params, verifier):
    response = exchange(http, rp, params["code"], verifier=verifier)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# --- the catalogue and discovery --------------------------------------------------------------


def test_catalogue_names_every_scope_in_both_languages():
    from idp.consent.categories import CATALOGUE

    assert list(CATALOGUE) == [
        "openid",
        "profile",
        "phone",
        "address",
        "id_number",
        "offline_access",
        "licence",
        "licence:driving_licence",
        "licence:business_licence",
        "licence:household_register",
        "licence:marriage_certificate",
    ]
    for item in CATALOGUE.values():
        assert item.name_zh and item.name_en and item.description_zh and item.description_en
    assert CATALOGUE["id_number"].sensitive and CATALOGUE["id_number"].minimum_acr == SUBSTANTIAL
    assert CATALOGUE["id_number"].claims == ("id_number", "id_type")
    sensitive = {
        "id_number",
        "licence",
        "licence:driving_licence",  # its number is the ID number
        "licence:household_register",
        "licence:marriage_certificate",
    }
    assert {s for s, c in CATALOGUE.items() if c.sensitive} == sensitive


def test_discovery_lists_the_catalogue(http):
    meta = http.get("/.well-known/openid-configuration").get_json()
    assert "id_number" in meta["scopes_supported"] and "address" in meta["scopes_supported"]
    assert {"id_number", "id_type", "address"} <= set(meta["claims_supported"])
    assert {"licence", "licence:driving_licence"} <= set(meta["scopes_supported"])


# --- scope policy -----------------------------------------------------------------------------


def test_scope_policy_names_only_scopes_the_client_may_ask_for(app):
    from idp.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        register(scope="openid profile", scope_policy={"phone": {"required": False}})
    assert refused.value.field == "scope_policy"
    for bad in (
        [],
        {"profile": "yes"},
        {"profile": {"required": "no"}},
        {"profile": {"purpose": 3}},
        {"profile": {"colour": "red"}},
        {"openid": {"required": False}},
        {"ttl_days": 0},
        {"ttl_days": True},
    ):
        with pytest.raises(InvalidInput):
            register(scope="openid profile", scope_policy=bad)


def test_cli_sets_the_scope_policy_from_a_file(app, tmp_path, rp):
    from idp.extensions import db
    from idp.models import OAuthClient

    good = tmp_path / "policy.json"
    good.write_text(json.dumps({"phone": {"required": False, "purpose": "SMS"}, "ttl_days": 30}))
    runner = app.test_cli_runner()
    done = runner.invoke(args=["clients", "update", rp.client_id, "--scope-policy", str(good)])
    assert done.exit_code == 0, done.output
    db.session.expire_all()
    assert db.session.get(OAuthClient, rp.client_id).scope_policy["phone"]["purpose"] == "SMS"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"id_number": {"required": True}}))  # rp may not ask for it
    refused = runner.invoke(args=["clients", "update", rp.client_id, "--scope-policy", str(bad)])
    assert refused.exit_code == 2 and "scope_policy" in refused.output
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    refused = runner.invoke(args=["clients", "update", rp.client_id, "--scope-policy", str(broken)])
    assert refused.exit_code == 2
    db.session.expire_all()
    assert db.session.get(OAuthClient, rp.client_id).scope_policy["ttl_days"] == 30
    created = runner.invoke(
        args=[
            "clients",
            "create",
            "--name",
            "P",
            "--redirect-uri",
            "https://p.example.gov/cb",
            "--scope",
            "openid profile phone",
            "--scope-policy",
            str(good),
            "--json",
        ]
    )
    assert created.exit_code == 0, created.output
    assert json.loads(created.output)["scope_policy"]["phone"]["required"] is False


# --- the consent page -------------------------------------------------------------------------


def test_page_shows_purposes_and_checkboxes(http, portal, login):
    _patch_redirect(portal)
    login(amr=("pwd", "otp"))
    _, page, _ = consent_page(http, portal, scope="openid profile phone id_number", ui_locales="en")
    html = page.get_data(as_text=True)
    assert "Tax portal" in html and "Tax Bureau" in html
    assert "To fill in your tax return" in html and "To text you when the refund" in html
    # Optional, not sensitive: a ticked box. Sensitive: a separate box, never ticked.
    assert '<input type="checkbox" name="scope" value="phone" checked>' in html
    assert '<input type="checkbox" name="agree_sensitive" value="id_number">' in html
    assert 'name="scope" value="id_number"' not in html
    assert 'name="scope" value="profile"' not in html  # required: no box
    assert "<script" not in html and "style=" not in html


def test_page_in_chinese_uses_the_chinese_names(http, portal, login):
    _patch_redirect(portal)
    login()
    _, page, _ = consent_page(http, portal, scope="openid profile phone", ui_locales="zh-CN")
    html = page.get_data(as_text=True)
    assert "您的姓名、出生日期和性别" in html and "您的手机号码" in html


def test_declining_an_optional_scope_signs_in_without_it(http, portal, citizen, login):
    from idp.consent import service

    _patch_redirect(portal)
    login()
    uid, page, verifier = consent_page(http, portal, scope="openid profile phone")
    params = redirected_to(decide(http, uid, page), portal.redirect_uri)  # phone unticked
    record = service.find_active(citizen_id=citizen.id, client_id=portal.client_id)
    assert set(record.scopes) == {"openid", "profile"}
    assert record.expires_at is not None
    tokens = tokens_for(http, portal, params, verifier)
    assert set(tokens["scope"].split()) == {"openid", "profile"}
    info = http.get("/userinfo", headers=bearer(tokens["access_token"])).get_json()
    assert info["name"] == "张三" and "phone_number" not in info


def test_keeping_an_optional_scope_grants_it(http, portal, citizen, login):
    _patch_redirect(portal)
    login()
    uid, page, verifier = consent_page(http, portal, scope="openid profile phone")
    params = redirected_to(decide(http, uid, page, scope=["phone"]), portal.redirect_uri)
    tokens = tokens_for(http, portal, params, verifier)
    assert set(tokens["scope"].split()) == {"openid", "profile", "phone"}
    info = http.get("/userinfo", headers=bearer(tokens["access_token"])).get_json()
    assert info["phone_number"] == "+8613800138000"


def test_declining_a_required_scope_is_access_denied(http, citizen, login):
    from idp.consent import service

    strict = register(
        name="Strict",
        redirect_uris=["https://strict.example.gov/cb"],
        scope="openid profile id_number",
        scope_policy={"id_number": {"required": True, "purpose": "Identity match"}},
    )
    strict.redirect_uri = "https://strict.example.gov/cb"
    login(amr=("pwd", "otp"))
    uid, page, _ = consent_page(http, strict, scope="openid profile id_number")
    # A required sensitive scope still needs its separate agreement: without it, denied.
    params = redirected_to(decide(http, uid, page), strict.redirect_uri)
    assert params["error"] == "access_denied" and params["state"] == "state-123"
    assert service.find_active(citizen_id=citizen.id, client_id=strict.client_id) is None


def test_unknown_checkbox_values_grant_nothing(http, portal, citizen, login):
    from idp.consent import service

    _patch_redirect(portal)
    login()
    uid, page, _ = consent_page(http, portal, scope="openid profile")
    redirected_to(
        decide(http, uid, page, scope=["phone", "x" * 500, "\x00"], agree_sensitive=["id_number"]),
        portal.redirect_uri,
    )
    record = service.find_active(citizen_id=citizen.id, client_id=portal.client_id)
    assert set(record.scopes) == {"openid", "profile"}


def test_default_policy_makes_every_scope_required(http, rp, citizen, login):
    from idp.consent import service

    login()
    uid, page, _ = consent_page(http, rp, scope="openid profile phone", ui_locales="en")
    assert 'name="scope"' not in page.get_data(as_text=True)
    redirected_to(decide(http, uid, page), rp.redirect_uri)
    record = service.find_active(citizen_id=citizen.id, client_id=rp.client_id)
    assert set(record.scopes) == {"openid", "profile", "phone"}


# --- the ID number: separate agreement, minimum level -----------------------------------------


def test_id_number_released_only_with_separate_agreement(http, portal, citizen, login):
    _patch_redirect(portal)
    login(amr=("pwd", "otp"))
    uid, page, verifier = consent_page(http, portal, scope="openid profile id_number")
    params = redirected_to(
        decide(http, uid, page, agree_sensitive=["id_number"]), portal.redirect_uri
    )
    tokens = tokens_for(http, portal, params, verifier)
    assert "id_number" in tokens["scope"].split()
    info = http.get("/userinfo", headers=bearer(tokens["access_token"])).get_json()
    assert info["id_number"] == CITIZEN_ID_NUMBER and info["id_type"] == "resident"


def test_id_number_without_agreement_is_not_released(http, portal, citizen, login):
    _patch_redirect(portal)
    login(amr=("pwd", "otp"))
    uid, page, verifier = consent_page(http, portal, scope="openid profile id_number")
    params = redirected_to(decide(http, uid, page), portal.redirect_uri)  # optional, not agreed
    tokens = tokens_for(http, portal, params, verifier)
    assert "id_number" not in tokens["scope"].split()
    info = http.get("/userinfo", headers=bearer(tokens["access_token"])).get_json()
    assert "id_number" not in info and "id_type" not in info


def test_id_number_below_substantial_needs_a_step_up(http, portal, citizen, login):
    from assurance_helpers import enrol_totp

    _patch_redirect(portal)
    enrol_totp(citizen)
    login(amr=("pwd",))
    parked = authorize(http, portal, scope="openid id_number")
    assert parked.status_code == 303 and "/interaction/" in parked.headers["Location"]
    shown = http.get(parked.headers["Location"])
    assert "/login/" in shown.headers["Location"]  # the step-up page, not consent


def test_id_number_unreachable_level_is_unmet(http, portal, citizen, login):
    _patch_redirect(portal)
    login(amr=("pwd",))  # no second factor enrolled: substantial cannot be reached
    params = redirected_to(authorize(http, portal, scope="openid id_number"), portal.redirect_uri)
    assert params["error"] == "unmet_authentication_requirements"


def test_first_party_portal_still_asks_for_sensitive_scopes(http, citizen, login):
    own = register(
        name="Citizen portal",
        redirect_uris=["https://my.example.gov/cb"],
        scope="openid profile id_number",
        first_party=True,
    )
    own.redirect_uri = "https://my.example.gov/cb"
    login(amr=("pwd", "otp"))
    assert "code" in redirected_to(authorize(http, own, scope="openid profile"), own.redirect_uri)
    assert authorize(http, own, scope="openid id_number").status_code == 303


# --- expiry -----------------------------------------------------------------------------------


def test_consent_expires_and_is_asked_again(http, portal, citizen, login):
    from idp.consent import service
    from idp.extensions import db

    _patch_redirect(portal)
    login()
    uid, page, _ = consent_page(http, portal, scope="openid profile")
    redirected_to(decide(http, uid, page), portal.redirect_uri)
    record = service.find_active(citizen_id=citizen.id, client_id=portal.client_id)
    assert timedelta(days=179) < record.expires_at - datetime.now(UTC) <= timedelta(days=180)
    assert "code" in redirected_to(
        authorize(http, portal, scope="openid profile"), portal.redirect_uri
    )
    record.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db.session.commit()
    assert authorize(http, portal, scope="openid profile").status_code == 303


def test_client_ttl_days_overrides_the_default(http, citizen, login):
    from idp.consent import service

    short = register(
        name="Short",
        redirect_uris=["https://short.example.gov/cb"],
        scope="openid profile",
        scope_policy={"ttl_days": 7},
    )
    short.redirect_uri = "https://short.example.gov/cb"
    login()
    uid, page, _ = consent_page(http, short, scope="openid profile")
    redirected_to(decide(http, uid, page), short.redirect_uri)
    record = service.find_active(citizen_id=citizen.id, client_id=short.client_id)
    assert record.expires_at - datetime.now(UTC) <= timedelta(days=7)
