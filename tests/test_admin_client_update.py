"""Editing a client through the console and the admin API: the change and its one
``admin.clients.update`` record commit together or not at all (as ``idp clients
update`` does), and an emptied scope policy is cleared, audited, the same way the API
clears it (``"scope_policy": null``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from admin_helpers import api_token
from admin_helpers import bearer
from admin_helpers import make_member
from oidc_helpers import register
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from test_admin_client_backchannel import portal_form
from test_admin_client_backchannel import records
from webforms import prepare

from idp import audit
from idp.extensions import db
from idp.models import OAuthClient

POLICY = {"profile": {"required": False, "purpose": "To greet you by name"}, "ttl_days": 30}
UNSAVED = "Nothing was saved: the audit trail could not be written. Try again."


@pytest.fixture(autouse=True)
def _pages(app: Any) -> None:
    prepare(app)


@pytest.fixture
def admin(app):
    return make_member(app, username="root", roles=["administrator"])


@pytest.fixture
def portal() -> Any:
    return register(
        name="Tax portal",
        redirect_uris=["https://tax.example.gov/cb"],
        scope="openid profile",
        scope_policy=POLICY,
    )


def _form(page: str, **overrides: Any) -> dict[str, Any]:
    """The form as shown for the portal (no department, no back-channel logout)."""
    blank = {
        "department": "",
        "backchannel_logout_uri": "",
        "backchannel_logout_session_required": None,
    }
    return portal_form(page, **{**blank, **overrides})


def _stored(client_id: str, column: Any) -> Any:
    """What is committed (the request's session may have been rolled back)."""
    db.session.rollback()
    return db.session.scalar(select(column).where(OAuthClient.client_id == client_id))


def _failing_update_record(monkeypatch: pytest.MonkeyPatch, error: Exception, times: int) -> None:
    """``audit.record`` raises ``error`` for the first ``times`` client-update records."""
    real = audit.record
    failures = {"left": times}

    def record(event: Any, **kwargs: Any) -> None:
        if str(event) == "admin.clients.update" and failures["left"]:
            failures["left"] -= 1
            raise error
        real(event, **kwargs)

    monkeypatch.setattr(audit, "record", record)


# -- the change and its record, together -------------------------------------------------------


def test_console_edit_is_not_saved_when_its_audit_record_fails(admin, portal, monkeypatch):
    http = admin.http
    path = f"/admin/clients/{portal.client_id}"
    page = http.get(path).get_data(as_text=True)
    _failing_update_record(monkeypatch, RuntimeError("audit store down"), times=1)

    answer = http.post(path, data=_form(page, name="Renamed"))

    assert answer.status_code == 503
    shown = answer.get_data(as_text=True)
    assert UNSAVED in shown
    assert "Traceback" not in shown and "audit store down" not in shown
    assert _stored(portal.client_id, OAuthClient.name) == "Tax portal"
    assert records("admin.clients.update") == []


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("audit store down"),
        # Once only: a retry after the rollback would record a change that was undone.
        OperationalError("INSERT", {}, Exception("connection reset")),
    ],
    ids=["error", "database-error-once"],
)
def test_api_edit_is_not_saved_when_its_audit_record_fails(
    app, http, admin, portal, monkeypatch, error
):
    headers = bearer(api_token(admin))
    _failing_update_record(monkeypatch, error, times=1)

    answer = http.patch(
        f"/admin/api/clients/{portal.client_id}",
        json={"name": "Renamed", "scope_policy": None},
        headers=headers,
    )

    assert answer.status_code == 503
    assert answer.mimetype == "application/problem+json"
    problem = answer.get_json()
    assert problem["type"] == "urn:idp:admin:problem:audit-unavailable"
    assert problem["detail"] == UNSAVED
    assert _stored(portal.client_id, OAuthClient.name) == "Tax portal"
    assert _stored(portal.client_id, OAuthClient.scope_policy) == POLICY
    assert records("admin.clients.update") == []
    # The next attempt (the trail back) saves the change with its record.
    again = http.patch(
        f"/admin/api/clients/{portal.client_id}", json={"name": "Renamed"}, headers=headers
    )
    assert again.status_code == 200, again.get_json()
    assert _stored(portal.client_id, OAuthClient.name) == "Renamed"
    (record,) = records("admin.clients.update")
    assert record.details["before"]["name"] == "Tax portal"
    assert record.details["after"]["name"] == "Renamed"


