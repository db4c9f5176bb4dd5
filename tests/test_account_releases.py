"""The citizen's data-release history (/account/releases): portal, categories in the
citizen's language, how, when; newest first, paginated; only their own releases."""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
from licence_helpers import load_all
from oidc_helpers import bearer
from oidc_helpers import fresh_requests
from oidc_helpers import grant_consent
from oidc_helpers import register
from oidc_helpers import sign_in

from idp.consent import releases


@pytest.fixture(autouse=True)
def _fresh(app: Any) -> None:
    fresh_requests(app)


def _rows(html: str) -> list[str]:
    body = html.split('<table id="releases">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)[1:]  # skip the header row
    return [" ".join(re.sub(r"<[^>]+>", " ", r).split()) for r in rows]


def test_signed_out_visit_goes_to_sign_in(http: Any) -> None:
    response = http.get("/account/releases")
    assert response.status_code == 303 and "/login/" in response.headers["Location"]


def test_releases_of_a_real_flow_in_english_and_chinese(
    http: Any, citizen: Any, login: Any
) -> None:
    load_all()
    portal = register(
        name="Vehicle portal",
        redirect_uris=["https://cars.example.gov/cb"],
        scope="openid profile licence:driving_licence",
    )
    grant_consent(citizen, portal, "openid profile licence:driving_licence")
    login(amr=("pwd", "otp"))  # a driving licence is sensitive: substantial
    tokens = sign_in(http, portal, scope="openid profile licence:driving_licence")
    http.get("/userinfo", headers=bearer(tokens["access_token"]))
    http.get("/api/licences", headers=bearer(tokens["access_token"]))

    page = http.get("/account/releases", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    rows = _rows(html)
    assert len(rows) == 3
    # Newest first: the licence request, then the profile request, then the sign-in.
    assert rows[0].startswith("Vehicle portal Driving licence Electronic licence request")
    assert rows[1].startswith("Vehicle portal Identifier, Basic profile Profile request")
    assert rows[2].startswith("Vehicle portal Identifier Sign-in")
    assert "<script" not in html and "style=" not in html

    zh = http.get("/account/releases", headers={"Accept-Language": "zh-CN"})
    rows = _rows(zh.get_data(as_text=True))
    assert "机动车驾驶证" in rows[0] and "基本信息" in rows[1]

    # Linked from the account page and the portals page.
    assert "/account/releases" in http.get("/account").get_data(as_text=True)
    assert "/account/releases" in http.get("/account/portals").get_data(as_text=True)


def test_paginated_newest_first_and_only_ones_own(
    http: Any, app: Any, citizen: Any, rp: Any, login: Any
) -> None:
    from idp.authn.citizens import create_citizen

    app.config["IDP_RELEASES_PER_PAGE"] = 2
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for day in range(5):
        releases.record(
            citizen_id=citizen.id,
            client_id=rp.client_id,
            consent_id=None,
            categories=["openid", "phone"] if day == 4 else ["openid"],
            via="userinfo",
            at=start + timedelta(days=day),
        )
    other = create_citizen(id_number="110105198001010016", name="李四")
    releases.record(
        citizen_id=other.id,
        client_id=rp.client_id,
        consent_id=None,
        categories=["id_number"],
        via="userinfo",
    )
    login()
    first = http.get("/account/releases", headers={"Accept-Language": "en"})
    html = first.get_data(as_text=True)
    rows = _rows(html)
    assert len(rows) == 2 and "Phone number" in rows[0] and "Phone" not in rows[1]
    assert "Page 1 of 3" in html and "page=2" in html
    assert "ID number" not in html  # the other citizen's release
    last = http.get("/account/releases?page=3", headers={"Accept-Language": "en"})
    assert len(_rows(last.get_data(as_text=True))) == 1
    assert "Page 3 of 3" in last.get_data(as_text=True)
    # Nonsense page numbers show a page, never an error.
    for raw in ("0", "-1", "abc", "99999999", "１"):
        response = http.get(f"/account/releases?page={raw}")
        assert response.status_code == 200, raw


def test_no_release_yet(http: Any, citizen: Any, login: Any) -> None:
    login()
    page = http.get("/account/releases", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "No portal has received your information yet." in page.get_data(as_text=True)
