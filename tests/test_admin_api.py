"""The JSON admin API: bearer-token authentication (RFC 6750), RFC 9457 problems, the
role matrix over every call, department scope, dangerous calls, and the OpenAPI 3.1
document (valid, and covering every route)."""

from __future__ import annotations

from typing import Any

import pytest
from admin_helpers import api_token
from admin_helpers import bearer
from admin_helpers import make_member
from oidc_helpers import register
from webforms import prepare

from idp.authn.staff import accounts
from idp.authn.staff import api_tokens
from idp.authn.staff.roles import PERMISSIONS
from idp.authn.staff.roles import Role
from idp.extensions import db
from idp.web.admin.api import OPERATIONS

PROBLEM = "application/problem+json"


@pytest.fixture(autouse=True)
def _pages(app: Any) -> None:
    prepare(app)


def _problem(response: Any, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = dict(response.get_json())
    assert body["type"] == f"urn:idp:admin:problem:{kind}" and body["status"] == status
    assert body["title"]
    return body


def test_no_token_is_401_with_a_bearer_challenge(app, http):
    answer = http.get("/admin/api/clients")
    _problem(answer, 401, "unauthenticated")
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="admin"'


def test_unknown_revoked_or_expired_tokens_are_401_invalid_token(app, http):
    admin = make_member(app, username="root", roles=["administrator"])
    for token in ("idpadm_nope", "garbage"):
        answer = http.get("/admin/api/clients", headers=bearer(token))
        _problem(answer, 401, "unauthenticated")
        assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
    row, token = api_tokens.issue(staff=admin.row, name="x")
    assert http.get("/admin/api/me", headers=bearer(token)).status_code == 200
    api_tokens.revoke(staff_id=admin.id, token_id=row.id)
    _problem(http.get("/admin/api/me", headers=bearer(token)), 401, "unauthenticated")
    from datetime import UTC
    from datetime import datetime
    from datetime import timedelta

    row2, token2 = api_tokens.issue(staff=admin.row, name="y")
    row2.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db.session.commit()
    _problem(http.get("/admin/api/me", headers=bearer(token2)), 401, "unauthenticated")


def test_a_disabled_members_token_stops_working(app, http):
    admin = make_member(app, username="root", roles=["administrator"])
    token = api_token(admin)
    accounts.disable(admin.row)
    _problem(http.get("/admin/api/me", headers=bearer(token)), 401, "unauthenticated")


def test_tokens_are_stored_only_as_keyed_hashes(app):
    admin = make_member(app, username="root", roles=["administrator"])
    row, token = api_tokens.issue(staff=admin.row, name="x")
    assert token not in row.token_hash and len(row.token_hash) == 64


def test_unknown_api_path_is_a_404_problem(app, http):
    admin = make_member(app, username="root", roles=["administrator"])
    _problem(http.get("/admin/api/nothing", headers=bearer(api_token(admin))), 404, "not-found")


def test_bad_input_is_a_400_problem_naming_the_field(app, http):
    admin = make_member(app, username="root", roles=["administrator"])
    headers = bearer(api_token(admin))
    body = _problem(
        http.post("/admin/api/clients", json={"name": 5}, headers=headers), 400, "invalid-input"
    )
    assert body["field"] == "name"
    body = _problem(
        http.post("/admin/api/clients", data="[", headers=headers), 400, "invalid-input"
    )
    assert body["field"] == "body"
    body = _problem(
        http.post("/admin/api/clients", json={"name": "x", "bogus": 1}, headers=headers),
        400,
        "invalid-input",
    )
    assert body["field"] == "bogus"


# --- the role matrix over every call ------------------------------------------------------------


def _fill(path: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    return path


@pytest.mark.parametrize("role", [str(r) for r in Role])
def test_role_matrix_every_api_call(app, http, role, citizen, caplog):
    """Each role gets exactly its permissions on every call: the others are refused with
    403 and the refusal is audited. (A fresh token counts as a fresh verification.)"""
    from idp.oauth import keys

    actor = make_member(app, username="actor", roles=[role], department="Tax Bureau")
    other = make_member(app, username="other", roles=["auditor"])
    rp = register(name="Tax", department="Tax Bureau", redirect_uris=["https://tax.example.gov/cb"])
    kid = keys.list_keys()[0]["kid"]
    keys.rotate(propagation_delay=0, retire_grace=60)  # so the first key may be retired
    ids = {"client_id": rp.client_id, "citizen_id": citizen.id, "staff_id": other.id, "kid": kid}
    token = api_token(actor)
    granted = PERMISSIONS[Role(role)]
    wrong = []
    for op in OPERATIONS:
        path = "/admin/api" + _fill(op.path, ids)
        kwargs: dict[str, Any] = {"headers": bearer(token)}
        if op.body:
            kwargs["json"] = {}
        caplog.clear()
        with caplog.at_level("INFO", logger="idp.admin.events"):
            answer = http.open(path, method=op.method, **kwargs)
        if role in ("counter_staff", "hotline_agent"):  # no console, no admin API
            allowed = False
        else:
            allowed = op.permission is None or op.permission in granted
        refused = answer.status_code == 403
        if allowed == refused or answer.status_code in (401, 405, 500):
            wrong.append((op.method, op.path, answer.status_code))
        if refused:
            assert any('"outcome": "refused"' in r.getMessage() for r in caplog.records), op.path
    assert not wrong, wrong


def test_client_manager_reaches_only_their_departments_clients(app, http):
    manager = make_member(app, username="mgr", roles=["client_manager"], department="Tax Bureau")
    mine = register(
        name="Tax", department="Tax Bureau", redirect_uris=["https://tax.example.gov/cb"]
    )
    theirs = register(
        name="Housing", department="Housing", redirect_uris=["https://h.example.gov/cb"]
    )
    headers = bearer(api_token(manager))
    listed = http.get("/admin/api/clients", headers=headers).get_json()["clients"]
    assert [c["client_id"] for c in listed] == [mine.client_id]
    assert http.get(f"/admin/api/clients/{mine.client_id}", headers=headers).status_code == 200
    for method, path in [
        ("GET", f"/admin/api/clients/{theirs.client_id}"),
        ("PATCH", f"/admin/api/clients/{theirs.client_id}"),
        ("POST", f"/admin/api/clients/{theirs.client_id}/secret"),
        ("POST", f"/admin/api/clients/{theirs.client_id}/disable"),
        ("GET", f"/admin/api/clients/{theirs.client_id}/consents"),
    ]:
        kwargs = {"json": {"name": "x"}} if method == "PATCH" else {}
        _problem(http.open(path, method=method, headers=headers, **kwargs), 403, "forbidden")
    # A new client lands in their department; naming another one is refused.
    created = http.post(
        "/admin/api/clients",
        json={"name": "New", "redirect_uris": ["https://new.example.gov/cb"]},
        headers=headers,
    )
    assert created.status_code == 201 and created.get_json()["client"]["department"] == "Tax Bureau"
    moved = http.post(
        "/admin/api/clients",
        json={
            "name": "New",
            "redirect_uris": ["https://n.example.gov/cb"],
            "department": "Housing",
        },
        headers=headers,
    )
    _problem(moved, 403, "forbidden")
    moved = http.patch(
        f"/admin/api/clients/{mine.client_id}", json={"department": "Housing"}, headers=headers
    )
    _problem(moved, 403, "forbidden")


def test_dangerous_calls_need_a_freshly_created_token(app, http, rp):
    app.config["IDP_ADMIN_FRESH_VERIFICATION"] = 60
    admin = make_member(app, username="root", roles=["administrator"])
    row, token = api_tokens.issue(staff=admin.row, name="old")
    from datetime import timedelta

    row.created_at = row.created_at - timedelta(seconds=120)
    db.session.commit()
    answer = http.post(f"/admin/api/clients/{rp.client_id}/disable", headers=bearer(token))
    _problem(answer, 403, "fresh-verification-required")
    # Not dangerous: still fine with the older token.
    assert http.get(f"/admin/api/clients/{rp.client_id}", headers=bearer(token)).status_code == 200
    fresh = api_token(admin)
    assert (
        http.post(f"/admin/api/clients/{rp.client_id}/disable", headers=bearer(fresh)).status_code
        == 200
    )


def test_minting_a_token_in_the_console_needs_a_fresh_verification(app):
    import time

    from webforms import csrf_from

    admin = make_member(app, username="root", roles=["administrator"])
    page = admin.http.get("/admin/tokens")
    made = admin.http.post(
        "/admin/tokens", data={"csrf_token": csrf_from(page.get_data(as_text=True)), "name": "ci"}
    )
    assert made.status_code == 200
    html = made.get_data(as_text=True)
    assert 'id="api-token"' in html
    app.config["IDP_ADMIN_FRESH_VERIFICATION"] = 1
    time.sleep(2.1)
    again = admin.http.post("/admin/tokens", data={"csrf_token": csrf_from(html), "name": "ci2"})
    assert again.status_code == 303 and "/admin/verify" in again.headers["Location"]


# --- the OpenAPI document -----------------------------------------------------------------------


def test_openapi_document_is_valid_openapi_3_1(app, http):
    from openapi_spec_validator import validate

    doc = http.get("/admin/api/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    validate(doc)


def test_openapi_document_covers_every_admin_api_route(app, http):
    doc = http.get("/admin/api/openapi.json").get_json()
    documented = {
        (method.upper(), "/admin/api" + path)
        for path, item in doc["paths"].items()
        for method in item
    }
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin/api/") or rule.endpoint in (
            "admin_api.openapi_document",
            "admin_api.unknown",
        ):
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((method, path))
    assert routes and routes == documented


HOSTILE_BODIES = [
    {},
    {"roles": 1},
    {"roles": [1, 2]},
    {"algs": "ES256"},
    {"algs": ["HS256"]},
    {"immediate": "yes"},
    {"sid": 5},
    {"id_number": None},
    {"id_number": "1" * 200},
    {"citizen_id": 1, "client_id": []},
    {"authenticator": {}},
    {"department": 3, "roles": ["auditor"]},
    {"name": "x" * 500, "redirect_uris": ["https://a.example/cb"]},
    {"redirect_uris": "https://a.example/cb", "name": "x"},
    {"scope_policy": [], "name": "x", "redirect_uris": ["https://a.example/cb"]},
    {"username": "\x00", "display_name": "x", "roles": ["auditor"]},
]


def test_hostile_input_never_makes_a_500(app, http, citizen, rp):
    """Every call, every wrong type: a 4xx problem, never a stack trace."""
    admin = make_member(app, username="root", roles=["administrator"])
    other = make_member(app, username="other", roles=["auditor"])
    from idp.oauth import keys

    ids = {
        "client_id": rp.client_id,
        "citizen_id": citizen.id,
        "staff_id": other.id,
        "kid": keys.list_keys()[0]["kid"],
    }
    headers = bearer(api_token(admin))
    failures = []
    for op in OPERATIONS:
        path = "/admin/api" + _fill(op.path, ids)
        for body in HOSTILE_BODIES if op.body else [None]:
            kwargs: dict[str, Any] = {"headers": headers}
            if body is not None:
                kwargs["json"] = body
            answer = http.open(path, method=op.method, **kwargs)
            if answer.status_code >= 500:
                failures.append((op.method, op.path, body))
        for weird in ("%00", "x" * 300, "..%2F..%2Fetc"):
            answer = http.open(
                "/admin/api" + _fill(op.path, dict.fromkeys(ids, weird)),
                method=op.method,
                headers=headers,
                json={},
            )
            if answer.status_code >= 500:
                failures.append((op.method, op.path, weird))
    assert not failures, failures


def test_wrong_method_is_a_405_problem_with_allow(app, http):
    admin = make_member(app, username="root", roles=["administrator"])
    answer = http.delete("/admin/api/clients", headers=bearer(api_token(admin)))
    _problem(answer, 405, "method-not-allowed")
    assert answer.headers["Allow"] == "GET, POST"


def test_admin_edits_back_channel_logout_and_grant_types_with_the_cli_rules(app, http, rp):
    # Merged from the back-channel and client-credentials work: the API edits the same
    # fields the CLI does, under the same validation, and every change is on the trail.
    admin = make_member(app, username="root", roles=["administrator"])
    headers = bearer(api_token(admin))
    path = f"/admin/api/clients/{rp.client_id}"

    bad = http.patch(
        path, json={"backchannel_logout_uri": "http://portal.example.gov/bc"}, headers=headers
    )
    _problem(bad, 400, "invalid-input")
    assert bad.get_json()["field"] == "backchannel_logout_uri"

    good = http.patch(
        path,
        json={
            "backchannel_logout_uri": "https://portal.example.gov/bc",
            "backchannel_logout_session_required": True,
        },
        headers=headers,
    )
    assert good.status_code == 200, good.get_data(as_text=True)
    shown = http.get(path, headers=headers).get_json()
    assert shown["backchannel_logout_uri"] == "https://portal.example.gov/bc"
    assert shown["backchannel_logout_session_required"] is True

    # A service scope needs the client credentials grant; together they are accepted.
    refused = http.patch(path, json={"scope": "openid licences:load"}, headers=headers)
    _problem(refused, 400, "invalid-input")
    allowed = http.patch(
        path,
        json={
            "scope": "openid profile licences:load",
            "grant_types": ["authorization_code", "client_credentials"],
        },
        headers=headers,
    )
    assert allowed.status_code == 200, allowed.get_data(as_text=True)
    assert http.get(path, headers=headers).get_json()["grant_types"] == [
        "authorization_code",
        "client_credentials",
    ]

    from sqlalchemy import select

    from idp.models import AuditEvent

    db.session.rollback()
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.event == "admin.clients.update")
    ).all()
    # The two accepted edits (input errors change nothing and are answered, not recorded).
    assert [e.outcome for e in events] == ["success", "success"]
    assert all(e.actor_type == "staff" and e.actor_id == admin.id for e in events)
    assert events[0].details["after"]["backchannel_logout_uri"] == "https://portal.example.gov/bc"