def test_a_new_secret_is_neither_shown_nor_kept_when_the_record_fails(
    app, http, admin, monkeypatch
):
    public = register(
        name="App",
        redirect_uris=["https://app.example.gov/cb"],
        auth_method="none",
        scope="openid profile",
    )
    _failing_update_record(monkeypatch, RuntimeError("down"), times=1)
    answer = http.patch(
        f"/admin/api/clients/{public.client_id}",
        json={"auth_method": "client_secret_basic"},
        headers=bearer(api_token(admin)),
    )
    assert answer.status_code == 503
    assert "client_secret" not in answer.get_json()
    assert _stored(public.client_id, OAuthClient.token_endpoint_auth_method) == "none"
    assert _stored(public.client_id, OAuthClient.client_secret_hash) is None


# -- clearing the scope policy -------------------------------------------------------------------


def test_console_empty_scope_policy_box_clears_the_policy(admin, portal):
    http = admin.http
    path = f"/admin/clients/{portal.client_id}"
    page = http.get(path).get_data(as_text=True)
    # The box shows the policy, so saving the form as shown keeps it.
    kept = http.post(
        path,
        data=_form(page, scope_policy=json.dumps(POLICY)),
    )
    assert kept.status_code == 303, kept.get_data(as_text=True)
    assert _stored(portal.client_id, OAuthClient.scope_policy) == POLICY

    page = http.get(path).get_data(as_text=True)
    cleared = http.post(path, data=_form(page, scope_policy="  "))
    assert cleared.status_code == 303, cleared.get_data(as_text=True)
    assert _stored(portal.client_id, OAuthClient.scope_policy) is None
    record = records("admin.clients.update")[-1]
    assert record.actor_id == admin.id
    assert record.details["before"]["scope_policy"] == POLICY
    assert record.details["after"]["scope_policy"] is None
    page = http.get(path).get_data(as_text=True)
    assert '<textarea id="f-policy" name="scope_policy" rows="4"></textarea>' in page


def test_api_null_scope_policy_clears_it_and_leaving_it_out_keeps_it(app, http, admin, portal):
    headers = bearer(api_token(admin))
    path = f"/admin/api/clients/{portal.client_id}"
    renamed = http.patch(path, json={"name": "Tax"}, headers=headers)
    assert renamed.get_json()["client"]["scope_policy"] == POLICY

    cleared = http.patch(path, json={"scope_policy": None}, headers=headers)
    assert cleared.status_code == 200, cleared.get_json()
    assert cleared.get_json()["client"]["scope_policy"] is None
    assert _stored(portal.client_id, OAuthClient.scope_policy) is None
    record = records("admin.clients.update")[-1]
    assert record.details["before"]["scope_policy"] == POLICY
    assert record.details["after"]["scope_policy"] is None

    # An empty object is no policy too, stored the same way.
    http.patch(path, json={"scope_policy": POLICY}, headers=headers)
    emptied = http.patch(path, json={"scope_policy": {}}, headers=headers)
    assert emptied.get_json()["client"]["scope_policy"] is None


def test_an_empty_policy_at_registration_is_no_policy(app, http, admin):
    made = http.post(
        "/admin/api/clients",
        json={
            "name": "Tax",
            "redirect_uris": ["https://tax.example.gov/cb"],
            "scope": "openid profile",
            "scope_policy": {},
        },
        headers=bearer(api_token(admin)),
    )
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["client"]["scope_policy"] is None
