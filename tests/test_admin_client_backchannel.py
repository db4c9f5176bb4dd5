"""The back-channel logout registration (OpenID Connect Back-Channel Logout 1.0 section
2.2: ``backchannel_logout_uri`` and ``backchannel_logout_session_required``) in the admin
console, checked by the validator the CLI and the admin API use
(``backchannel.validate_logout_uri`` through the registry). A refused value re-renders
the form with the message and everything typed; an accepted change is an
``admin.clients.*`` record with the registration before and after."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from admin_helpers import make_member
from oidc_helpers import register
from sqlalchemy import func
from sqlalchemy import select
from webforms import csrf_from
from webforms import prepare

from idp import audit
from idp.extensions import db
from idp.models import AuditEvent
from idp.models import OAuthClient
from idp.oauth.clients import get_client

LOGOUT = "https://tax.example.gov/backchannel-logout"


@pytest.fixture(autouse=True)
def _pages(app: Any) -> None:
    prepare(app)


@pytest.fixture
def admin(app):
    return make_member(app, username="root", roles=["administrator"])


def portal_form(page: str, **overrides: Any) -> dict[str, Any]:
    """The client form as the browser posts it for a tax portal (shared with
    test_outbound_uri_registration)."""
    form = {
        "csrf_token": csrf_from(page),
        "name": "Tax portal",
        "department": "Tax Bureau",
        "redirect_uris": "https://tax.example.gov/cb",
        "scope": "openid profile",
        "auth_method": "client_secret_basic",
        "access_token_format": "opaque",
        "grant_types_shown": "1",
        "grant_types": ["authorization_code"],
        "backchannel_logout_uri": LOGOUT,
        "backchannel_logout_session_required": "on",
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def records(event: str) -> list[AuditEvent]:
    audit.seal()
    db.session.rollback()
    query = select(AuditEvent).where(AuditEvent.event == event).order_by(AuditEvent.seq)
    return list(db.session.scalars(query))


def form_error(page: str) -> str:
    match = re.search(r'id="form-error">([^<]*)<', page)
    assert match, "no error message on the page"
    return html.unescape(match.group(1))


def shown_uri(page: str) -> str | None:
    box = re.search(r'<input type="url" id="f-bc-uri"[^>]*>', page)
    assert box, "no back-channel logout URI field"
    value = re.search(r'value="([^"]*)"', box.group(0))
    return html.unescape(value.group(1)) if value else None


def sid_ticked(page: str) -> bool:
    box = re.search(r'<input type="checkbox" id="f-bc-sid"[^>]*>', page)
    assert box, "no session-required box"
    return "checked" in box.group(0)


def test_the_form_offers_the_back_channel_fields(admin):
    page = admin.http.get("/admin/clients/new").get_data(as_text=True)
    assert 'name="backchannel_logout_uri"' in page
    assert 'name="backchannel_logout_session_required"' in page
    assert shown_uri(page) == "" and not sid_ticked(page)


def test_register_a_portal_with_a_logout_uri_through_the_console(admin):
    http = admin.http
    page = http.get("/admin/clients/new").get_data(as_text=True)
    made = http.post("/admin/clients/new", data=portal_form(page))
    assert made.status_code == 200, made.get_data(as_text=True)
    client_id = re.search(r'id="client-id">([^<]+)<', made.get_data(as_text=True)).group(1)
    client = get_client(client_id)
    assert client.backchannel_logout_uri == LOGOUT
    assert client.backchannel_logout_session_required is True
    # Its page shows what was registered.
    detail = http.get(f"/admin/clients/{client_id}").get_data(as_text=True)
    assert shown_uri(detail) == LOGOUT and sid_ticked(detail)
    (record,) = records("admin.clients.create")
    assert record.actor_id == admin.id
    assert record.details["after"]["backchannel_logout_uri"] == LOGOUT
    assert record.details["after"]["backchannel_logout_session_required"] is True


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"backchannel_logout_uri": "http://tax.example.gov/bc"},
            "The back-channel logout URI must use https",
        ),
        (
            {"backchannel_logout_uri": "https://tax.example.gov/bc#frag"},
            "The back-channel logout URI must not have a fragment.",
        ),
        (
            {"backchannel_logout_uri": "https://user:pw@tax.example.gov/bc"},
            "The back-channel logout URI must not contain user information.",
        ),
        (
            {"backchannel_logout_uri": ""},
            "Requiring a session id needs a back-channel logout URI.",
        ),
    ],
)
def test_a_bad_value_re_renders_the_form_with_what_was_typed(admin, overrides, message):
    http = admin.http
    page = http.get("/admin/clients/new").get_data(as_text=True)
    form = portal_form(page, **overrides)
    answer = http.post("/admin/clients/new", data=form)
    assert answer.status_code == 400
    shown = answer.get_data(as_text=True)
    assert message in form_error(shown)
    assert 'value="Tax portal"' in shown and 'value="Tax Bureau"' in shown
    assert "https://tax.example.gov/cb" in shown
    assert shown_uri(shown) == form["backchannel_logout_uri"]
    assert sid_ticked(shown)
    assert db.session.scalar(select(func.count()).select_from(OAuthClient)) == 0
    assert records("admin.clients.create") == []


def test_edit_the_logout_uri_through_the_console(admin):
    http = admin.http
    portal = register(name="Tax portal", redirect_uris=["https://tax.example.gov/cb"])
    path = f"/admin/clients/{portal.client_id}"
    page = http.get(path).get_data(as_text=True)
    assert shown_uri(page) == "" and not sid_ticked(page)

    saved = http.post(path, data=portal_form(page, department=""))
    assert saved.status_code == 303, saved.get_data(as_text=True)
    client = get_client(portal.client_id)
    db.session.refresh(client)
    assert client.backchannel_logout_uri == LOGOUT
    assert client.backchannel_logout_session_required is True

    # A bad URI: the message, what was typed (the box unticked too), nothing changed.
    page = http.get(path).get_data(as_text=True)
    assert shown_uri(page) == LOGOUT and sid_ticked(page)
    typed = "http://tax.example.gov/elsewhere"
    bad = http.post(
        path,
        data=portal_form(
            page,
            department="",
            backchannel_logout_uri=typed,
            backchannel_logout_session_required=None,
        ),
    )
    assert bad.status_code == 400
    shown = bad.get_data(as_text=True)
    assert "The back-channel logout URI must use https" in form_error(shown)
    assert shown_uri(shown) == typed and not sid_ticked(shown)
    db.session.refresh(client)
    assert client.backchannel_logout_uri == LOGOUT

    # Unticking the box alone keeps the URI.
    page = http.get(path).get_data(as_text=True)
    unticked = http.post(
        path,
        data=portal_form(page, department="", backchannel_logout_session_required=None),
    )
    assert unticked.status_code == 303, unticked.get_data(as_text=True)
    db.session.refresh(client)
    assert client.backchannel_logout_uri == LOGOUT
    assert client.backchannel_logout_session_required is False

    # Emptied: the portal is no longer told.
    page = http.get(path).get_data(as_text=True)
    cleared = http.post(
        path,
        data=portal_form(
            page, department="", backchannel_logout_uri="", backchannel_logout_session_required=None
        ),
    )
    assert cleared.status_code == 303, cleared.get_data(as_text=True)
    db.session.refresh(client)
    assert client.backchannel_logout_uri is None

    updates = records("admin.clients.update")
    assert len(updates) == 3  # the refused edit is answered, not recorded as done
    assert updates[0].actor_id == admin.id
    assert updates[0].details["before"]["backchannel_logout_uri"] is None
    assert updates[0].details["after"]["backchannel_logout_uri"] == LOGOUT
    assert updates[1].details["before"]["backchannel_logout_session_required"] is True
    assert updates[1].details["after"]["backchannel_logout_session_required"] is False
    assert updates[2].details["after"]["backchannel_logout_uri"] is None
