"""URLs the provider will post to (a back-channel logout URI, a CIBA ping notification
endpoint) are refused at registration and on every edit when their host is, as typed,
``localhost`` or a private, loopback, link-local, shared or reserved address
(``fetch_guard.refuse_private_literal``), through the CLI, the admin API and the
console. Names are not resolved then (the send-time guard resolves and checks what it
connects to). Where local delivery is allowed (``IDP_BACKCHANNEL_ALLOW_LOCAL``, on by
default outside production) both checks let private addresses through alike."""

from __future__ import annotations

import re
import socket
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
from test_admin_client_backchannel import shown_uri
from test_admin_client_ciba import _hotline_form
from webforms import prepare

from idp.errors import InvalidInput
from idp.extensions import db
from idp.models import OAuthClient
from idp.oauth import backchannel
from idp.oauth.clients import CIBA_GRANT_TYPE
from idp.oauth.clients import get_client
from idp.oauth.clients import validate_ciba_delivery

PRIVATE = "https://10.20.30.40/backchannel-logout"
METADATA = "https://169.254.169.254/latest/meta-data"
REFUSED = "points at a private, loopback or link-local address"
LOGOUT_FIELD = "backchannel_logout_uri"
PING_FIELD = "backchannel_client_notification_endpoint"


@pytest.fixture
def app_config() -> dict[str, Any]:
    # As in production: no delivery to local addresses.
    return {"IDP_BACKCHANNEL_ALLOW_LOCAL": False}


@pytest.fixture(autouse=True)
def _pages(app: Any) -> None:
    prepare(app)


@pytest.fixture
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("registration must not resolve host names")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def admin(app):
    return make_member(app, username="root", roles=["administrator"])


def _cli(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["clients", *args])


def _hotline() -> Any:
    return register(
        name="12345 Hotline",
        redirect_uris=["https://hotline.example.gov/cb"],
        grant_types=[CIBA_GRANT_TYPE],
        scope="openid profile",
    )


# -- the rule --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1",  # the resolver's legacy forms of 127.0.0.1
        "2130706433",
        "0x7f.0.0.1",
        "10.0.0.8",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "[::1]",
        "[fd00::1]",
        "[fe80::1%25eth0]",
        "[::ffff:192.168.0.1]",
        "localhost",
        "LOCALHOST.",
        "portal.localhost",
    ],
)
def test_literal_private_hosts_are_refused_without_dns(app, no_dns, host):
    with pytest.raises(InvalidInput) as refused:
        backchannel.validate_logout_uri(f"https://{host}/bc", local_ok=False)
    assert refused.value.field == LOGOUT_FIELD
    assert REFUSED in refused.value.public
    with pytest.raises(InvalidInput) as refused:
        validate_ciba_delivery([CIBA_GRANT_TYPE], "ping", f"https://{host}/ciba")
    assert refused.value.field == PING_FIELD
    assert "client notification endpoint " + REFUSED in refused.value.public


@pytest.mark.parametrize(
    "uri",
    [
        "https://93.184.216.34/bc",
        "https://[2606:2800:220:1:248:1893:25c8:1946]/bc",
        # A name is not resolved at registration (its answer can change): the
        # send-time guard checks the address it connects to.
        "https://internal.example.gov/bc",
    ],
)
def test_public_literals_and_names_are_accepted_without_dns(app, no_dns, uri):
    assert backchannel.validate_logout_uri(uri, local_ok=False) == uri
    assert validate_ciba_delivery([CIBA_GRANT_TYPE], "ping", uri) == ("ping", uri)


def test_where_local_delivery_is_allowed_both_guards_let_private_addresses_through(
    app, monkeypatch
):
    from idp.oauth import backchannel_delivery

    monkeypatch.setitem(app.config, "IDP_BACKCHANNEL_ALLOW_LOCAL", True)
    assert backchannel.allow_local() is True
    rp = register(backchannel_logout_uri=PRIVATE)
    assert rp.client.backchannel_logout_uri == PRIVATE
    assert validate_ciba_delivery([CIBA_GRANT_TYPE], "ping", METADATA) == ("ping", METADATA)
    # The send-time guard applies the same exemption (resolve(local_ok=True)).
    assert backchannel_delivery.resolve("10.20.30.40", 443, local_ok=True) == "10.20.30.40"
    with pytest.raises(backchannel_delivery.DeliveryRefused):
        backchannel_delivery.resolve("10.20.30.40", 443, local_ok=False)


# -- the CLI ---------------------------------------------------------------------------------


