"""Registering a portal for front-channel logout (OpenID Connect Front-Channel Logout 1.0
section 2: ``frontchannel_logout_uri``, ``frontchannel_logout_session_required``)
through ``idp clients create|update``, the admin API and the admin console, all checked
by one rule (``frontchannel.validate_logout_uri``, built on the back-channel one): an
absolute https URI (http on localhost outside production), a query allowed, no
fragment, no user information, a host the signed-out page's CSP can name, and no
literal private address where local delivery is not allowed."""

from __future__ import annotations

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
from test_admin_client_backchannel import form_error
from test_admin_client_backchannel import portal_form
from test_admin_client_backchannel import records
from webforms import prepare

from idp.errors import InvalidInput
from idp.extensions import db
from idp.models import OAuthClient
from idp.oauth import frontchannel
from idp.oauth.clients import get_client
from idp.oauth.clients import register_client
from idp.oauth.clients import update_client

FC = "https://tax.example.gov/fc-logout?tenant=city"
FIELD = "frontchannel_logout_uri"
SID_FIELD = "frontchannel_logout_session_required"


@pytest.fixture(autouse=True)
def _pages(app: Any) -> None:
    prepare(app)


@pytest.fixture
def admin(app):
    return make_member(app, username="root", roles=["administrator"])


def _cli(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["clients", *args])


def _register(**kwargs: Any) -> OAuthClient:
    client, _ = register_client(
        name="Tax portal", redirect_uris=["https://tax.example.gov/cb"], **kwargs
    )
    return client


# -- the rule --------------------------------------------------------------------------------


def test_a_uri_with_a_query_is_kept_as_registered(app):
    client = _register(frontchannel_logout_uri=FC, frontchannel_logout_session_required=True)
    assert client.frontchannel_logout_uri == FC
    assert client.frontchannel_logout_session_required is True
    from idp.oauth.clients import Client
    from idp.oauth.clients import describe

    assert describe(client)[FIELD] == FC and describe(client)[SID_FIELD] is True
    assert Client(client).client_metadata[FIELD] == FC


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (
            "https://tax.example.gov/fc#top",
            "The front-channel logout URI must not have a fragment.",
        ),
        ("https://u:p@tax.example.gov/fc", "must not contain user information"),
        ("/fc-logout", "The front-channel logout URI must be an absolute URL."),
        ("javascript:alert(1)", "The front-channel logout URI must be an absolute URL."),
        ("https://tax.example.gov/fc logout", "The front-channel logout URI is not a valid URL."),
        ("https://tax.example.gov:99999/fc", "The front-channel logout URI is not a valid URL."),
        # A CSP host-source can name neither an IPv6 literal nor a ";".
        ("https://[2001:db8::1]/fc", "must name its host"),
        ("https://a;b.example.gov/fc", "must name its host"),
    ],
)
def test_bad_uris_are_refused_naming_the_field(app, uri, message):
    with pytest.raises(InvalidInput) as refused:
        _register(frontchannel_logout_uri=uri)
    assert refused.value.field == FIELD
    assert message in refused.value.public
    assert db.session.scalar(select(func.count()).select_from(OAuthClient)) == 0


def test_http_only_on_localhost_and_only_where_local_is_allowed(app, monkeypatch):
    with pytest.raises(InvalidInput, match="http is allowed only on localhost"):
        _register(frontchannel_logout_uri="http://tax.example.gov/fc")
    assert _register(frontchannel_logout_uri="http://127.0.0.1:8001/fc").frontchannel_logout_uri
    monkeypatch.setitem(app.config, "IDP_BACKCHANNEL_ALLOW_LOCAL", False)
    with pytest.raises(InvalidInput) as refused:
        _register(frontchannel_logout_uri="http://127.0.0.1:8001/fc")
    assert refused.value.public == "The front-channel logout URI must use https."
    # As for the back-channel URI: a literal private host is refused, names are not resolved.
    for private in ("https://10.1.2.3/fc", "https://localhost/fc", "https://[::1]/fc"):
        with pytest.raises(InvalidInput) as refused:
            _register(frontchannel_logout_uri=private)
        assert refused.value.field == FIELD
        assert "front-channel logout URI points at a private" in refused.value.public
    assert _register(frontchannel_logout_uri="https://intranet.example.gov/fc")


