"""The CIBA registration fields (CIBA Core 1.0 section 4) in the admin console, the admin
API and ``idp clients update``: the CIBA grant, ``backchannel_token_delivery_mode`` (poll
or ping; push is not supported) and, for ping, an https
``backchannel_client_notification_endpoint``. One validator
(``registry.validate_ciba_delivery``) checks every path; a bad value re-renders the
console's form with the message and everything the admin typed; every change is an
``admin.clients.*`` record with the registration before and after."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from admin_helpers import api_token
from admin_helpers import bearer
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
from idp.oauth.clients import CIBA_GRANT_TYPE
from idp.oauth.clients import get_client
from idp.oauth.clients import query_client
from idp.oauth.clients import register_client

ENDPOINT = "https://hotline.example.gov/ciba"


@pytest.fixture(autouse=True)
def _pages(app: Any) -> None:
    prepare(app)


@pytest.fixture
def admin(app):
    return make_member(app, username="root", roles=["administrator"])


def _hotline_form(page: str, **overrides: Any) -> dict[str, Any]:
    form = {
        "csrf_token": csrf_from(page),
        "name": "12345 Hotline",
        "department": "Hotline Centre",
        "redirect_uris": "",
        "scope": "openid profile",
        "auth_method": "client_secret_basic",
        "access_token_format": "opaque",
        "grant_types_shown": "1",
        "grant_types": [CIBA_GRANT_TYPE],
        "backchannel_token_delivery_mode": "ping",
        "backchannel_client_notification_endpoint": ENDPOINT,
        "first_party": "on",
    }
    form.update(overrides)
    return form


def _records(event: str) -> list[AuditEvent]:
    audit.seal()
    db.session.rollback()
    query = select(AuditEvent).where(AuditEvent.event == event).order_by(AuditEvent.seq)
    return list(db.session.scalars(query))


def _error(page: str) -> str:
    match = re.search(r'id="form-error">([^<]*)<', page)
    assert match, "no error message on the page"
    return html.unescape(match.group(1))


def _selected_mode(page: str) -> str | None:
    select_ = re.search(r'<select id="f-ciba-mode".*?</select>', page, re.S).group(0)
    match = re.search(r'<option value="(\w*)" selected', select_)
    return match.group(1) if match else None


def _ciba_ticked(page: str) -> bool:
    box = re.search(
        rf'<input type="checkbox" name="grant_types" value="{CIBA_GRANT_TYPE}"[^>]*>', page
    )
    return bool(box) and "checked" in box.group(0)


def test_the_form_offers_the_ciba_fields(admin):
    page = admin.http.get("/admin/clients/new").get_data(as_text=True)
    assert f'value="{CIBA_GRANT_TYPE}"' in page
    assert 'name="backchannel_token_delivery_mode"' in page
    assert 'name="backchannel_client_notification_endpoint"' in page
    modes = re.findall(
        r'<option value="(\w+)"', re.search(r'id="f-ciba-mode".*?</select>', page, re.S).group(0)
    )
    assert modes == ["poll", "ping"]  # no push: it is not supported
    assert not _ciba_ticked(page)  # a new client signs citizens in by default


def test_register_a_ping_hotline_client_through_the_console(admin):
    http = admin.http
    page = http.get("/admin/clients/new").get_data(as_text=True)
    made = http.post("/admin/clients/new", data=_hotline_form(page))
    assert made.status_code == 200, made.get_data(as_text=True)
    shown = made.get_data(as_text=True)
    client_id = re.search(r'id="client-id">([^<]+)<', shown).group(1)
    assert re.search(r'id="client-secret">([^<]+)<', shown)
    client = get_client(client_id)
    assert client.grant_types == [CIBA_GRANT_TYPE] and client.redirect_uris == []
    assert client.backchannel_token_delivery_mode == "ping"
    assert client.backchannel_client_notification_endpoint == ENDPOINT
    assert query_client(client_id).check_grant_type(CIBA_GRANT_TYPE)
    # Its page shows what was registered.
    detail = http.get(f"/admin/clients/{client_id}").get_data(as_text=True)
    assert _ciba_ticked(detail) and _selected_mode(detail) == "ping"
    assert f'value="{ENDPOINT}"' in detail
    (record,) = _records("admin.clients.create")
    assert record.actor_type == "staff" and record.actor_id == admin.id
    assert record.details["after"]["backchannel_token_delivery_mode"] == "ping"
    assert record.details["after"]["backchannel_client_notification_endpoint"] == ENDPOINT


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"backchannel_client_notification_endpoint": "http://hotline.example.gov/ciba"},
            "Ping mode needs an https client notification endpoint",
        ),
        (
            {"backchannel_client_notification_endpoint": ""},
            "Ping mode needs an https client notification endpoint",
        ),
        (
            {"backchannel_token_delivery_mode": "push"},
            "The token delivery mode must be poll or ping (push is not supported).",
        ),
        (
            {"backchannel_token_delivery_mode": "poll"},
            "A notification endpoint is only for ping mode.",
        ),
        (
            {
                "grant_types": ["authorization_code"],
                "redirect_uris": "https://hotline.example.gov/cb",
            },
            "only for clients allowed the CIBA grant",
        ),
        ({"auth_method": "none"}, "CIBA needs a confidential client"),
        ({"grant_types": []}, "Choose at least one grant type."),
    ],
)
def test_a_bad_ciba_value_re_renders_the_form_with_what_was_typed(admin, overrides, message):
    http = admin.http
    page = http.get("/admin/clients/new").get_data(as_text=True)
    form = _hotline_form(page, **overrides)
    answer = http.post("/admin/clients/new", data=form)
    assert answer.status_code == 400
    shown = answer.get_data(as_text=True)
    assert message in _error(shown)
    # Everything typed is still there.
    assert 'value="12345 Hotline"' in shown and 'value="Hotline Centre"' in shown
    endpoint = form["backchannel_client_notification_endpoint"]
    assert f'name="backchannel_client_notification_endpoint" value="{endpoint}"' in shown
    assert _selected_mode(shown) == (form["backchannel_token_delivery_mode"] or None) or (
        form["backchannel_token_delivery_mode"] == "push" and _selected_mode(shown) is None
    )
    assert _ciba_ticked(shown) == (CIBA_GRANT_TYPE in form["grant_types"])
    if "redirect_uris" in overrides:
        assert overrides["redirect_uris"] in shown
    # Nothing was registered, nothing recorded as done.
    assert db.session.scalar(select(func.count()).select_from(OAuthClient)) == 0
    assert _records("admin.clients.create") == []


def test_edit_the_ciba_fields_through_the_console(admin):
    http = admin.http
    hotline, _ = register_client(
        name="12345 Hotline",
        redirect_uris=[],
        grant_types=[CIBA_GRANT_TYPE],
        scope="openid profile",
    )
    path = f"/admin/clients/{hotline.client_id}"
    page = http.get(path).get_data(as_text=True)
    assert _ciba_ticked(page) and _selected_mode(page) == "poll"

    saved = http.post(path, data=_hotline_form(page))
    assert saved.status_code == 303, saved.get_data(as_text=True)
    client = get_client(hotline.client_id)
    db.session.refresh(client)
    assert client.backchannel_token_delivery_mode == "ping"
    assert client.backchannel_client_notification_endpoint == ENDPOINT

    # A bad endpoint: the message, the typed value kept, nothing changed.
    page = http.get(path).get_data(as_text=True)
    typed = "https://hotline.example.gov/ciba#frag"
    bad = http.post(path, data=_hotline_form(page, backchannel_client_notification_endpoint=typed))
    assert bad.status_code == 400
    assert "Ping mode needs an https client notification endpoint" in _error(
        bad.get_data(as_text=True)
    )
    assert f'value="{typed}"' in bad.get_data(as_text=True)
    db.session.refresh(client)
    assert client.backchannel_client_notification_endpoint == ENDPOINT

    # Back to poll: the endpoint goes with it.
    page = http.get(path).get_data(as_text=True)
    polled = http.post(
        path,
        data=_hotline_form(
            page,
            backchannel_token_delivery_mode="poll",
            backchannel_client_notification_endpoint="",
        ),
    )
    assert polled.status_code == 303, polled.get_data(as_text=True)
    db.session.refresh(client)
    assert client.backchannel_token_delivery_mode == "poll"
    assert client.backchannel_client_notification_endpoint is None

    # Without the grant the delivery mode is cleared (the form sends it empty).
    page = http.get(path).get_data(as_text=True)
    portal = http.post(
        path,
        data=_hotline_form(
            page,
            grant_types=["authorization_code"],
            redirect_uris="https://hotline.example.gov/cb",
            backchannel_token_delivery_mode="",
            backchannel_client_notification_endpoint="",
        ),
    )
    assert portal.status_code == 303, portal.get_data(as_text=True)
    db.session.refresh(client)
    assert client.grant_types == ["authorization_code"]
    assert client.backchannel_token_delivery_mode is None

    updates = _records("admin.clients.update")
    assert len(updates) == 3  # the refused edit is answered, not recorded as done
    first = updates[0].details
    assert first["before"]["backchannel_token_delivery_mode"] == "poll"
    assert first["after"]["backchannel_token_delivery_mode"] == "ping"
    assert first["after"]["backchannel_client_notification_endpoint"] == ENDPOINT
    assert updates[0].actor_id == admin.id


def test_a_portal_needs_a_redirect_uri_for_the_authorization_code_grant(admin):
    http = admin.http
    page = http.get("/admin/clients/new").get_data(as_text=True)
    answer = http.post(
        "/admin/clients/new",
        data=_hotline_form(
            page,
            grant_types=["authorization_code"],
            backchannel_token_delivery_mode="",
            backchannel_client_notification_endpoint="",
        ),
    )
    assert answer.status_code == 400
    assert "At least one redirect URI is required." in _error(answer.get_data(as_text=True))


def test_the_admin_api_applies_the_same_rules(app, http, admin):
    headers = bearer(api_token(admin))
    body = {
        "name": "12345 Hotline",
        "scope": "openid profile",
        "grant_types": [CIBA_GRANT_TYPE],
        "backchannel_token_delivery_mode": "push",
    }
    refused = http.post("/admin/api/clients", json=body, headers=headers)
    assert refused.status_code == 400
    assert refused.get_json()["field"] == "backchannel_token_delivery_mode"
    body.update(
        backchannel_token_delivery_mode="ping", backchannel_client_notification_endpoint=ENDPOINT
    )
    made = http.post("/admin/api/clients", json=body, headers=headers)
    assert made.status_code in (200, 201), made.get_data(as_text=True)
    client_id = made.get_json()["client"]["client_id"]
    path = f"/admin/api/clients/{client_id}"
    bad = http.patch(
        path,
        json={"backchannel_client_notification_endpoint": "http://hotline.example.gov/x"},
        headers=headers,
    )
    assert bad.status_code == 400
    assert bad.get_json()["field"] == "backchannel_client_notification_endpoint"
    polled = http.patch(path, json={"backchannel_token_delivery_mode": "poll"}, headers=headers)
    assert polled.status_code == 200, polled.get_data(as_text=True)
    shown = http.get(path, headers=headers).get_json()
    assert shown["backchannel_token_delivery_mode"] == "poll"
    assert shown["backchannel_client_notification_endpoint"] is None


def test_the_cli_updates_the_ciba_fields_with_the_same_rules(app):
    hotline = register(
        name="12345 Hotline",
        redirect_uris=["https://hotline.example.gov/cb"],
        grant_types=[CIBA_GRANT_TYPE],
        scope="openid profile",
    )
    runner = app.test_cli_runner()
    bad = runner.invoke(
        args=[
            "clients",
            "update",
            hotline.client_id,
            "--ciba-delivery-mode",
            "ping",
            "--ciba-notification-endpoint",
            "http://hotline.example.gov/ciba",
        ]
    )
    assert bad.exit_code == 2
    assert "Ping mode needs an https client notification endpoint" in bad.output
    good = runner.invoke(
        args=[
            "clients",
            "update",
            hotline.client_id,
            "--ciba-delivery-mode",
            "ping",
            "--ciba-notification-endpoint",
            ENDPOINT,
            "--json",
        ]
    )
    assert good.exit_code == 0, good.output
    shown = json.loads(good.output)
    assert shown["backchannel_token_delivery_mode"] == "ping"
    assert shown["backchannel_client_notification_endpoint"] == ENDPOINT
    (record,) = _records("client.update")
    assert record.details["after"]["backchannel_token_delivery_mode"] == "ping"
    # Taking the grant away (--grant-type) clears the delivery mode with it.
    portal = runner.invoke(
        args=["clients", "update", hotline.client_id, "--grant-type", "authorization_code"]
    )
    assert portal.exit_code == 0, portal.output
    client = get_client(hotline.client_id)
    db.session.refresh(client)
    assert client.grant_types == ["authorization_code"]
    assert client.backchannel_token_delivery_mode is None
    assert client.backchannel_client_notification_endpoint is None
