"""Authorized portals (issue 4): the citizen sees what each portal may receive and can
withdraw it; withdrawal ends the portal's tokens at once and the next sign-in asks again."""

from __future__ import annotations

import pytest
from oidc_helpers import authorize
from oidc_helpers import basic
from oidc_helpers import bearer
from oidc_helpers import csrf_from
from oidc_helpers import fresh_requests
from oidc_helpers import grant_consent
from oidc_helpers import refresh
from oidc_helpers import sign_in


@pytest.fixture(autouse=True)
def _fresh(app):
    fresh_requests(app)


def _revoke(http, page, client_id, **extra):
    data = {"csrf_token": csrf_from(page.get_data(as_text=True)), "client_id": client_id, **extra}
    return http.post("/account/portals/revoke", data=data)


def test_signed_out_visit_goes_to_sign_in(http):
    response = http.get("/account/portals")
    assert response.status_code == 303 and "/login/" in response.headers["Location"]


def test_lists_each_portal_with_its_data_and_dates(http, rp, citizen, login):
    grant_consent(citizen, rp, "openid profile phone")
    login()
    page = http.get("/account/portals?ui_locales=en", headers={"Accept-Language": "en"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Tax portal" in html and "Tax Bureau" in html
    assert rp.client_id in html
    assert "<script" not in html and "style=" not in html
    assert http.get("/account").get_data(as_text=True).count("/account/portals") >= 1


def test_empty_list(http, citizen, login):
    login()
    page = http.get("/account/portals")
    assert page.status_code == 200 and "<table>" not in page.get_data(as_text=True)


def test_withdraw_ends_tokens_and_asks_again(http, rp, citizen, login):
    from idp.consent import service
    from idp.extensions import db
    from idp.models import Consent

    grant_consent(citizen, rp)
    login()
    tokens = sign_in(http, rp, scope="openid profile offline_access")
    assert "refresh_token" in tokens
    page = http.get("/account/portals")
    done = _revoke(http, page, rp.client_id)
    assert done.status_code == 303 and done.headers["Location"].endswith("/account/portals")
    assert service.find_active(citizen_id=citizen.id, client_id=rp.client_id) is None
    record = db.session.scalars(
        db.select(Consent).where(Consent.client_id == rp.client_id, Consent.revoked_by == "citizen")
    ).first()
    assert record is not None and record.revoked_at is not None
    # At once: UserInfo refuses the access token, introspection says inactive, the
    # refresh token is invalid_grant, and the next sign-in shows the consent page.
    assert http.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 401
    inspected = http.post(
        "/introspect",
        data={"token": tokens["access_token"]},
        headers=basic(rp.client_id, rp.secret),
    ).get_json()
    assert inspected == {"active": False}
    refused = refresh(http, rp, tokens["refresh_token"])
    assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_grant"
    assert authorize(http, rp).status_code == 303
    assert rp.client_id not in http.get("/account/portals").get_data(as_text=True)


def test_withdraw_needs_csrf(http, rp, citizen, login):
    from idp.consent import service

    grant_consent(citizen, rp)
    login()
    response = http.post("/account/portals/revoke", data={"client_id": rp.client_id})
    assert response.status_code == 400
    assert service.find_active(citizen_id=citizen.id, client_id=rp.client_id) is not None


def test_withdraw_touches_only_the_citizens_own_consent(http, rp, citizen, login):
    from idp.authn.citizens import create_citizen
    from idp.consent import service

    other = create_citizen(id_number="110101199003074530", name="王小明", password="x" * 16)
    grant_consent(other, rp)
    login()
    page = http.get("/account/portals")
    assert _revoke(http, page, rp.client_id).status_code == 303
    assert service.find_active(citizen_id=other.id, client_id=rp.client_id) is not None


@pytest.mark.parametrize("client_id", ["", "nope", "x" * 5000, "\x00", "' OR 1=1 --"])
def test_bad_client_id_is_never_a_500(http, citizen, login, client_id):
    login()
    page = http.get("/account/portals")
    assert _revoke(http, page, client_id).status_code == 303
