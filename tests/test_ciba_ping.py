"""CIBA ping mode (CIBA Core 1.0 section 10.2) through the back-channel outbox: a ping
is retried with backoff, abandoned after the limit, sent when a request expires
unanswered, never kept in clear, and listed and delivered by ``idp backchannel``.

The hotline's notification endpoint is ``hotline_simulator.PingReceiver``, a real HTTP
server on a loopback port whose first answers can be scripted to fail.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict
from dataclasses import replace
from typing import Any

import pytest
from conftest import CITIZEN_ID_NUMBER
from hotline_simulator import HotlineSimulator
from hotline_simulator import PingReceiver
from mobile_helpers import bound_phone
from oidc_helpers import fresh_requests
from sqlalchemy import select
from sqlalchemy import text
from webforms import resident

from idp.authn.sms.gateway import outbox
from idp.extensions import db
from idp.models import BackchannelDelivery
from idp.oauth import backchannel_delivery as delivery
from idp.oauth import ciba
from idp.oauth.clients import CIBA_GRANT_TYPE
from idp.oauth.clients import register_client

TOKEN = "tok-8d2e.Z+ping/secret=="
UNKNOWN_NUMBER = resident("44030519900307123")
CODE = re.compile(r"#(\d{6})\b")  # the WebOTP line ending every code text


@pytest.fixture
def app_config():
    # Retries due at once (the backoff is tested with the logout notices), short timeouts;
    # the loopback receiver is a registrable endpoint.
    return {
        "IDP_BACKCHANNEL_RETRY_BASE": 0,
        "IDP_BACKCHANNEL_TIMEOUT": 2,
        "IDP_ALLOW_PRIVATE_FETCH": True,
    }


@pytest.fixture(autouse=True)
def _fresh(app):
    fresh_requests(app)


@pytest.fixture
def receiver():
    served = PingReceiver()
    yield served
    served.close()


@pytest.fixture
def hotline(app, http, receiver) -> HotlineSimulator:
    client, secret = register_client(
        name="12345 Citizen Hotline",
        redirect_uris=[],
        auth_method="client_secret_basic",
        scope="openid profile",
        grant_types=[CIBA_GRANT_TYPE],
        first_party=True,
        backchannel_token_delivery_mode="ping",
        backchannel_client_notification_endpoint=receiver.url,
    )
    assert secret is not None
    return HotlineSimulator(http, client.client_id, secret)


@pytest.fixture
def agent(app) -> Any:
    from idp.authn.staff.accounts import create_staff

    staff, _ = create_staff(username="agent.li", display_name="Agent Li", roles=["hotline_agent"])
    return staff


def _start(
    hotline: HotlineSimulator, agent: Any, number: str = CITIZEN_ID_NUMBER, **kw: str
) -> str:
    response = hotline.start(number, agent.id, client_notification_token=TOKEN, **kw)
    assert response.status_code == 200, response.get_json()
    return str(response.get_json()["auth_req_id"])


def _approve(phone: Any) -> None:
    pending = phone.pending()
    (request,) = [r for r in pending.body["requests"] if r["channel"] == "hotline"]
    phone.decide(request["id"], "approve", uv=True, uvm="fpt")


def _rows() -> list[BackchannelDelivery]:
    db.session.expire_all()
    return list(db.session.scalars(select(BackchannelDelivery)).all())


def _cli(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["backchannel", *args])


def test_a_ping_that_fails_first_is_retried_then_delivered(
    app, http, citizen, hotline, agent, receiver
):
    phone = bound_phone(app, citizen)
    auth_req_id = _start(hotline, agent)
    receiver.answers = [503]
    _approve(phone)
    first = delivery.deliver_due()
    assert (first.delivered, first.retrying) == (0, 1)
    (row,) = _rows()
    assert (row.kind, row.reason, row.attempts) == ("ciba_ping", "decision", 1)
    assert row.last_error == "the portal answered HTTP 503" and row.secret_enc is not None
    # The CLI (cron) pass sends it again.
    result = _cli(app, "deliver", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"delivered": 1, "retrying": 0, "abandoned": 0}
    assert len(receiver.received) == 2
    for ping in receiver.received:
        assert ping.authorization == f"Bearer {TOKEN}"
        assert ping.body == {"auth_req_id": auth_req_id}
    (row,) = _rows()
    assert row.delivered_at is not None and row.attempts == 2 and row.last_error is None
    assert row.secret_enc is None  # the token is dropped once it has done its job
    assert hotline.token(auth_req_id).status_code == 200
    assert delivery.deliver_due().as_dict() == {"delivered": 0, "retrying": 0, "abandoned": 0}


@pytest.mark.parametrize(
    "app_config",
    [
        {
            "IDP_BACKCHANNEL_MAX_ATTEMPTS": 2,
            "IDP_BACKCHANNEL_RETRY_BASE": 0,
            "IDP_BACKCHANNEL_TIMEOUT": 2,
            "IDP_ALLOW_PRIVATE_FETCH": True,
        }
    ],
)
def test_a_ping_is_abandoned_after_the_limit(app, http, citizen, hotline, agent, receiver):
    phone = bound_phone(app, citizen)
    _start(hotline, agent)
    receiver.answers = [500, 500, 500]
    _approve(phone)
    assert delivery.deliver_due().retrying == 1
    result = _cli(app, "deliver")
    assert result.exit_code == 1 and "abandoned 1" in result.output
    (row,) = _rows()
    assert row.abandoned_at is not None and row.attempts == 2 and row.secret_enc is None
    assert delivery.deliver_due().as_dict() == {"delivered": 0, "retrying": 0, "abandoned": 0}
    assert len(receiver.received) == 2
    listed = _cli(app, "list", "--json")
    (shown,) = json.loads(listed.output)
    assert shown["kind"] == "ciba_ping" and shown["reason"] == "decision"
    assert shown["state"] == "abandoned" and shown["last_error"] == "the portal answered HTTP 500"
    plain = _cli(app, "list").output
    assert "ciba_ping" in plain and "abandoned" in plain


def test_the_notification_token_is_never_kept_in_clear(app, http, citizen, hotline, agent):
    bound_phone(app, citizen)
    auth_req_id = _start(hotline, agent)
    # Every column of the outbox, as the database holds it.
    raw = db.session.execute(text("SELECT * FROM backchannel_delivery")).all()
    assert len(raw) == 1
    dumped = repr(raw)
    assert TOKEN not in dumped and auth_req_id not in dumped
    assert TOKEN.encode() not in bytes(raw[0]._mapping["secret_enc"])
    # Nor in the ephemeral store's record of the request.
    stored = ciba._load(ciba._hash(auth_req_id))
    assert stored is not None and stored.ping_id == raw[0]._mapping["id"]
    assert TOKEN not in json.dumps(asdict(stored)) and auth_req_id not in json.dumps(asdict(stored))
    listed = _cli(app, "list", "--json").output
    assert TOKEN not in listed and auth_req_id not in listed


def test_a_sealed_token_copied_to_another_row_does_not_open(
    app, http, citizen, hotline, agent, receiver
):
    bound_phone(app, citizen)
    _start(hotline, agent, requested_expiry="1")
    _start(hotline, agent, requested_expiry="1")
    first, second = _rows()
    second.secret_enc = first.secret_enc
    db.session.commit()
    time.sleep(1.2)
    assert delivery.deliver_due().as_dict() == {"delivered": 1, "retrying": 0, "abandoned": 1}
    assert len(receiver.received) == 1
    (abandoned,) = [r for r in _rows() if r.abandoned_at]
    assert abandoned.id == second.id
    assert abandoned.last_error == "the ping's token cannot be opened"


@pytest.mark.parametrize("number", [CITIZEN_ID_NUMBER, UNKNOWN_NUMBER])
def test_an_unanswered_request_is_pinged_when_it_expires(
    app, http, citizen, hotline, agent, receiver, number
):
    bound_phone(app, citizen)
    # Two seconds: the expiry is counted from the whole second, so a one-second request
    # can expire at once (the check below then found the ping already due under load).
    auth_req_id = _start(hotline, agent, number=number, requested_expiry="2")
    # Owed, not yet due: the ping waits for the expiry.
    assert delivery.deliver_due().as_dict() == {"delivered": 0, "retrying": 0, "abandoned": 0}
    (shown,) = json.loads(_cli(app, "list", "--json").output)
    assert (shown["kind"], shown["reason"], shown["state"]) == ("ciba_ping", "expiry", "pending")
    assert receiver.received == []
    time.sleep(2.2)
    assert delivery.deliver_due().delivered == 1
    (ping,) = receiver.received
    assert ping.body == {"auth_req_id": auth_req_id}
    assert ping.authorization == f"Bearer {TOKEN}"
    response = hotline.token(auth_req_id)
    assert response.status_code == 400
    assert response.get_json()["error"] == "expired_token"


def test_a_ping_retried_after_the_grace_still_leads_to_expired_token(
    app, http, citizen, hotline, agent, receiver, monkeypatch
):
    """The request is kept past its expiry as long as its ping may still be delivered:
    a client polling meanwhile, and again on the late ping, hears ``expired_token``
    both times (it used to be ``invalid_grant`` once the grace had passed)."""
    monkeypatch.setattr(ciba, "EXPIRED_GRACE", 1)  # a late poll's grace, shortened
    app.config["IDP_BACKCHANNEL_RETRY_BASE"] = 2  # the retry falls due after it
    bound_phone(app, citizen)
    auth_req_id = _start(hotline, agent, requested_expiry="1")
    receiver.answers = [503]
    time.sleep(1.2)
    assert delivery.deliver_due().retrying == 1  # the ping at expiry fails
    failed_at = time.monotonic()
    polled = hotline.token(auth_req_id)  # ping mode clients may poll too
    assert polled.status_code == 400 and polled.get_json()["error"] == "expired_token"
    time.sleep(max(0.0, failed_at + 2.4 - time.monotonic()))  # backoff 2 s + jitter
    assert delivery.deliver_due().delivered == 1
    (_, ping) = receiver.received
    assert ping.body == {"auth_req_id": auth_req_id}
    late = hotline.token(auth_req_id)
    assert late.status_code == 400 and late.get_json()["error"] == "expired_token"


def test_the_retry_horizon_follows_the_backoff_settings(app):
    """Every wait at its longest (cap, 10 % jitter) plus, per attempt, a lease (twice
    the timeout + 5 s) and a worker's poll."""
    app.config.update(
        IDP_BACKCHANNEL_MAX_ATTEMPTS=3,
        IDP_BACKCHANNEL_RETRY_BASE=10,
        IDP_BACKCHANNEL_RETRY_MAX=15,
        IDP_BACKCHANNEL_TIMEOUT=2,
        IDP_BACKCHANNEL_POLL=30,
    )
    # waits 10 and min(15, 20), each + 10 %: 27.5; three attempts of 9 + 30 s: 117.
    assert delivery.retry_horizon() == 145
    app.config["IDP_BACKCHANNEL_MAX_ATTEMPTS"] = 1
    assert delivery.retry_horizon() == 39