def test_cli_create_refuses_a_private_logout_uri_and_ping_endpoint(app):
    logout = _cli(
        app,
        "create",
        "--name",
        "Tax",
        "--redirect-uri",
        "https://tax.example.gov/cb",
        "--backchannel-logout-uri",
        PRIVATE,
    )
    assert logout.exit_code == 2
    assert f"error: {LOGOUT_FIELD}: The back-channel logout URI {REFUSED}" in logout.output
    ping = _cli(
        app,
        "create",
        "--name",
        "12345 Hotline",
        "--grant-type",
        CIBA_GRANT_TYPE,
        "--scope",
        "openid profile",
        "--ciba-delivery-mode",
        "ping",
        "--ciba-notification-endpoint",
        METADATA,
    )
    assert ping.exit_code == 2
    assert f"error: {PING_FIELD}: The client notification endpoint {REFUSED}" in ping.output
    assert db.session.scalar(select(func.count()).select_from(OAuthClient)) == 0


def test_cli_update_refuses_a_private_logout_uri_and_ping_endpoint(app):
    hotline = _hotline()
    logout = _cli(app, "update", hotline.client_id, "--backchannel-logout-uri", PRIVATE)
    assert logout.exit_code == 2
    assert f"{LOGOUT_FIELD} (--backchannel-logout-uri): The back-channel" in logout.output
    assert REFUSED in logout.output
    ping = _cli(
        app,
        "update",
        hotline.client_id,
        "--ciba-delivery-mode",
        "ping",
        "--ciba-notification-endpoint",
        "https://[::1]/ciba",
    )
    assert ping.exit_code == 2
    assert f"{PING_FIELD} (--ciba-notification-endpoint):" in ping.output
    assert REFUSED in ping.output
    client = get_client(hotline.client_id)
    db.session.refresh(client)
    assert client.backchannel_logout_uri is None
    assert client.backchannel_token_delivery_mode == "poll"
    assert records("client.update") == []


# -- the admin API ---------------------------------------------------------------------------


def test_admin_api_refuses_private_hosts_on_create_and_edit(app, http, admin):
    headers = bearer(api_token(admin))
    made = http.post(
        "/admin/api/clients",
        json={
            "name": "Tax",
            "redirect_uris": ["https://tax.example.gov/cb"],
            "scope": "openid profile",
            "backchannel_logout_uri": PRIVATE,
        },
        headers=headers,
    )
    assert made.status_code == 400
    assert made.get_json()["field"] == LOGOUT_FIELD
    assert REFUSED in made.get_json()["detail"]

    hotline = _hotline()
    path = f"/admin/api/clients/{hotline.client_id}"
    edited = http.patch(
        path,
        json={"backchannel_token_delivery_mode": "ping", PING_FIELD: METADATA},
        headers=headers,
    )
    assert edited.status_code == 400
    assert edited.get_json()["field"] == PING_FIELD
    assert REFUSED in edited.get_json()["detail"]
    logout = http.patch(path, json={LOGOUT_FIELD: "https://localhost/bc"}, headers=headers)
    assert logout.status_code == 400 and logout.get_json()["field"] == LOGOUT_FIELD
    shown = http.get(path, headers=headers).get_json()
    assert shown[PING_FIELD] is None and shown[LOGOUT_FIELD] is None


# -- the console -----------------------------------------------------------------------------


def test_console_refuses_a_private_logout_uri_keeping_what_was_typed(admin):
    http = admin.http
    page = http.get("/admin/clients/new").get_data(as_text=True)
    answer = http.post("/admin/clients/new", data=portal_form(page, backchannel_logout_uri=PRIVATE))
    assert answer.status_code == 400
    shown = answer.get_data(as_text=True)
    assert REFUSED in form_error(shown)
    assert shown_uri(shown) == PRIVATE and 'value="Tax portal"' in shown
    assert db.session.scalar(select(func.count()).select_from(OAuthClient)) == 0

    portal = register(name="Tax portal", redirect_uris=["https://tax.example.gov/cb"])
    path = f"/admin/clients/{portal.client_id}"
    page = http.get(path).get_data(as_text=True)
    typed = "https://[fe80::1]/bc"
    edited = http.post(path, data=portal_form(page, department="", backchannel_logout_uri=typed))
    assert edited.status_code == 400
    assert REFUSED in form_error(edited.get_data(as_text=True))
    assert shown_uri(edited.get_data(as_text=True)) == typed
    assert get_client(portal.client_id).backchannel_logout_uri is None
    assert records("admin.clients.update") == []


