"""Registering a client, rotating its secret, disabling and enabling it: each change
commits with its one audit record or not at all, through the console, the admin API and
``idp clients create|disable`` (the CLI has no rotate or enable), as an edit does
(test_admin_client_update). A secret is neither shown nor kept when its record fails."""

from __future__ import annotations

import json
import re
from datetime import UTC
from datetime import datetime
from typing import Any

import pytest
from admin_helpers import api_token
from admin_helpers import bearer
from admin_helpers import make_member
from oidc_helpers import csrf_from
from oidc_helpers import register
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from test_admin_client_backchannel import portal_form
from test_admin_client_backchannel import records
from webforms import prepare

from idp import audit
from idp.extensions import db
from idp.models import OAuthClient
from idp.oauth.clients import query_client

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
        name="Tax portal", redirect_uris=["https://tax.example.gov/cb"], scope="openid profile"
    )


def _failing(monkeypatch: pytest.MonkeyPatch, event: str, error: Exception | None = None) -> None:
    """``audit.record`` raises for the first ``event`` record (once: a retry after the
    rollback would record a change that was undone)."""
    real = audit.record
    left = {"n": 1}

    def record(name: Any, **kwargs: Any) -> None:
        if str(name) == event and left["n"]:
            left["n"] -= 1
            raise error or RuntimeError("audit store down")
        real(name, **kwargs)

    monkeypatch.setattr(audit, "record", record)


def _stored(client_id: str, column: Any) -> Any:
    """What is committed (the request's session may have been rolled back)."""
    db.session.rollback()
    return db.session.scalar(select(column).where(OAuthClient.client_id == client_id))


def _client_count() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(OAuthClient))


def _problem(answer: Any) -> None:
    assert answer.status_code == 503
    assert answer.mimetype == "application/problem+json"
    problem = answer.get_json()
    assert problem["type"] == "urn:idp:admin:problem:audit-unavailable"
    assert problem["detail"] == UNSAVED
    assert "client_secret" not in problem and "client" not in problem


def _unsaved_page(answer: Any) -> None:
    assert answer.status_code == 503
    shown = answer.get_data(as_text=True)
    assert UNSAVED in shown
    assert "audit store down" not in shown and "Traceback" not in shown
    assert 'id="client-secret"' not in shown and 'id="client-id"' not in shown


def _disabled(portal: Any) -> None:
    portal.client.disabled_at = datetime.now(UTC)
    db.session.commit()


# -- register ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [RuntimeError("audit store down"), OperationalError("INSERT", {}, Exception("reset"))],
    ids=["error", "database-error-once"],
)
def test_api_registration_is_not_kept_when_its_record_fails(app, http, admin, monkeypatch, error):
    headers = bearer(api_token(admin))
    before = _client_count()
    body = {"name": "Tax", "redirect_uris": ["https://tax.example.gov/cb"], "scope": "openid"}
    _failing(monkeypatch, "admin.clients.create", error)

    _problem(http.post("/admin/api/clients", json=body, headers=headers))

    assert _client_count() == before
    assert records("admin.clients.create") == []
    # The trail back: the next attempt registers the client with its record.
    made = http.post("/admin/api/clients", json=body, headers=headers)
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["client_secret"]
    (record,) = records("admin.clients.create")
    assert record.details["target"] == made.get_json()["client"]["client_id"]
    assert _client_count() == before + 1


def test_console_registration_is_not_kept_when_its_record_fails(admin, monkeypatch):
    http = admin.http
    before = _client_count()
    page = http.get("/admin/clients/new").get_data(as_text=True)
    _failing(monkeypatch, "admin.clients.create")

    _unsaved_page(http.post("/admin/clients/new", data=portal_form(page)))

    assert _client_count() == before
    assert records("admin.clients.create") == []


# -- rotate the secret -----------------------------------------------------------------------


def test_api_new_secret_is_neither_shown_nor_kept_when_its_record_fails(
    app, http, admin, portal, monkeypatch
):
    headers = bearer(api_token(admin))
    old_hash = _stored(portal.client_id, OAuthClient.client_secret_hash)
    _failing(monkeypatch, "admin.clients.rotate_secret")

    _problem(http.post(f"/admin/api/clients/{portal.client_id}/secret", headers=headers))

    # The old secret still works: the new one was never kept.
    assert _stored(portal.client_id, OAuthClient.client_secret_hash) == old_hash
    assert query_client(portal.client_id).check_client_secret(portal.secret)
    assert records("admin.clients.rotate_secret") == []
    again = http.post(f"/admin/api/clients/{portal.client_id}/secret", headers=headers)
    assert again.status_code == 200, again.get_json()
    assert _stored(portal.client_id, OAuthClient.client_secret_hash) != old_hash
    assert len(records("admin.clients.rotate_secret")) == 1