@pytest.mark.parametrize(
    "app_config",
    [{"IDP_BACKCHANNEL_WORKER": True, "IDP_ALLOW_PRIVATE_FETCH": True}],
)
def test_the_serving_process_pings_at_expiry_without_being_asked(
    app, http, citizen, hotline, agent, receiver
):
    try:
        bound_phone(app, citizen)
        auth_req_id = _start(hotline, agent, requested_expiry="1")
        started = time.monotonic()
        (ping,) = receiver.wait_for(1, timeout=8)
        # The worker's wait ended at the expiry, not at its 30-second poll.
        assert time.monotonic() - started < 8
        assert ping.body == {"auth_req_id": auth_req_id}
        assert hotline.token(auth_req_id).get_json()["error"] == "expired_token"
    finally:
        delivery.stop_worker(app)


def test_a_client_with_its_answer_from_token_is_not_pinged(
    app, http, citizen, hotline, agent, receiver
):
    phone = bound_phone(app, citizen)
    auth_req_id = _start(hotline, agent)
    # A pending poll does not settle anything: the ping stays owed.
    assert hotline.token(auth_req_id).get_json()["error"] == "authorization_pending"
    assert len(_rows()) == 1
    _approve(phone)
    assert hotline.token(auth_req_id).status_code == 200
    assert _rows() == []
    assert delivery.deliver_due().as_dict() == {"delivered": 0, "retrying": 0, "abandoned": 0}
    assert receiver.received == []