def test_console_refuses_a_private_ping_endpoint_keeping_what_was_typed(admin):
    http = admin.http
    page = http.get("/admin/clients/new").get_data(as_text=True)
    form = _hotline_form(page, backchannel_client_notification_endpoint=METADATA)
    answer = http.post("/admin/clients/new", data=form)
    assert answer.status_code == 400
    shown = answer.get_data(as_text=True)
    assert "client notification endpoint " + REFUSED in form_error(shown)
    assert f'name="{PING_FIELD}" value="{METADATA}"' in shown

    hotline = _hotline()
    path = f"/admin/clients/{hotline.client_id}"
    page = http.get(path).get_data(as_text=True)
    typed = "https://192.168.10.2:8443/ciba"
    edited = http.post(path, data=_hotline_form(page, **{PING_FIELD: typed}))
    assert edited.status_code == 400
    assert REFUSED in form_error(edited.get_data(as_text=True))
    assert re.search(
        rf'name="{PING_FIELD}" value="{re.escape(typed)}"', edited.get_data(as_text=True)
    )
    client = get_client(hotline.client_id)
    db.session.refresh(client)
    assert client.backchannel_token_delivery_mode == "poll"
    assert client.backchannel_client_notification_endpoint is None
    assert records("admin.clients.update") == []


# -- the logo: the same registration rule, its own exemption ---------------------------------


@pytest.fixture
def looked_up(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names resolved while a test runs (the database and Redis connections resolve
    theirs, so resolution is watched, not refused)."""
    hosts: list[str] = []
    real = socket.getaddrinfo

    def watch(host: Any, *args: Any, **kwargs: Any) -> Any:
        hosts.append(str(host))
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", watch)
    return hosts


def _logo(uri: str) -> str | None:
    return register(name="Logo portal", logo_uri=uri).client.logo_uri


@pytest.mark.parametrize(
    "host", ["127.1", "10.0.0.7", "169.254.169.254", "100.64.0.1", "[fd00::1]", "portal.localhost"]
)
def test_a_logo_on_a_literal_private_host_is_refused_without_dns(app, no_dns, host):
    with pytest.raises(InvalidInput) as refused:
        _logo(f"https://{host}/logo.png")
    assert refused.value.field == "logo_uri"
    assert "The logo URI " + REFUSED in refused.value.public
    assert "public host" in refused.value.public


def test_a_logo_on_a_name_is_not_resolved_at_registration(app, looked_up):
    # The provider never fetches the logo (citizens' browsers do), so there is no
    # fetch-time check either: only the literal rule applies.
    assert _logo("https://intranet.example.gov/logo.png") == "https://intranet.example.gov/logo.png"
    assert "intranet.example.gov" not in looked_up


@pytest.mark.parametrize(
    "uri", ["https://[::1/logo.png", "https://tax.example.gov:99999/l.png", "https:///l.png"]
)
def test_a_malformed_logo_is_refused_naming_the_field(app, no_dns, uri):
    with pytest.raises(InvalidInput) as refused:
        _logo(uri)
    assert refused.value.field == "logo_uri"
    assert refused.value.public == "The logo URI must be an https URL."


def test_the_logo_has_its_own_exemption(app, monkeypatch):
    # Local delivery (on by default outside production) is about where the provider
    # connects: it does not let every citizen's browser be sent to a private host.
    monkeypatch.setitem(app.config, "IDP_BACKCHANNEL_ALLOW_LOCAL", True)
    with pytest.raises(InvalidInput):
        _logo("https://192.168.1.1/logo.png")
    monkeypatch.setitem(app.config, "IDP_ALLOW_PRIVATE_FETCH", True)
    assert _logo("https://192.168.1.1/logo.png") == "https://192.168.1.1/logo.png"
    # ... and it lifts only the logo's rule.
    monkeypatch.setitem(app.config, "IDP_BACKCHANNEL_ALLOW_LOCAL", False)
    with pytest.raises(InvalidInput) as refused:
        register(name="P", backchannel_logout_uri=PRIVATE)
    assert refused.value.field == LOGOUT_FIELD


def test_admin_api_and_console_refuse_a_private_logo_on_edit(app, http, admin):
    portal = register(name="Tax portal", redirect_uris=["https://tax.example.gov/cb"])
    path = f"/admin/api/clients/{portal.client_id}"
    edited = http.patch(
        path, json={"logo_uri": "https://127.0.0.1/l.png"}, headers=bearer(api_token(admin))
    )
    assert edited.status_code == 400
    assert edited.get_json()["field"] == "logo_uri"
    assert "The logo URI " + REFUSED in edited.get_json()["detail"]

    page = admin.http.get(f"/admin/clients/{portal.client_id}").get_data(as_text=True)
    form = portal_form(
        page,
        department="",
        backchannel_logout_uri="",
        backchannel_logout_session_required=None,
        logo_uri="https://[::ffff:10.1.2.3]/l.png",
    )
    answer = admin.http.post(f"/admin/clients/{portal.client_id}", data=form)
    assert answer.status_code == 400
    assert "The logo URI " + REFUSED in form_error(answer.get_data(as_text=True))
    assert get_client(portal.client_id).logo_uri is None
    assert records("admin.clients.update") == []
