"""What the admin operations do, seen where it matters: at the token endpoint, in the
JWKS, at introspection and UserInfo, and on the citizen's own session. Driven through
the JSON admin API (the console calls the same services; see test_admin_console.py)."""

from __future__ import annotations

from typing import Any

import pytest
from admin_helpers import api_token
from admin_helpers import bearer
from admin_helpers import make_member
from conftest import CITIZEN_ID_NUMBER
from oidc_helpers import basic
from oidc_helpers import grant_consent
from oidc_helpers import sign_in as oidc_sign_in
from webforms import prepare

from idp.authn import sessions
from idp.extensions import db

OFFLINE = "openid profile offline_access"


@pytest.fixture(autouse=True)
def _pages(app: Any) -> None:
    prepare(app)


@pytest.fixture
def admin(app: Any) -> Any:
    member = make_member(app, username="root", roles=["administrator"])
    member.headers = bearer(api_token(member))
    return member


def _refresh(http: Any, rp: Any, token: str, secret: str | None = None) -> Any:
    return http.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": token},
        headers=basic(rp.client_id, secret or rp.secret),
    )


# --- clients -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("redirect_uris", ["http://portal.example.gov/cb"]),  # http, not loopback
        ("redirect_uris", ["https://*.example.gov/cb"]),  # wildcard
        ("redirect_uris", ["https://portal.example.gov/cb#frag"]),  # fragment
        ("redirect_uris", ["https://user:pw@portal.example.gov/cb"]),  # userinfo
        ("redirect_uris", ["/relative"]),
        ("redirect_uris", []),
        ("logo_uri", "http://portal.example.gov/logo.png"),
        ("logo_uri", "https://10.0.0.7/logo.png"),  # private range
        ("logo_uri", "https://169.254.169.254/latest"),  # link-local (cloud metadata)
        ("logo_uri", "https://localhost/logo.png"),
        ("logo_uri", "https://[::ffff:127.0.0.1]/x.png"),
        ("scope", "profile"),  # no openid
        ("scope", "openid everything"),
        ("auth_method", "client_secret_jwt"),
        ("access_token_ttl", 5),
        ("access_token_ttl", "600"),
        ("first_party", "yes"),
        ("jwks", {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}),
    ],
)
def test_client_registration_validates_what_it_stores(app, http, admin, field, value):
    body = {"name": "Portal", "redirect_uris": ["https://portal.example.gov/cb"], field: value}
    answer = http.post("/admin/api/clients", json=body, headers=admin.headers)
    assert answer.status_code == 400, answer.get_json()
    problem = answer.get_json()
    assert problem["type"] == "urn:idp:admin:problem:invalid-input"
    assert problem["field"] == field


def test_http_loopback_is_for_native_clients_in_production(app, http, admin):
    native = {"name": "App", "redirect_uris": ["http://127.0.0.1:8765/cb"], "auth_method": "none"}
    portal = {"name": "Portal", "redirect_uris": ["http://localhost:5001/cb"]}
    app.config["IDP_ENV"] = "production"
    try:
        assert (
            http.post("/admin/api/clients", json=native, headers=admin.headers).status_code == 201
        )
        refused = http.post("/admin/api/clients", json=portal, headers=admin.headers)
        assert refused.status_code == 400 and refused.get_json()["field"] == "redirect_uris"
    finally:
        app.config["IDP_ENV"] = "development"


def test_private_logo_allowed_only_with_the_development_allowance(app, http, admin):
    app.config["IDP_ALLOW_PRIVATE_FETCH"] = True
    body = {
        "name": "P",
        "redirect_uris": ["https://p.example.gov/cb"],
        "logo_uri": "https://10.0.0.7/l.png",
    }
    assert http.post("/admin/api/clients", json=body, headers=admin.headers).status_code == 201


def test_create_returns_the_secret_once_and_it_works_at_the_token_endpoint(
    app, http, admin, citizen, login
):
    created = http.post(
        "/admin/api/clients",
        json={
            "name": "Housing",
            "redirect_uris": ["https://housing.example.gov/cb"],
            "scope": OFFLINE,
        },
        headers=admin.headers,
    )
    assert created.status_code == 201
    body = created.get_json()
    secret = body["client_secret"]
    assert (
        secret
        and "client_secret" not in body["client"]
        and "client_secret_hash" not in body["client"]
    )
    shown = http.get(f"/admin/api/clients/{body['client']['client_id']}", headers=admin.headers)
    assert secret not in shown.get_data(as_text=True)


