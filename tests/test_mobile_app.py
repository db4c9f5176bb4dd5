"""The mobile app channel's API: native client, device binding, signed requests,
listing and removal (adapters/mobile, idp.authn.devices)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from app_simulator import AppSimulator
from app_simulator import FlaskTransport
from mobile_helpers import APP_REDIRECT
from mobile_helpers import bound_phone
from mobile_helpers import native_app
from mobile_helpers import plant_session
from oidc_helpers import fresh_requests

from adapters import base
from adapters import mobile
from idp.errors import InvalidInput
from idp.models import DeviceKey
from idp.oauth.clients import register_client


@pytest.fixture(autouse=True)
def _fresh(app: Any) -> None:
    fresh_requests(app)


def test_adapter_conforms_to_the_channel_interface() -> None:
    adapter: base.ChannelAdapter = mobile  # type: ignore[assignment]
    assert adapter.NAME == "mobile"


# --- the native client (RFC 8252) ---------------------------------------------------------------


def test_native_client_is_public_with_https_or_loopback_ip_redirects(app: Any) -> None:
    client = native_app()
    assert client.application_type == "native" and client.is_public
    with pytest.raises(InvalidInput) as exc:
        register_client(
            name="x", redirect_uris=["http://localhost/cb"], auth_method="none", native=True
        )
    assert exc.value.field == "redirect_uris"  # RFC 8252 8.3: localhost NOT RECOMMENDED
    with pytest.raises(InvalidInput) as exc:
        register_client(name="x", redirect_uris=["https://app.example.gov/cb"], native=True)
    assert exc.value.field == "auth_method"


def test_cli_creates_a_native_client(app: Any) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "clients", "create", "--name", "Government app", "--native", "--first-party",
            "--redirect-uri", "http://127.0.0.1/callback", "--scope", "openid", "--json",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["application_type"] == "native"
    assert data["token_endpoint_auth_method"] == "none"
    assert "client_secret" not in data


def test_loopback_redirect_accepts_any_port_for_native_clients_only(
    app: Any, http: Any, citizen: Any
) -> None:
    """RFC 8252 7.3: any port on the loopback IP; a web client's stays exact."""
    plant_session(app, http, citizen, ("pwd",))
    sim = AppSimulator(FlaskTransport(http))
    client = native_app()
    tokens = sim.sign_in(client_id=client.client_id, redirect_uri="http://127.0.0.1:61234/callback")
    assert tokens["access_token"]
    web, _ = register_client(
        name="Web", redirect_uris=["http://127.0.0.1/cb"], auth_method="none", scope="openid"
    )
    response = http.get(
        "/authorize?response_type=code&scope=openid&client_id="
        f"{web.client_id}&redirect_uri=http://127.0.0.1:8080/cb&code_challenge="
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
    )
    assert response.status_code == 400  # an error page, never a redirect


# --- binding ------------------------------------------------------------------------------------


def test_bind_list_and_remove_a_device(app: Any, citizen: Any) -> None:
    sim = bound_phone(app, citizen, name="My phone")
    listed = sim.devices()
    assert listed.status == 200
    [device] = listed.body["devices"]
    assert device["name"] == "My phone" and device["this_device"]
    assert device["bound_acr"] == "urn:idp:acr:high"
    assert device["last_used_at"] is not None
    second = bound_phone(app, citizen, name="Tablet")
    assert len(second.devices().body["devices"]) == 2
    assert second.remove(sim.device_id or "").status == 204
    assert [d["name"] for d in second.devices().body["devices"]] == ["Tablet"]
    # The removed device's signatures are refused from now on.
    refused = sim.devices()
    assert refused.status == 401 and refused.body["error"] == "invalid_signature"
    assert "Device" in refused.headers["WWW-Authenticate"]


def test_device_is_capped_at_the_level_of_the_sign_in_that_bound_it(app: Any, citizen: Any) -> None:
    """NIST SP 800-63B 6.1.2.1: binding at a password sign-in gives a low device."""
    sim = bound_phone(app, citizen, amr=("pwd",))
    assert sim.devices().body["devices"][0]["bound_acr"] == "urn:idp:acr:low"


def test_binding_needs_a_native_first_party_token(app: Any, http: Any, citizen: Any) -> None:
    plant_session(app, http, citizen, ("pwd", "otp"))
    portal, _ = register_client(
        name="Portal", redirect_uris=["http://127.0.0.1/cb"], auth_method="none", scope="openid"
    )
    from idp.consent import service as consent

    consent.grant(citizen_id=citizen.id, client_id=portal.client_id, scopes=["openid"])
    sim = AppSimulator(FlaskTransport(http))
    sim.sign_in(client_id=portal.client_id, redirect_uri="http://127.0.0.1/cb")
    reply = sim.bind()
    assert reply.status == 401 and reply.body["error"] == "invalid_token"
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert sim.bind("not-a-token").status == 401
    assert DeviceKey.query.count() == 0