def test_requiring_iss_and_sid_needs_a_uri(app):
    with pytest.raises(InvalidInput) as refused:
        _register(frontchannel_logout_session_required=True)
    assert refused.value.field == SID_FIELD


def test_an_edit_is_checked_alike_and_clearing_the_uri_needs_the_flag_off(app):
    client = _register()
    update_client(client.client_id, {FIELD: FC})
    assert client.frontchannel_logout_uri == FC and not client.frontchannel_logout_session_required
    with pytest.raises(InvalidInput) as refused:
        update_client(client.client_id, {SID_FIELD: "yes"})
    assert refused.value.field == SID_FIELD
    update_client(client.client_id, {SID_FIELD: True})
    with pytest.raises(InvalidInput):
        update_client(client.client_id, {FIELD: None})
    db.session.rollback()
    update_client(client.client_id, {FIELD: None, SID_FIELD: False})
    assert client.frontchannel_logout_uri is None


def test_the_origin_named_in_the_csp(app):
    assert frontchannel.origin_of("https://Tax.Example.gov/fc?x=1") == "https://tax.example.gov"
    assert (
        frontchannel.origin_of("https://tax.example.gov:8443/fc") == "https://tax.example.gov:8443"
    )
    assert frontchannel.origin_of("http://127.0.0.1:5001/fc") == "http://127.0.0.1:5001"
    assert frontchannel.origin_of("https://[::1]/fc") is None


# -- the CLI ---------------------------------------------------------------------------------


def test_cli_create_and_update(app):
    made = _cli(
        app,
        "create",
        "--name",
        "Tax",
        "--redirect-uri",
        "https://tax.example.gov/cb",
        "--frontchannel-logout-uri",
        FC,
        "--frontchannel-logout-session-required",
        "--json",
    )
    assert made.exit_code == 0, made.output
    shown = json.loads(made.output[made.output.index("{") :])
    assert shown[FIELD] == FC and shown[SID_FIELD] is True
    client_id = shown["client_id"]

    unticked = _cli(app, "update", client_id, "--no-frontchannel-logout-session-required")
    assert unticked.exit_code == 0, unticked.output
    client = get_client(client_id)
    db.session.refresh(client)
    assert client.frontchannel_logout_uri == FC
    assert client.frontchannel_logout_session_required is False
    (record,) = records("client.update")
    assert record.details["before"][SID_FIELD] is True
    assert record.details["after"][SID_FIELD] is False

    refused = _cli(app, "update", client_id, "--frontchannel-logout-uri", "https://x.gov/#f")
    assert refused.exit_code == 2
    assert f"error: {FIELD} (--frontchannel-logout-uri): The front-channel" in refused.output
    assert "Nothing was changed." in refused.output

    cleared = _cli(app, "update", client_id, "--frontchannel-logout-uri", "none")
    assert cleared.exit_code == 0, cleared.output
    db.session.refresh(client)
    assert client.frontchannel_logout_uri is None


def test_cli_create_refuses_a_bad_uri(app):
    refused = _cli(
        app,
        "create",
        "--name",
        "Tax",
        "--redirect-uri",
        "https://tax.example.gov/cb",
        "--frontchannel-logout-uri",
        "ftp://tax.example.gov/fc",
    )
    assert refused.exit_code == 2
    assert f"error: {FIELD}: The front-channel logout URI must be an absolute URL." in (
        refused.output
    )
    assert db.session.scalar(select(func.count()).select_from(OAuthClient)) == 0


# -- the admin API ---------------------------------------------------------------------------