def test_edit_changes_redirect_uris_scopes_levels_and_lifetimes(
    app, http, admin, rp, citizen, login
):
    answer = http.patch(
        f"/admin/api/clients/{rp.client_id}",
        json={
            "redirect_uris": ["https://tax.example.gov/callback", "https://tax.example.gov/cb2"],
            "scope": "openid profile offline_access",
            "scope_policy": {"profile": {"required": True, "purpose": "Tax filing"}},
            "default_acr": "substantial",
            "minimum_acr": "low",
            "access_token_ttl": 120,
            "first_party": True,
        },
        headers=admin.headers,
    )
    assert answer.status_code == 200, answer.get_json()
    client = answer.get_json()["client"]
    assert client["redirect_uris"][1] == "https://tax.example.gov/cb2"
    assert client["default_acr"] == "urn:idp:acr:substantial" and client["access_token_ttl"] == 120
    assert answer.get_json()["client_secret"] is None
    grant_consent(citizen, rp)
    login(amr=("pwd", "otp"))
    tokens = oidc_sign_in(http, rp, scope=OFFLINE)
    assert tokens["expires_in"] == 120


def test_edit_refuses_read_only_fields(app, http, admin, rp):
    answer = http.patch(
        f"/admin/api/clients/{rp.client_id}",
        json={"sector_identifier": "x.example"},
        headers=admin.headers,
    )
    assert answer.status_code == 400 and answer.get_json()["field"] == "sector_identifier"


def test_secret_rotation_old_secret_stops_new_one_works(app, http, admin, rp, citizen, login):
    grant_consent(citizen, rp)
    login(amr=("pwd", "otp"))
    tokens = oidc_sign_in(http, rp, scope=OFFLINE)
    rotated = http.post(f"/admin/api/clients/{rp.client_id}/secret", headers=admin.headers)
    assert rotated.status_code == 200
    new_secret = rotated.get_json()["client_secret"]
    assert new_secret != rp.secret
    old = _refresh(http, rp, tokens["refresh_token"])
    assert old.status_code == 401 and old.get_json()["error"] == "invalid_client"
    new = _refresh(http, rp, tokens["refresh_token"], secret=new_secret)
    assert new.status_code == 200


def test_disable_takes_effect_at_the_token_endpoint(app, http, admin, rp, citizen, login):
    grant_consent(citizen, rp)
    login(amr=("pwd", "otp"))
    tokens = oidc_sign_in(http, rp, scope=OFFLINE)
    disabled = http.post(f"/admin/api/clients/{rp.client_id}/disable", headers=admin.headers)
    assert disabled.status_code == 200 and disabled.get_json()["disabled"] is True
    refused = _refresh(http, rp, tokens["refresh_token"])
    assert refused.status_code == 401 and refused.get_json()["error"] == "invalid_client"
    userinfo = http.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.status_code == 401


# --- keys ----------------------------------------------------------------------------------------


def _kids(http: Any) -> set[str]:
    return {k["kid"] for k in http.get("/jwks.json").get_json()["keys"]}


def test_key_rotation_and_retirement_are_visible_in_the_jwks_with_overlap(
    app, http, admin, rp, citizen, login
):
    from idp.oauth import keys

    grant_consent(citizen, rp)
    login(amr=("pwd", "otp"))
    before = _kids(http)
    old_es = next(k["kid"] for k in keys.list_keys() if k["alg"] == "ES256")
    rotated = http.post("/admin/api/keys/rotate", json={"algs": ["ES256"]}, headers=admin.headers)
    assert rotated.status_code == 200
    new_es = rotated.get_json()["kids"][0]
    # Overlap: the successor is published before it signs; the old key still signs.
    assert _kids(http) == before | {new_es}
    states = {
        k["kid"]: k["state"]
        for k in http.get("/admin/api/keys", headers=admin.headers).get_json()["keys"]
    }
    assert states[new_es] == "pending" and states[old_es] == "signing"
    # Retiring the only ES256 signer is refused: nothing would sign.
    refused = http.post(f"/admin/api/keys/{old_es}/retire", json={}, headers=admin.headers)
    assert refused.status_code == 400
    # In an emergency: rotate with no delay, then retire the old key at once.
    now = http.post(
        "/admin/api/keys/rotate", json={"algs": ["ES256"], "immediate": True}, headers=admin.headers
    )
    newest = now.get_json()["kids"][0]
    retired = http.post(
        f"/admin/api/keys/{old_es}/retire", json={"immediate": True}, headers=admin.headers
    )
    assert retired.status_code == 200
    published = _kids(http)
    assert old_es not in published and newest in published
    from oidc_helpers import decode_id_token

    tokens = oidc_sign_in(http, rp)
    header, _ = decode_id_token(http, tokens["id_token"], client_id=rp.client_id)
    assert header["kid"] == newest