def test_console_new_secret_is_neither_shown_nor_kept_when_its_record_fails(
    admin, portal, monkeypatch
):
    http = admin.http
    old_hash = _stored(portal.client_id, OAuthClient.client_secret_hash)
    page = http.get(f"/admin/clients/{portal.client_id}").get_data(as_text=True)
    _failing(monkeypatch, "admin.clients.rotate_secret")

    answer = http.post(
        f"/admin/clients/{portal.client_id}/secret", data={"csrf_token": csrf_from(page)}
    )

    _unsaved_page(answer)
    assert _stored(portal.client_id, OAuthClient.client_secret_hash) == old_hash
    assert records("admin.clients.rotate_secret") == []


# -- disable / enable --------------------------------------------------------------------------


def test_api_disable_is_not_kept_when_its_record_fails(app, http, admin, portal, monkeypatch):
    headers = bearer(api_token(admin))
    _failing(monkeypatch, "admin.clients.disable")

    _problem(http.post(f"/admin/api/clients/{portal.client_id}/disable", headers=headers))

    assert _stored(portal.client_id, OAuthClient.disabled_at) is None
    assert query_client(portal.client_id) is not None
    assert records("admin.clients.disable") == []


def test_console_disable_is_not_kept_when_its_record_fails(admin, portal, monkeypatch):
    http = admin.http
    page = http.get(f"/admin/clients/{portal.client_id}").get_data(as_text=True)
    _failing(monkeypatch, "admin.clients.disable")

    answer = http.post(
        f"/admin/clients/{portal.client_id}/disable", data={"csrf_token": csrf_from(page)}
    )

    _unsaved_page(answer)
    assert _stored(portal.client_id, OAuthClient.disabled_at) is None
    assert records("admin.clients.disable") == []


def test_api_enable_is_not_kept_when_its_record_fails(app, http, admin, portal, monkeypatch):
    _disabled(portal)
    headers = bearer(api_token(admin))
    _failing(monkeypatch, "admin.clients.enable")

    _problem(http.post(f"/admin/api/clients/{portal.client_id}/enable", headers=headers))

    assert _stored(portal.client_id, OAuthClient.disabled_at) is not None
    assert query_client(portal.client_id) is None
    assert records("admin.clients.enable") == []
    again = http.post(f"/admin/api/clients/{portal.client_id}/enable", headers=headers)
    assert again.status_code == 200, again.get_json()
    assert query_client(portal.client_id) is not None
    assert len(records("admin.clients.enable")) == 1


def test_console_enable_is_not_kept_when_its_record_fails(admin, portal, monkeypatch):
    _disabled(portal)
    http = admin.http
    page = http.get(f"/admin/clients/{portal.client_id}").get_data(as_text=True)
    _failing(monkeypatch, "admin.clients.enable")

    answer = http.post(
        f"/admin/clients/{portal.client_id}/enable", data={"csrf_token": csrf_from(page)}
    )

    _unsaved_page(answer)
    assert _stored(portal.client_id, OAuthClient.disabled_at) is not None
    assert records("admin.clients.enable") == []


# -- the CLI -----------------------------------------------------------------------------------


def _cli(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["clients", *args])


def test_cli_create_is_not_kept_and_shows_no_secret_when_its_record_fails(app, monkeypatch):
    before = _client_count()
    _failing(monkeypatch, "client.create")

    result = _cli(
        app, "create", "--name", "Tax", "--redirect-uri", "https://tax.example.gov/cb", "--json"
    )

    assert result.exit_code == 1, result.output
    assert UNSAVED in result.output
    assert "client_secret" not in result.output and "client_id" not in result.output
    assert _client_count() == before
    assert records("client.create") == []
    made = _cli(
        app, "create", "--name", "Tax", "--redirect-uri", "https://tax.example.gov/cb", "--json"
    )
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["client_secret"]
    assert len(records("client.create")) == 1


def test_cli_disable_is_not_kept_when_its_record_fails(app, portal, monkeypatch):
    _failing(monkeypatch, "client.disable")

    result = _cli(app, "disable", portal.client_id)

    assert result.exit_code == 1, result.output
    assert UNSAVED in result.output
    assert not re.search(r"^disabled ", result.output, re.M)
    assert _stored(portal.client_id, OAuthClient.disabled_at) is None
    assert query_client(portal.client_id) is not None
    assert records("client.disable") == []