def test_admin_api_create_edit_and_refuse(app, http, admin):
    headers = bearer(api_token(admin))
    made = http.post(
        "/admin/api/clients",
        json={
            "name": "Tax",
            "redirect_uris": ["https://tax.example.gov/cb"],
            "scope": "openid profile",
            FIELD: FC,
            SID_FIELD: True,
        },
        headers=headers,
    )
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    client = body.get("client", body)
    assert client[FIELD] == FC and client[SID_FIELD] is True
    path = f"/admin/api/clients/{client['client_id']}"

    bad = http.patch(path, json={FIELD: "https://tax.example.gov/fc#x"}, headers=headers)
    assert bad.status_code == 400 and bad.get_json()["field"] == FIELD
    wrong_type = http.patch(path, json={SID_FIELD: "yes"}, headers=headers)
    assert wrong_type.status_code == 400 and wrong_type.get_json()["field"] == SID_FIELD

    edited = http.patch(path, json={FIELD: None, SID_FIELD: False}, headers=headers)
    assert edited.status_code == 200, edited.get_json()
    shown = http.get(path, headers=headers).get_json()
    assert shown[FIELD] is None and shown[SID_FIELD] is False


# -- the console -----------------------------------------------------------------------------


def fc_box(page: str) -> str | None:
    box = re.search(r'<input type="url" id="f-fc-uri"[^>]*>', page)
    assert box, "no front-channel logout URI field"
    value = re.search(r'value="([^"]*)"', box.group(0))
    return value.group(1) if value else None


def fc_ticked(page: str) -> bool:
    box = re.search(r'<input type="checkbox" id="f-fc-sid"[^>]*>', page)
    assert box, "no iss/sid box"
    return "checked" in box.group(0)


def _form(page: str, **overrides: Any) -> dict[str, Any]:
    base = {
        "backchannel_logout_uri": "",
        "backchannel_logout_session_required": None,
        FIELD: FC,
        SID_FIELD: "on",
    }
    return portal_form(page, **{**base, **overrides})


def test_console_register_and_edit(admin):
    http = admin.http
    page = http.get("/admin/clients/new").get_data(as_text=True)
    assert fc_box(page) == "" and not fc_ticked(page)
    made = http.post("/admin/clients/new", data=_form(page))
    assert made.status_code == 200, made.get_data(as_text=True)
    client_id = re.search(r'id="client-id">([^<]+)<', made.get_data(as_text=True)).group(1)
    client = get_client(client_id)
    assert client.frontchannel_logout_uri == FC
    assert client.frontchannel_logout_session_required is True
    (record,) = records("admin.clients.create")
    assert record.details["after"][FIELD] == FC

    path = f"/admin/clients/{client_id}"
    page = http.get(path).get_data(as_text=True)
    assert fc_box(page) == FC.replace("&", "&amp;") and fc_ticked(page)
    unticked = http.post(path, data=_form(page, department="Tax Bureau", **{SID_FIELD: None}))
    assert unticked.status_code == 303, unticked.get_data(as_text=True)
    db.session.refresh(client)
    assert client.frontchannel_logout_uri == FC
    assert client.frontchannel_logout_session_required is False


def test_console_refuses_a_bad_uri_keeping_what_was_typed(admin):
    http = admin.http
    page = http.get("/admin/clients/new").get_data(as_text=True)
    typed = "http://tax.example.gov/fc"
    answer = http.post("/admin/clients/new", data=_form(page, **{FIELD: typed}))
    assert answer.status_code == 400
    shown = answer.get_data(as_text=True)
    assert "The front-channel logout URI must use https" in form_error(shown)
    assert fc_box(shown) == typed and fc_ticked(shown)
    assert db.session.scalar(select(func.count()).select_from(OAuthClient)) == 0

    portal = register(name="Tax portal", redirect_uris=["https://tax.example.gov/cb"])
    path = f"/admin/clients/{portal.client_id}"
    page = http.get(path).get_data(as_text=True)
    edited = http.post(path, data=_form(page, department="", **{FIELD: ""}))
    assert edited.status_code == 400
    assert "Requiring iss and sid needs a front-channel logout URI." in form_error(
        edited.get_data(as_text=True)
    )
    assert get_client(portal.client_id).frontchannel_logout_uri is None
    assert records("admin.clients.update") == []