def test_retire_keeps_the_key_published_through_the_grace(app, http, admin):
    from idp.oauth import keys

    old_rs = next(k["kid"] for k in keys.list_keys() if k["alg"] == "RS256")
    http.post(
        "/admin/api/keys/rotate", json={"algs": ["RS256"], "immediate": True}, headers=admin.headers
    )
    answer = http.post(f"/admin/api/keys/{old_rs}/retire", json={}, headers=admin.headers)
    assert answer.status_code == 200 and answer.get_json()["expires_at"]
    assert old_rs in _kids(http)
    unknown = http.post("/admin/api/keys/nope/retire", json={}, headers=admin.headers)
    assert unknown.status_code == 404


# --- citizens, sessions, consents ----------------------------------------------------------


def test_citizen_lookup_by_id_number_goes_through_the_blind_index(
    app, http, admin, citizen, caplog
):
    with caplog.at_level("INFO"):
        found = http.post(
            "/admin/api/citizens/lookup",
            json={"id_number": CITIZEN_ID_NUMBER.lower()},
            headers=admin.headers,
        )
    assert found.status_code == 200
    body = found.get_json()
    assert body["id"] == citizen.id and body["id_number_masked"] == "11**************2X"
    assert CITIZEN_ID_NUMBER not in caplog.text
    missing = http.post(
        "/admin/api/citizens/lookup",
        json={"id_number": "110101199003074530"},
        headers=admin.headers,
    )
    assert missing.status_code == 404
    bad = http.post("/admin/api/citizens/lookup", json={"id_number": 7}, headers=admin.headers)
    assert bad.status_code == 400


def test_citizen_overview_lists_sessions_and_consents(app, http, admin, citizen, rp, login):
    grant_consent(citizen, rp)
    login()
    view = http.get(f"/admin/api/citizens/{citizen.id}", headers=admin.headers).get_json()
    assert view["credentials"]["password"] is True
    assert len(view["sessions"]) == 1
    assert [c["client_id"] for c in view["consents"]] == [rp.client_id]
    assert CITIZEN_ID_NUMBER not in str(view)


def test_lock_ends_sessions_and_refuses_tokens_unlock_restores_sign_in(
    app, http, admin, citizen, rp, login, store
):
    grant_consent(citizen, rp)
    login(amr=("pwd", "otp"))
    tokens = oidc_sign_in(http, rp, scope=OFFLINE)
    locked = http.post(f"/admin/api/citizens/{citizen.id}/lock", headers=admin.headers)
    assert locked.status_code == 200 and locked.get_json()["locked"] is True
    assert sessions.list_for(store, citizen.id) == []
    assert _refresh(http, rp, tokens["refresh_token"]).status_code == 400
    from conftest import CITIZEN_PASSWORD
    from webforms import sign_in as web_sign_in

    fresh = app.test_client()
    assert web_sign_in(fresh, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD).status_code != 303
    unlocked = http.post(f"/admin/api/citizens/{citizen.id}/unlock", headers=admin.headers)
    assert unlocked.get_json()["locked"] is False
    assert web_sign_in(app.test_client(), CITIZEN_ID_NUMBER, CITIZEN_PASSWORD).status_code == 303


def test_end_one_session_or_all(app, http, admin, citizen, rp, login, store):
    first = login()
    second = login()
    one = http.post(
        f"/admin/api/citizens/{citizen.id}/sessions/end",
        json={"sid": second.sid},
        headers=admin.headers,
    )
    assert one.get_json() == {"ended": 1}
    left = [s.sid for s in sessions.list_for(store, citizen.id)]
    assert second.sid not in left and (first.sid in left or not left)
    unknown = http.post(
        f"/admin/api/citizens/{citizen.id}/sessions/end", json={"sid": "x"}, headers=admin.headers
    )
    assert unknown.status_code == 404
    http.post(f"/admin/api/citizens/{citizen.id}/sessions/end", json={}, headers=admin.headers)
    assert sessions.list_for(store, citizen.id) == []
    # With the session gone, prompt=none at the portal answers login_required.
    from oidc_helpers import authorize
    from oidc_helpers import redirected_to

    params = redirected_to(authorize(http, rp, prompt="none"), rp.redirect_uri)
    assert params["error"] == "login_required"


def test_unblock_a_blocked_authenticator(app, http, admin, citizen):
    from idp.authn import authenticator_limits

    key = f"password:{citizen.id}"
    for _ in range(app.config["IDP_AUTHENTICATOR_MAX_FAILURES"]):
        authenticator_limits.record_failure(authenticator=key)
    assert authenticator_limits.is_disabled(authenticator=key)
    view = http.get(f"/admin/api/citizens/{citizen.id}", headers=admin.headers).get_json()
    assert view["blocked_authenticators"] == [key]
    answer = http.post(
        f"/admin/api/citizens/{citizen.id}/authenticators/unblock",
        json={"authenticator": key},
        headers=admin.headers,
    )
    assert answer.get_json() == {"was_blocked": True}
    assert not authenticator_limits.is_disabled(authenticator=key)
    other = http.post(
        f"/admin/api/citizens/{citizen.id}/authenticators/unblock",
        json={"authenticator": "password:someone-else"},
        headers=admin.headers,
    )
    assert other.status_code == 404


