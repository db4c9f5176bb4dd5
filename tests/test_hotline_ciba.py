"""The hotline channel: OpenID Connect CIBA (poll and ping) through the real endpoints.

A hotline system (``hotline_simulator``) starts sign-ins naming the caller's ID number
and the agent; the citizen approves in the bound app (``app_simulator``) or reads back
an SMS code; tokens carry ``act`` naming the agent. Knowing an ID number alone never
yields a token, and unknown numbers look exactly like known ones.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from conftest import CITIZEN_ID_NUMBER
from hotline_simulator import HotlineSimulator
from hotline_simulator import PingReceiver
from mobile_helpers import bound_phone
from oidc_helpers import basic
from oidc_helpers import decode_id_token
from oidc_helpers import fresh_requests
from sqlalchemy import select
from webforms import resident

from idp.authn.sms.gateway import outbox
from idp.errors import InvalidInput
from idp.extensions import db
from idp.models import AuditEvent
from idp.oauth import backchannel_delivery
from idp.oauth.clients import CIBA_GRANT_TYPE
from idp.oauth.clients import register_client

UNKNOWN_NUMBER = resident("44030519900307123")
# The WebOTP line (`@host #123456`) ends every code text, whatever its language.
CODE = re.compile(r"#(\d{6})\b")


@pytest.fixture(autouse=True)
def _fresh(app):
    fresh_requests(app)


def _hotline(http: Any, **kw: Any) -> HotlineSimulator:
    client, secret = register_client(
        name="12345 Citizen Hotline",
        redirect_uris=[],
        auth_method="client_secret_basic",
        scope="openid profile",
        grant_types=[CIBA_GRANT_TYPE],
        first_party=True,
        **kw,
    )
    assert secret is not None
    return HotlineSimulator(http, client.client_id, secret)


@pytest.fixture
def hotline(app, http) -> HotlineSimulator:
    return _hotline(http)


@pytest.fixture
def agent(app) -> Any:
    from idp.authn.staff.accounts import create_staff

    staff, _ = create_staff(username="agent.li", display_name="Agent Li", roles=["hotline_agent"])
    return staff


def _started(response: Any) -> str:
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == {"auth_req_id", "expires_in", "interval"}
    return str(body["auth_req_id"])


def _hotline_request(phone: Any) -> dict[str, Any]:
    pending = phone.pending()
    assert pending.status == 200, pending.body
    found = [r for r in pending.body["requests"] if r["channel"] == "hotline"]
    assert len(found) == 1, pending.body
    return dict(found[0])


def _error(response: Any) -> str:
    return str(response.get_json()["error"])


def test_discovery_advertises_ciba(http):
    meta = http.get("/.well-known/openid-configuration").get_json()
    assert meta["backchannel_authentication_endpoint"] == "http://localhost/bc-authorize"
    assert meta["backchannel_token_delivery_modes_supported"] == ["poll", "ping"]
    assert meta["backchannel_user_code_parameter_supported"] is False
    assert CIBA_GRANT_TYPE in meta["grant_types_supported"]


def test_poll_mode_approved_with_biometric_names_the_agent(app, http, citizen, hotline, agent):
    phone = bound_phone(app, citizen)
    auth_req_id = _started(hotline.start(CITIZEN_ID_NUMBER, agent.id, binding_message="Call 4821"))
    assert _error(hotline.token(auth_req_id)) == "authorization_pending"

    shown = _hotline_request(phone)
    assert shown["binding_message"] == "Call 4821"
    assert shown["agent"] == "Agent Li"
    assert shown["client_name"] == "12345 Citizen Hotline"
    assert phone.decide(shown["id"], "approve", uv=True, uvm="fpt").status == 200

    response = hotline.token(auth_req_id)
    assert response.status_code == 200, response.get_json()
    tokens = response.get_json()
    assert "refresh_token" not in tokens
    _, claims = decode_id_token(http, tokens["id_token"], client_id=hotline.client_id)
    act = {"sub": f"staff:{agent.id}", "client_id": hotline.client_id}
    assert claims["act"] == act
    assert claims["channel"] == "hotline"
    assert claims["acr"] == "urn:idp:acr:high"
    assert "fpt" in claims["amr"]
    seen = http.post(
        "/introspect",
        data={"token": tokens["access_token"]},
        headers=basic(hotline.client_id, hotline.secret),
    ).get_json()
    assert seen["active"] is True
    assert seen["act"] == act
    # Tokens once.
    assert _error(hotline.token(auth_req_id)) == "invalid_grant"

    # The sign-in is one of the citizen's sessions: channel, approving device, agent.
    from idp.authn import sessions

    (session,) = [
        s
        for s in sessions.list_for(app.extensions["idp.store"], citizen.id)
        if s.channel == "hotline"
    ]
    assert session.sid == claims["sid"]
    assert session.device_id == phone.device_id
    assert session.acting_staff_id == agent.id
    assert hotline.client_id in session.clients

    # The trail: the agent asked, the citizen signed in on the hotline, tokens went out.
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    asked = [e for e in events if e.details.get("action") == "hotline.sign_in_requested"]
    assert asked and asked[0].actor_id == agent.id and asked[0].details["asked_by"] == "app"
    logins = [e for e in events if e.event == "login.success" and e.channel == "hotline"]
    assert len(logins) == 1
    assert logins[0].actor_type == "staff" and logins[0].actor_id == agent.id
    assert logins[0].citizen_id == citizen.id
    assert any(e.event == "token.issue" and e.client_id == hotline.client_id for e in events)
    assert CITIZEN_ID_NUMBER not in str([e.details for e in events])


def test_passcode_approval_is_substantial(app, http, citizen, hotline, agent):
    phone = bound_phone(app, citizen)
    auth_req_id = _started(hotline.start(CITIZEN_ID_NUMBER, agent.id))
    phone.decide(_hotline_request(phone)["id"], "approve", uv=True, uvm="pin")
    tokens = hotline.token(auth_req_id).get_json()
    _, claims = decode_id_token(http, tokens["id_token"], client_id=hotline.client_id)
    assert claims["acr"] == "urn:idp:acr:substantial"


def test_acr_values_above_the_approval_are_refused(app, http, citizen, hotline, agent):
    phone = bound_phone(app, citizen)
    auth_req_id = _started(
        hotline.start(CITIZEN_ID_NUMBER, agent.id, acr_values="urn:idp:acr:high")
    )
    assert _hotline_request(phone)["required_acr"] == "urn:idp:acr:high"
    phone.decide(_hotline_request(phone)["id"], "approve", uv=True, uvm="pin")
    assert _error(hotline.token(auth_req_id)) == "access_denied"


@pytest.mark.parametrize("decision", ["deny", "not_me"])
def test_refusal_is_access_denied(app, http, citizen, hotline, agent, decision):
    phone = bound_phone(app, citizen)
    auth_req_id = _started(hotline.start(CITIZEN_ID_NUMBER, agent.id))
    phone.decide(_hotline_request(phone)["id"], decision)
    response = hotline.token(auth_req_id)
    assert response.status_code == 400
    assert _error(response) == "access_denied"


def test_expired_request(app, http, citizen, hotline, agent):
    bound_phone(app, citizen)
    auth_req_id = _started(hotline.start(CITIZEN_ID_NUMBER, agent.id, requested_expiry="1"))
    time.sleep(1.2)
    assert _error(hotline.token(auth_req_id)) == "expired_token"


def test_polling_too_fast_is_slow_down(app, http, citizen, hotline, agent):
    bound_phone(app, citizen)
    auth_req_id = _started(hotline.start(CITIZEN_ID_NUMBER, agent.id))
    assert _error(hotline.token(auth_req_id)) == "authorization_pending"
    assert _error(hotline.token(auth_req_id)) == "slow_down"


def test_another_clients_auth_req_id_is_invalid_grant(app, http, citizen, hotline, agent):
    bound_phone(app, citizen)
    auth_req_id = _started(hotline.start(CITIZEN_ID_NUMBER, agent.id))
    other = _hotline(http)
    assert _error(other.token(auth_req_id)) == "invalid_grant"
    assert _error(hotline.token("not-an-id")) == "invalid_grant"


def test_unknown_and_known_numbers_get_the_same_answer(app, http, citizen, hotline, agent):
    bound_phone(app, citizen)
    known = hotline.start(CITIZEN_ID_NUMBER, agent.id)
    unknown = hotline.start(UNKNOWN_NUMBER, agent.id)
    assert known.status_code == unknown.status_code == 200
    a, b = known.get_json(), unknown.get_json()
    assert set(a) == set(b)
    assert (a["expires_in"], a["interval"]) == (b["expires_in"], b["interval"])
    assert len(a["auth_req_id"]) == len(b["auth_req_id"])
    assert dict(known.headers).keys() == dict(unknown.headers).keys()
    # The unknown one is pending like any other, and never more.
    assert _error(hotline.token(b["auth_req_id"])) == "authorization_pending"


def test_knowledge_alone_gets_no_session(app, http, citizen, hotline, agent):
    """A caller who knows the number (and name, and birth date) but has neither the
    bound phone nor the phone on record: no approval, no usable code, no tokens."""
    bound_phone(app, citizen)
    auth_req_id = _started(hotline.start(CITIZEN_ID_NUMBER, agent.id, binding_message="Caller"))
    for _ in range(2):
        assert _error(hotline.token(auth_req_id)) in ("authorization_pending", "slow_down")
        time.sleep(0.01)
    # Reading back a guessed code does not work: no code was sent (the app was asked).
    refused = hotline.read_back(auth_req_id, "123456")
    assert refused.status_code == 400 and _error(refused) == "invalid_grant"
    # Worded as a wrong SMS code: the caller does not learn that an app was asked.
    assert refused.get_json()["error_description"] == "The code is not valid."
    from idp.authn import sessions

    signed_in = sessions.list_for(app.extensions["idp.store"], citizen.id)
    assert [s.channel for s in signed_in if s.channel == "hotline"] == []


def test_sms_read_back_reaches_low_only(app, http, citizen, hotline, agent):
    auth_req_id = _started(hotline.start(CITIZEN_ID_NUMBER, agent.id))
    box = outbox()
    assert box is not None
    texts = [m.text for m in box.messages(phone=citizen.phone)]
    assert texts and "热线" in texts[0]  # the text is in the citizen's language (Chinese)
    code = CODE.search(texts[0])
    assert code
    wrong = hotline.read_back(auth_req_id, "000000" if code.group(1) != "000000" else "111111")
    assert _error(wrong) == "invalid_grant"
    assert wrong.get_json()["error_description"] == "The code is not valid."
    ok = hotline.read_back(auth_req_id, code.group(1))
    assert ok.status_code == 200, ok.get_json()
    tokens = hotline.token(auth_req_id).get_json()
    _, claims = decode_id_token(http, tokens["id_token"], client_id=hotline.client_id)
    assert claims["acr"] == "urn:idp:acr:low"
    assert claims["amr"] == ["sms"]
    assert claims["act"]["sub"] == f"staff:{agent.id}"
    # The code went to the phone on record and came back: the number is proved.
    db.session.refresh(citizen)
    assert citizen.verified_phone == citizen.phone
    verified = select(AuditEvent).where(AuditEvent.event == "account.phone_verified")
    assert [e.details["via"] for e in db.session.scalars(verified)] == ["sms_sign_in"]


def test_no_sms_when_more_than_low_is_needed(app, http, citizen, hotline, agent):
    _started(hotline.start(CITIZEN_ID_NUMBER, agent.id, acr_values="urn:idp:acr:substantial"))
    box = outbox()
    assert box is not None
    assert box.messages(phone=citizen.phone) == []


def test_per_citizen_quota_counts_unknown_numbers_alike(app, http, citizen, hotline, agent):
    limit = app.config["IDP_HOTLINE_PER_CITIZEN_HOUR"]
    for number in (CITIZEN_ID_NUMBER, UNKNOWN_NUMBER):
        for _ in range(limit):
            assert hotline.start(number, agent.id).status_code == 200
        refused = hotline.start(number, agent.id)
        assert refused.status_code == 429
        assert _error(refused) == "slow_down"
        assert int(refused.headers["Retry-After"]) > 0


@pytest.mark.parametrize("app_config", [{"IDP_HOTLINE_PER_AGENT_HOUR": 3}])
def test_per_agent_quota(app, http, citizen, hotline, agent):
    for i in range(3):
        number = resident(f"4403051990030{i + 1}123")
        assert hotline.start(number, agent.id).status_code == 200
    refused = hotline.start(resident("44030519900309123"), agent.id)
    assert refused.status_code == 429


@pytest.mark.parametrize(
    "app_config", [{"IDP_ALLOW_PRIVATE_FETCH": True, "IDP_BACKCHANNEL_WORKER": True}]
)
def test_ping_mode_notifies_the_hotline(app, http, citizen, agent):
    receiver = PingReceiver()
    try:
        hotline = _hotline(
            http,
            backchannel_token_delivery_mode="ping",
            backchannel_client_notification_endpoint=receiver.url,
        )
        phone = bound_phone(app, citizen)
        missing = hotline.start(CITIZEN_ID_NUMBER, agent.id)
        assert _error(missing) == "invalid_request"  # no client_notification_token
        auth_req_id = _started(
            hotline.start(CITIZEN_ID_NUMBER, agent.id, client_notification_token="tok-8d2e.Z")
        )
        phone.decide(_hotline_request(phone)["id"], "approve", uv=True, uvm="fpt")
        (ping,) = receiver.wait_for(1)
        assert ping.authorization == "Bearer tok-8d2e.Z"
        assert ping.body == {"auth_req_id": auth_req_id}
        assert ping.content_type.startswith("application/json")
        response = hotline.token(auth_req_id)
        assert response.status_code == 200, response.get_json()
    finally:
        backchannel_delivery.stop_worker(app)
        receiver.close()


def test_ping_registration_needs_https_or_loopback(app):
    with pytest.raises(InvalidInput):
        register_client(
            name="Hotline",
            redirect_uris=[],
            grant_types=[CIBA_GRANT_TYPE],
            scope="openid",
            backchannel_token_delivery_mode="ping",
            backchannel_client_notification_endpoint="http://hotline.example.gov/ping",
        )
    with pytest.raises(InvalidInput):
        register_client(
            name="Hotline",
            redirect_uris=[],
            grant_types=[CIBA_GRANT_TYPE],
            scope="openid",
            backchannel_token_delivery_mode="ping",
        )
    with pytest.raises(InvalidInput):
        register_client(
            name="Hotline",
            redirect_uris=[],
            grant_types=[CIBA_GRANT_TYPE],
            scope="openid",
            auth_method="none",
        )


@pytest.mark.parametrize(
    ("overrides", "status", "error"),
    [
        ({"scope": "profile"}, 400, "invalid_scope"),
        ({"login_hint": "110105194912310021"}, 400, "invalid_request"),
        ({"login_hint": ""}, 400, "invalid_request"),
        ({"binding_message": "<script>"}, 400, "invalid_binding_message"),
        ({"binding_message": "x" * 65}, 400, "invalid_binding_message"),
        ({"agent_id": "nobody"}, 403, "access_denied"),
        ({"requested_expiry": "-5"}, 400, "invalid_request"),
        ({"acr_values": "urn:other"}, 400, "invalid_request"),
        ({"id_token_hint": "eyJ"}, 400, "invalid_request"),
        ({"user_code": "1234"}, 400, "invalid_request"),
    ],
)
def test_bad_requests_get_the_spec_errors(app, http, hotline, agent, overrides, status, error):
    data = {"login_hint": CITIZEN_ID_NUMBER, "agent_id": agent.id, **overrides}
    response = hotline.start(**data)
    assert response.status_code == status, response.get_json()
    assert _error(response) == error


def test_clients_must_authenticate_and_be_allowed(app, http, rp, agent):
    anonymous = http.post("/bc-authorize", data={"scope": "openid", "login_hint": "x"})
    assert anonymous.status_code == 401 and _error(anonymous) == "invalid_client"
    portal = HotlineSimulator(http, rp.client_id, rp.secret)
    refused = portal.start(CITIZEN_ID_NUMBER, agent.id)
    assert _error(refused) == "unauthorized_client"


def test_agent_must_have_an_agent_role_and_be_active(app, http, hotline):
    from idp.authn.staff.accounts import create_staff
    from idp.authn.staff.accounts import disable

    auditor, _ = create_staff(username="aud", display_name="Aud", roles=["auditor"])
    assert _error(hotline.start(CITIZEN_ID_NUMBER, auditor.id)) == "access_denied"
    agent, _ = create_staff(username="ag2", display_name="Ag", roles=["hotline_agent"])
    disable(agent)
    assert _error(hotline.start(CITIZEN_ID_NUMBER, agent.id)) == "access_denied"


def test_cli_registers_a_ping_mode_hotline(app):
    import json

    result = app.test_cli_runner().invoke(
        args=[
            "clients",
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
            "https://hotline.example.gov/ciba",
            "--json",
        ]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["grant_types"] == [CIBA_GRANT_TYPE]
    assert data["backchannel_token_delivery_mode"] == "ping"
    assert data["backchannel_client_notification_endpoint"] == "https://hotline.example.gov/ciba"
    assert data["client_secret"]