def test_binding_proof_must_match_the_token_and_be_fresh(app: Any, http: Any, citizen: Any) -> None:
    plant_session(app, http, citizen, ("pwd", "otp"))
    sim = AppSimulator(FlaskTransport(http))
    client = native_app()
    token = sim.sign_in(client_id=client.client_id, redirect_uri=APP_REDIRECT)["access_token"]
    wrong_ath = sim.binding_proof("another-token")
    assert sim.bind(token, proof=wrong_ath).body["error"] == "invalid_signature"
    stale = sim.binding_proof(token, iat=1_700_000_000)
    assert sim.bind(token, proof=stale).status == 401
    other_aud = sim.binding_proof(token, aud="https://evil.example")
    assert sim.bind(token, proof=other_aud).status == 401
    # Signed by another key than the one in the header: refused.
    thief = AppSimulator(FlaskTransport(http))
    forged = thief.binding_proof(token)
    header, payload, signature = forged.split(".")
    mine = sim.binding_proof(token).split(".")
    assert sim.bind(token, proof=".".join([mine[0], payload, signature])).status == 401
    proof = sim.binding_proof(token)
    assert sim.bind(token, proof=proof).status == 201
    # The same proof (jti) or the same key again: refused.
    assert sim.bind(token, proof=proof).status in (400, 401)
    assert sim.bind(token).status == 400


def test_binding_refuses_a_private_key_and_bad_json(app: Any, http: Any, citizen: Any) -> None:
    plant_session(app, http, citizen, ("pwd", "otp"))
    client = native_app()
    sim = AppSimulator(FlaskTransport(http))
    token = sim.sign_in(client_id=client.client_id, redirect_uri=APP_REDIRECT)["access_token"]
    from joserfc import jwt

    header = {"typ": "app-binding+jwt", "alg": "ES256", "jwk": sim.key.as_dict(private=True)}
    leaked = jwt.encode(header, {"aud": "http://localhost"}, sim.key)
    assert sim.bind(token, proof=leaked).status == 401
    response = http.post(
        "/mobile/v1/devices",
        data="{not json",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"


# --- signed requests ------------------------------------------------------------------------------


def test_signed_requests_are_bound_to_method_url_body_time_and_used_once(
    app: Any, citizen: Any
) -> None:
    sim = bound_phone(app, citizen)
    path = "/mobile/v1/devices"
    assert sim.call("GET", path, htm="POST").status == 401
    assert sim.call("GET", path, htu="http://localhost/mobile/v1/requests").status == 401
    assert sim.call("GET", path, iat=1_700_000_000).status == 401
    assert sim.call("GET", path, aud="https://other.example").status == 401
    # A body that is not the one signed.
    token = sim.request_jwt("POST", "/mobile/v1/qr", json.dumps({"qr": "a"}).encode())
    response = sim.transport(
        "POST",
        "/mobile/v1/qr",
        headers={"Authorization": f"Device {token}", "Content-Type": "application/json"},
        body=json.dumps({"qr": "b"}).encode(),
    )
    assert response.status == 401
    # A replayed request (same jti).
    token = sim.request_jwt("GET", path, b"")
    headers = {"Authorization": f"Device {token}"}
    assert sim.transport("GET", path, headers=headers).status == 200
    assert sim.transport("GET", path, headers=headers).status == 401
    # No signature, or a bearer token, is not enough.
    assert sim.transport("GET", path, headers={}).status == 401
    assert sim.transport("GET", path, headers={"Authorization": "Bearer x"}).status == 401


def test_a_device_cannot_remove_another_citizens_device(app: Any, citizen: Any) -> None:
    from idp.authn.citizens import create_citizen

    other = create_citizen(
        id_number="110101199003074530", name="王小明", phone="+8613900139000", password="x" * 12
    )
    mine = bound_phone(app, citizen)
    theirs = bound_phone(app, other)
    assert mine.remove(theirs.device_id or "").status == 404
    assert theirs.devices().status == 200


def test_feature_off_registers_no_route(backend: Any) -> None:
    from conftest import make_app

    app = make_app(backend, IDP_FEATURE_MOBILE_APP=False)
    rules = {r.rule for r in app.url_map.iter_rules()}
    assert not any(r.startswith("/mobile") or r.endswith("/app") for r in rules)
    assert not any(r.startswith("/account/devices") or "handoff" in r for r in rules)


def test_a_malformed_decision_leaves_the_request_pending(app: Any, citizen: Any) -> None:
    from mobile_helpers import WaitingBrowser
    from oidc_helpers import grant_consent

    from idp.oauth.clients import register_client as register

    sim = bound_phone(app, citizen)
    portal, secret = register(
        name="Portal", redirect_uris=["https://p.example.gov/cb"], scope="openid profile"
    )

    class Rp:
        client_id = portal.client_id
        redirect_uri = "https://p.example.gov/cb"

    Rp.secret = secret  # type: ignore[attr-defined]
    grant_consent(citizen, Rp, "openid profile")
    browser = WaitingBrowser(app.test_client(), Rp)
    request_id = sim.scan(browser.qr).body["id"]
    bad = sim.call(
        "POST",
        f"/mobile/v1/requests/{request_id}",
        {"decision": "approve", "uv": True, "uvm": "iris"},
    )
    assert bad.status == 400 and bad.body["error"] == "invalid_request"
    assert (
        sim.call("POST", f"/mobile/v1/requests/{request_id}", {"decision": "maybe"}).status == 400
    )
    assert (
        sim.call(
            "POST", f"/mobile/v1/requests/{request_id}", {"decision": "approve", "uv": "yes"}
        ).status
        == 400
    )
    assert browser.status().get_json() == {"status": "scanned"}
    assert sim.decide(request_id, "approve").status == 200