def test_admin_consent_revocation_has_the_citizens_cascade(app, http, admin, citizen, rp, login):
    grant_consent(citizen, rp)
    login(amr=("pwd", "otp"))
    tokens = oidc_sign_in(http, rp, scope=OFFLINE)
    listed = http.get(
        f"/admin/api/clients/{rp.client_id}/consents", headers=admin.headers
    ).get_json()
    assert [c["citizen_id"] for c in listed["consents"]] == [citizen.id]
    answer = http.post(
        "/admin/api/consents/revoke",
        json={"citizen_id": citizen.id, "client_id": rp.client_id},
        headers=admin.headers,
    )
    assert answer.get_json() == {"revoked": True}
    from idp.models import Consent

    row = db.session.scalars(db.select(Consent).filter_by(citizen_id=citizen.id)).first()
    db.session.refresh(row)
    assert row.revoked_by == "admin:root"
    assert _refresh(http, rp, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    introspected = http.post(
        "/introspect",
        data={"token": tokens["access_token"]},
        headers=basic(rp.client_id, rp.secret),
    )
    assert introspected.get_json() == {"active": False}
    assert http.get(
        f"/admin/api/citizens/{citizen.id}/consents", headers=admin.headers
    ).get_json() == {"consents": []}


# --- staff ---------------------------------------------------------------------------------------


def test_staff_create_roles_disable(app, http, admin):
    created = http.post(
        "/admin/api/staff",
        json={
            "username": "mgr",
            "display_name": "Manager",
            "department": "Tax Bureau",
            "roles": ["client_manager"],
        },
        headers=admin.headers,
    )
    assert created.status_code == 201
    body = created.get_json()
    member_id, code = body["staff"]["id"], body["enrolment_code"]
    assert code and body["staff"]["enrolment_pending"] is True
    listed = http.get("/admin/api/staff", headers=admin.headers).get_json()["staff"]
    assert code not in str(listed)
    roles = http.put(
        f"/admin/api/staff/{member_id}/roles", json={"roles": ["auditor"]}, headers=admin.headers
    )
    assert roles.get_json()["roles"] == ["auditor"]
    bad = http.put(
        f"/admin/api/staff/{member_id}/roles", json={"roles": ["root"]}, headers=admin.headers
    )
    assert bad.status_code == 400
    disabled = http.post(f"/admin/api/staff/{member_id}/disable", headers=admin.headers)
    assert disabled.get_json()["disabled"] is True
    duplicate = http.post(
        "/admin/api/staff",
        json={"username": "mgr", "display_name": "M", "roles": ["auditor"]},
        headers=admin.headers,
    )
    assert duplicate.status_code == 400 and duplicate.get_json()["field"] == "username"


def test_nobody_demotes_or_disables_themselves_or_the_last_admin(app, http, admin):
    own = http.put(
        f"/admin/api/staff/{admin.id}/roles", json={"roles": ["auditor"]}, headers=admin.headers
    )
    assert own.status_code == 400
    assert (
        http.post(f"/admin/api/staff/{admin.id}/disable", headers=admin.headers).status_code == 400
    )
    other = make_member(app, username="second", roles=["administrator"])
    headers = bearer(api_token(other))
    assert (
        http.put(
            f"/admin/api/staff/{admin.id}/roles", json={"roles": ["auditor"]}, headers=headers
        ).status_code
        == 200
    )
    # Now "second" is the last administrator: "root" (an auditor now) cannot act, and
    # nobody can demote "second".
    assert (
        http.post(f"/admin/api/staff/{other.id}/disable", headers=admin.headers).status_code == 403
    )


def test_citizen_overview_lists_the_phones_bound_to_the_app(app, http, admin, citizen):
    # Issue 6 "see credentials, bound devices": the app's phones (issue 5) besides passkeys.
    from mobile_helpers import bound_phone

    bound_phone(app, citizen)
    view = http.get(f"/admin/api/citizens/{citizen.id}", headers=admin.headers).get_json()
    phones = [d for d in view["devices"] if d["kind"] == "app"]
    assert len(phones) == 1 and phones[0]["bound_acr"].endswith("high")
    page = admin.http.get(f"/admin/citizens/{citizen.id}")
    assert page.status_code == 200 and phones[0]["name"] in page.get_data(as_text=True)