def test_a_refusal_is_pinged_at_once(app, http, citizen, hotline, agent, receiver):
    phone = bound_phone(app, citizen)
    auth_req_id = _start(hotline, agent)
    pending = phone.pending()
    (request,) = [r for r in pending.body["requests"] if r["channel"] == "hotline"]
    phone.decide(request["id"], "deny")
    assert delivery.deliver_due().delivered == 1
    assert receiver.received[0].body == {"auth_req_id": auth_req_id}
    assert hotline.token(auth_req_id).get_json()["error"] == "access_denied"


def _refuse(app: Any, phone: Any, how: str) -> None:
    """The citizen refuses on the app: deny, not me, or an approval below the level the
    request asked for (``_start(..., acr_values=HIGH)``, approved with a PIN)."""
    (request,) = [r for r in phone.pending().body["requests"] if r["channel"] == "hotline"]
    if how == "below_acr":
        phone.decide(request["id"], "approve", uv=True, uvm="pin")
    else:
        phone.decide(request["id"], how)


HIGH = "urn:idp:acr:high"
REFUSALS = ["deny", "not_me", "below_acr"]


@pytest.mark.parametrize("how", REFUSALS)
def test_a_refusal_retried_after_token_answered_still_leads_to_access_denied(
    app, http, citizen, hotline, agent, receiver, how
):
    """``/token`` answered ``access_denied`` while the ping was being retried: the late
    ping leads the client to ``/token`` again, which says ``access_denied`` again (it
    used to be ``invalid_grant``: the request had been forgotten), never tokens."""
    phone = bound_phone(app, citizen)
    auth_req_id = _start(hotline, agent, acr_values=HIGH)
    receiver.answers = [503]
    _refuse(app, phone, how)
    assert delivery.deliver_due().retrying == 1  # the ping at the decision fails
    polled = hotline.token(auth_req_id)  # ping mode clients may poll too
    assert polled.status_code == 400 and polled.get_json()["error"] == "access_denied"
    assert delivery.deliver_due().delivered == 1  # the retry (backoff 0 here)
    (_, ping) = receiver.received
    assert ping.body == {"auth_req_id": auth_req_id}
    for _ in range(2):
        late = hotline.token(auth_req_id)
        assert late.status_code == 400 and late.get_json()["error"] == "access_denied"


