"""The console's pages: the role matrix over every page (and every form action), and
the main flows through real forms with CSRF tokens: register a client (the secret shown
once), edit it, rotate its secret, find a citizen by ID number, lock them, revoke a
consent, create a staff member."""

from __future__ import annotations

import re
from typing import Any

import pytest
from admin_helpers import make_member
from conftest import CITIZEN_ID_NUMBER
from oidc_helpers import grant_consent
from oidc_helpers import register
from webforms import csrf_from
from webforms import prepare

from idp.authn.staff.roles import PERMISSIONS
from idp.authn.staff.roles import Role
from idp.extensions import db
from idp.web.admin.console import PAGES


@pytest.fixture(autouse=True)
def _pages(app: Any) -> None:
    prepare(app)


def _fill(rule: str, ids: dict[str, str]) -> str:
    return re.sub(r"<(\w+)>", lambda m: ids[m.group(1)], rule)


@pytest.mark.parametrize("role", [str(r) for r in Role])
def test_role_matrix_every_console_page(app, role, citizen, caplog):
    member = make_member(app, username="actor", roles=[role], department="Tax Bureau")
    other = make_member(app, username="other", roles=["auditor"])
    rp = register(name="Tax", department="Tax Bureau", redirect_uris=["https://tax.example.gov/cb"])
    from idp.oauth import keys

    ids = {
        "client_id": rp.client_id,
        "citizen_id": citizen.id,
        "staff_id": other.id,
        "kid": keys.list_keys()[0]["kid"],
        "token_id": "00000000-0000-0000-0000-000000000000",
    }
    http = member.http
    granted = PERMISSIONS[Role(role)]
    wrong = []
    for page in PAGES:
        for method in page.methods:
            home = http.get("/admin/")
            if home.status_code != 200:  # counter staff: no console, but a CSRF token
                home = http.get("/admin/sign-in")
            data = {"csrf_token": csrf_from(home.get_data(as_text=True))}
            caplog.clear()
            with caplog.at_level("INFO", logger="idp.admin.events"):
                answer = http.open(
                    _fill(page.rule, ids).join(["/admin", ""]), method=method, data=data
                )
            if role in ("counter_staff", "hotline_agent"):
                # No console session at all: every page sends them to the sign-in page.
                ok = answer.status_code == 303 and "/admin/sign-in" in answer.headers["Location"]
            else:
                needed = page.needs(method)
                allowed = needed is None or needed in granted
                ok = (answer.status_code == 403) != allowed and answer.status_code < 500
                if answer.status_code == 403:
                    refused = [
                        r for r in caplog.records if '"outcome": "refused"' in r.getMessage()
                    ]
                    ok = ok and bool(refused)
            if not ok:
                wrong.append((method, page.rule, answer.status_code))
    assert not wrong, wrong