@pytest.mark.parametrize("how", REFUSALS)
def test_a_refusal_pinged_after_expiry_still_leads_to_access_denied(
    app, http, citizen, hotline, agent, receiver, monkeypatch, how
):
    """The ping of a refusal retried past the request's expiry (and past a late poll's
    grace): the client hears ``access_denied``, the citizen's answer, not
    ``expired_token`` or ``invalid_grant``."""
    monkeypatch.setattr(ciba, "EXPIRED_GRACE", 1)
    phone = bound_phone(app, citizen)
    # Three seconds (counted from the whole second: at least two) to refuse in time.
    started = time.monotonic()
    auth_req_id = _start(hotline, agent, requested_expiry="3", acr_values=HIGH)
    receiver.answers = [503]
    _refuse(app, phone, how)
    assert delivery.deliver_due().retrying == 1
    time.sleep(max(0.0, started + 4.5 - time.monotonic()))  # expired, and its grace too
    assert delivery.deliver_due().delivered == 1
    (_, ping) = receiver.received
    assert ping.body == {"auth_req_id": auth_req_id}
    for _ in range(2):
        late = hotline.token(auth_req_id)
        assert late.status_code == 400 and late.get_json()["error"] == "access_denied"


def test_a_refused_request_never_yields_tokens(app, http, citizen, hotline, agent, receiver):
    """Kept to answer ``access_denied`` again, a refused request stays refused: nothing
    is left for the app to approve, and even an approval record that said approved
    (a race, a bug) would not be read: ``/token`` checks the refusal first."""
    from idp.authn.approvals import model as approval_model

    phone = bound_phone(app, citizen)
    auth_req_id = _start(hotline, agent)
    (request,) = [r for r in phone.pending().body["requests"] if r["channel"] == "hotline"]
    _refuse(app, phone, "deny")
    assert hotline.token(auth_req_id).get_json()["error"] == "access_denied"
    hotline_requests = [r for r in phone.pending().body["requests"] if r["channel"] == "hotline"]
    assert hotline_requests == []  # nothing left to approve
    stored = ciba._load(ciba._hash(auth_req_id))
    assert stored is not None and stored.status == ciba.Status.DENIED
    denied = approval_model.get(request["id"])
    assert denied is not None and denied.device_id
    approval_model.save(
        replace(denied, status="approved", methods=["hwk", "fpt"], acr="urn:idp:acr:high")
    )
    again = hotline.token(auth_req_id)
    assert again.status_code == 400 and again.get_json()["error"] == "access_denied"
    assert "access_token" not in again.get_json()


def test_a_disabled_client_is_not_pinged(app, http, citizen, hotline, agent, receiver):
    from idp.oauth.clients import disable_client

    phone = bound_phone(app, citizen)
    _start(hotline, agent)
    _approve(phone)
    disable_client(hotline.client_id)
    assert delivery.deliver_due().abandoned == 1
    assert receiver.received == []
    (row,) = _rows()
    assert row.last_error == "the client no longer takes CIBA pings" and row.secret_enc is None


def test_an_sms_read_back_is_pinged_at_once(app, http, citizen, hotline, agent, receiver):
    auth_req_id = _start(hotline, agent)  # no bound app: an SMS code to read back
    box = outbox()
    assert box is not None
    (message,) = box.messages(phone=citizen.phone)
    code = CODE.search(message.text)
    assert code
    assert hotline.read_back(auth_req_id, code.group(1)).status_code == 200
    assert delivery.deliver_due().delivered == 1
    assert receiver.received[0].body == {"auth_req_id": auth_req_id}
    assert hotline.token(auth_req_id).status_code == 200