def test_register_edit_and_rotate_a_client_through_the_console(app):
    admin = make_member(app, username="root", roles=["administrator"])
    http = admin.http
    form = http.get("/admin/clients/new")
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    bad = http.post(
        "/admin/clients/new",
        data={
            "csrf_token": csrf_from(html),
            "name": "Housing",
            "redirect_uris": "https://housing.example.gov/cb#x",
            "scope": "openid profile",
        },
    )
    assert bad.status_code == 400 and "must not contain a fragment" in bad.get_data(as_text=True)
    made = http.post(
        "/admin/clients/new",
        data={
            "csrf_token": csrf_from(html),
            "name": "Housing",
            "department": "Housing Bureau",
            "redirect_uris": "https://housing.example.gov/cb\nhttps://housing.example.gov/cb2",
            "scope": "openid profile",
            "auth_method": "client_secret_basic",
            "access_token_format": "jwt",
            "access_token_ttl": "300",
        },
    )
    assert made.status_code == 200
    page = made.get_data(as_text=True)
    client_id = re.search(r'id="client-id">([^<]+)<', page).group(1)
    secret = re.search(r'id="client-secret">([^<]+)<', page).group(1)
    from idp.oauth.clients import get_client

    client = get_client(client_id)
    assert client.redirect_uris == [
        "https://housing.example.gov/cb",
        "https://housing.example.gov/cb2",
    ]
    assert client.access_token_format == "jwt" and client.access_token_ttl == 300
    assert secret not in http.get(f"/admin/clients/{client_id}").get_data(as_text=True)
    edit = http.get(f"/admin/clients/{client_id}")
    saved = http.post(
        f"/admin/clients/{client_id}",
        data={
            "csrf_token": csrf_from(edit.get_data(as_text=True)),
            "name": "Housing services",
            "department": "Housing Bureau",
            "redirect_uris": "https://housing.example.gov/cb",
            "scope": "openid profile phone",
            "auth_method": "client_secret_basic",
            "id_token_alg": "RS256",
            "minimum_acr": "substantial",
            "access_token_format": "opaque",
        },
    )
    assert saved.status_code == 303
    db.session.refresh(client)
    assert client.name == "Housing services" and client.scope == "openid profile phone"
    assert client.minimum_acr == "urn:idp:acr:substantial"
    assert client.id_token_signed_response_alg == "RS256"
    page = http.get(f"/admin/clients/{client_id}")
    rotated = http.post(
        f"/admin/clients/{client_id}/secret",
        data={"csrf_token": csrf_from(page.get_data(as_text=True))},
    )
    new_secret = re.search(r'id="client-secret">([^<]+)<', rotated.get_data(as_text=True)).group(1)
    assert new_secret != secret
    from idp.oauth.clients import query_client

    assert query_client(client_id).check_client_secret(new_secret)
    assert not query_client(client_id).check_client_secret(secret)


def test_find_a_citizen_lock_and_revoke_through_the_console(app, citizen, rp, login, caplog):
    grant_consent(citizen, rp)
    login()
    admin = make_member(app, username="root", roles=["administrator"])
    http = admin.http
    search = http.get("/admin/citizens")
    with caplog.at_level("INFO"):
        found = http.post(
            "/admin/citizens",
            data={
                "csrf_token": csrf_from(search.get_data(as_text=True)),
                "id_number": CITIZEN_ID_NUMBER,
            },
        )
    assert found.status_code == 303 and found.headers["Location"].endswith(
        f"/admin/citizens/{citizen.id}"
    )
    assert (
        CITIZEN_ID_NUMBER not in found.headers["Location"] and CITIZEN_ID_NUMBER not in caplog.text
    )
    page = http.get(f"/admin/citizens/{citizen.id}")
    html = page.get_data(as_text=True)
    assert "11**************2X" in html and CITIZEN_ID_NUMBER not in html
    assert "Tax portal" in html
    locked = http.post(f"/admin/citizens/{citizen.id}/lock", data={"csrf_token": csrf_from(html)})
    assert locked.status_code == 303
    db.session.refresh(citizen)
    assert citizen.locked_at is not None
    revoked = http.post(
        "/admin/consents/revoke",
        data={
            "csrf_token": csrf_from(html),
            "citizen_id": citizen.id,
            "client_id": rp.client_id,
            "back": "citizen",
        },
    )
    assert revoked.status_code == 303
    from idp.consent.service import find_active

    assert find_active(citizen_id=citizen.id, client_id=rp.client_id) is None
    missing = http.post(
        "/admin/citizens", data={"csrf_token": csrf_from(html), "id_number": "110101199003074530"}
    )
    assert missing.status_code == 404


def test_create_staff_through_the_console_shows_the_code_once(app):
    admin = make_member(app, username="root", roles=["administrator"])
    page = admin.http.get("/admin/staff")
    made = admin.http.post(
        "/admin/staff/new",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "username": "mgr",
            "display_name": "Manager",
            "department": "Tax Bureau",
            "roles": ["client_manager"],
        },
    )
    assert made.status_code == 200
    code = re.search(r'id="enrolment-code">([^<]+)<', made.get_data(as_text=True)).group(1)
    assert code not in admin.http.get("/admin/staff").get_data(as_text=True)
    from admin_helpers import enrol
    from soft_authenticator import SoftAuthenticator

    manager = app.test_client()
    assert enrol(manager, "mgr", code, SoftAuthenticator()).status_code == 303
    assert manager.get("/admin/clients").status_code == 200
    assert manager.get("/admin/staff").status_code == 403
