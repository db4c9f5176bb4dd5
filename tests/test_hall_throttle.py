"""The throttle on a service-hall counter's refused card readings (idp.authn.kiosk_throttle,
channel hall; idp.authn.hall.read_card): what the counter signed counts against the
counter and the staff member, what anybody could send against the sender's address.
Through the real endpoints with the counter terminal simulator and software
authenticators."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from admin_helpers import make_member
from conftest import CITIZEN_ID_NUMBER
from counter_simulator import CounterSimulator
from counter_simulator import nonce_in
from oidc_helpers import ISSUER
from webforms import csrf_from

UNKNOWN_ID_NUMBER = "110101199003074530"  # valid, but no citizen holds it
LIMIT = 3


@pytest.fixture(autouse=True)
def limit(app: Any) -> int:
    app.config["IDP_HALL_REFUSAL_LIMIT"] = LIMIT
    app.config["IDP_HALL_REFUSAL_WINDOW"] = 600
    return LIMIT


@pytest.fixture
def clerk(app: Any) -> Any:
    return make_member(app, username="clerk", roles=["counter_staff"])


@pytest.fixture
def colleague(app: Any) -> Any:
    return make_member(app, username="clerk2", roles=["counter_staff"])


def counter_at(app: Any, *, ip: str = "127.0.0.1", register: bool = True, **where: str) -> Any:
    """A counter terminal's browser (its own test client) at ``ip``."""
    http = app.test_client()
    http.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    http.environ_base["REMOTE_ADDR"] = ip
    simulator = CounterSimulator(http, issuer=ISSUER)
    if register:
        simulator.register(**where)
    return simulator


def signed_in(counter: CounterSimulator, member: Any) -> CounterSimulator:
    response = counter.staff_sign_in(member.key)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return counter


@pytest.fixture
def at_counter(app: Any, clerk: Any) -> CounterSimulator:
    """The clerk signed in at Counter 3."""
    return signed_in(counter_at(app), clerk)


def reason_of(response: Any) -> str | None:
    found = re.search(r'data-reason="([^"]*)"', response.get_data(as_text=True))
    return found.group(1) if found else None


def refused_unknown(counter: CounterSimulator) -> None:
    """A reading the counter signed, refused on its contents (no such account)."""
    response = counter.read_card(UNKNOWN_ID_NUMBER)
    assert response.status_code == 400 and reason_of(response) == "unknown_id_number"


def throttled(response: Any) -> Any:
    """A 429 counter page: Retry-After, the reason, a message for the staff member, and
    still a nonce (it is a counter page like any other)."""
    page = response.get_data(as_text=True)
    assert response.status_code == 429, page[:500]
    assert reason_of(response) == "throttled"
    assert 0 < int(response.headers["Retry-After"]) <= 600
    assert "Too many card readings were refused" in page
    nonce_in(page)
    return response


def throttle_records() -> list[Any]:
    from sqlalchemy import select

    from idp.extensions import db
    from idp.models import AuditEvent

    query = select(AuditEvent).where(
        AuditEvent.event == "staff.action", AuditEvent.outcome == "failure"
    )
    rows = db.session.scalars(query.order_by(AuditEvent.seq))
    return [r for r in rows if r.details.get("reason") == "throttled"]


def test_too_many_refused_readings_pause_the_counter(at_counter: Any, clerk: Any, citizen: Any):
    for _ in range(LIMIT):
        refused_unknown(at_counter)
    # Even a good card is refused now, before any check: nothing more is learnt.
    response = throttled(at_counter.read_card(CITIZEN_ID_NUMBER))
    page = response.get_data(as_text=True)
    assert "paused for 10 minutes" in page and "have the counter terminal checked" in page
    assert CITIZEN_ID_NUMBER not in page
    # The first 429 of the window is on the audit trail: the staff member, the counter,
    # and what was used up.
    [record] = throttle_records()
    assert record.actor_type == "staff" and record.actor_id == clerk.id
    assert record.channel == "hall" and record.citizen_id is None
    assert record.details == {
        "action": "refused",
        "reason": "throttled",
        "counter": at_counter.client_id,
        "by": "counter",
    }
    # More 429s in the same window add no record.
    throttled(at_counter.read_card(CITIZEN_ID_NUMBER))
    throttled(at_counter.read_card(UNKNOWN_ID_NUMBER))
    assert len(throttle_records()) == 1


def test_a_success_does_not_reset_the_budget(at_counter: Any, citizen: Any) -> None:
    for _ in range(LIMIT - 1):
        refused_unknown(at_counter)
    assert at_counter.read_card(CITIZEN_ID_NUMBER).status_code == 303
    response = at_counter.read_card(CITIZEN_ID_NUMBER, chip_verified=False)
    assert reason_of(response) == "card_not_verified"
    throttled(at_counter.read_card(CITIZEN_ID_NUMBER))


def test_forged_readings_count_against_the_address_not_the_counter(
    app: Any, at_counter: Any, colleague: Any, citizen: Any
) -> None:
    """Without the counter's key a reading proves nothing: it counts against the address
    it came from, not the counter it names nor the staff session it was posted in."""
    from joserfc.jwk import ECKey

    forger = counter_at(app, ip="203.0.113.9", register=False)
    forger.client_id = at_counter.client_id
    signed_in(forger, colleague)
    forger.key = ECKey.generate_key("P-256", parameters={"kid": at_counter.key.kid})
    for _ in range(LIMIT):
        response = forger.read_card(CITIZEN_ID_NUMBER)
        assert response.status_code == 400 and reason_of(response) == "bad_signature"
    throttled(forger.read_card(CITIZEN_ID_NUMBER))
    [record] = throttle_records()
    assert record.details["by"] == "ip" and record.actor_id == colleague.id
    # The counter and the clerk at it, at another address, are not affected ...
    assert at_counter.read_card(CITIZEN_ID_NUMBER).status_code == 303
    # ... nor is the colleague, with the counter's real key, from elsewhere.
    elsewhere = counter_at(app, ip="198.51.100.4", register=False)
    elsewhere.client_id, elsewhere.key = at_counter.client_id, at_counter.key
    assert signed_in(elsewhere, colleague).read_card(CITIZEN_ID_NUMBER).status_code == 303


def test_the_staff_members_budget_follows_them_to_another_counter(
    app: Any, at_counter: Any, clerk: Any, colleague: Any, citizen: Any
) -> None:
    for _ in range(LIMIT):
        refused_unknown(at_counter)
    # The clerk moves to Counter 4: their own budget is used up there too.
    other = signed_in(counter_at(app, name="Counter 4", window="Window 4"), clerk)
    throttled(other.read_card(CITIZEN_ID_NUMBER))
    # A colleague taking over Counter 3 finds it paused (the counter's budget) ...
    colleague_at_3 = counter_at(app, register=False)
    colleague_at_3.client_id, colleague_at_3.key = at_counter.client_id, at_counter.key
    throttled(signed_in(colleague_at_3, colleague).read_card(CITIZEN_ID_NUMBER))
    # ... and serves at Counter 4 as usual.
    colleague_at_4 = counter_at(app, register=False)
    colleague_at_4.client_id, colleague_at_4.key = other.client_id, other.key
    assert signed_in(colleague_at_4, colleague).read_card(CITIZEN_ID_NUMBER).status_code == 303
    assert [(r.actor_id, r.details["by"]) for r in throttle_records()] == [
        (clerk.id, "staff"),
        (colleague.id, "counter"),
    ]


def test_a_reading_signed_by_another_counter_counts_against_that_counter(
    app: Any, at_counter: Any, colleague: Any, citizen: Any
) -> None:
    other = counter_at(app, name="Counter 4", window="Window 4")
    for _ in range(LIMIT):
        reading = other.card_reading(CITIZEN_ID_NUMBER, nonce=at_counter.page_nonce())
        assert reason_of(at_counter.post_reading(reading)) == "other_counter"
    throttled(signed_in(other, colleague).read_card(CITIZEN_ID_NUMBER))


def test_an_empty_post_is_not_counted(app: Any, at_counter: Any, citizen: Any) -> None:
    for _ in range(LIMIT + 1):
        response = at_counter.http.post("/hall/card", data={"assertion": ""})
        assert response.status_code == 400 and reason_of(response) == "missing"
    assert at_counter.read_card(CITIZEN_ID_NUMBER).status_code == 303


def test_the_pause_ends_with_the_window(
    app: Any, at_counter: Any, clerk: Any, citizen: Any
) -> None:
    app.config["IDP_HALL_REFUSAL_WINDOW"] = 3
    started = time.monotonic()  # the window starts with the first refusal
    for _ in range(LIMIT):
        refused_unknown(at_counter)
    wait = int(throttled(at_counter.read_card(CITIZEN_ID_NUMBER)).headers["Retry-After"])
    assert wait <= 3
    time.sleep(max(0.0, started + 3.2 - time.monotonic()))
    assert at_counter.read_card(CITIZEN_ID_NUMBER).status_code == 303
    # A new window: a new budget, and its first 429 is recorded again.
    for _ in range(LIMIT):
        refused_unknown(at_counter)
    throttled(at_counter.read_card(CITIZEN_ID_NUMBER))
    assert len(throttle_records()) == 2


def test_the_zh_message(app: Any, at_counter: Any, citizen: Any) -> None:
    for _ in range(LIMIT):
        refused_unknown(at_counter)
    nonce = at_counter.page_nonce()
    response = at_counter.http.post(
        "/hall/card",
        data={"assertion": at_counter.card_reading(CITIZEN_ID_NUMBER, nonce=nonce)},
        headers={"Accept-Language": "zh-CN"},
    )
    assert response.status_code == 429 and "10 分钟" in response.get_data(as_text=True)


def test_counts_are_kept_apart_by_channel(app: Any, store: Any) -> None:
    from idp.authn import kiosk_throttle
    from idp.authn.result import Channel
    from idp.errors import TooManyAttempts

    recorded: list[str] = []
    key = kiosk_throttle.ip_key("192.0.2.1")
    app.config["IDP_KIOSK_REFUSAL_LIMIT"] = LIMIT
    with app.test_request_context():
        for _ in range(LIMIT):
            kiosk_throttle.refused(store, channel=Channel.KIOSK, key=key)
        with pytest.raises(TooManyAttempts):
            kiosk_throttle.check(store, channel=Channel.KIOSK, keys=[key], record=recorded.append)
        assert recorded == ["ip"]
        # The kiosks' refusals from an address spend nothing of the counters' budget.
        kiosk_throttle.check(store, channel=Channel.HALL, keys=[key], record=recorded.append)
        with pytest.raises(ValueError):
            kiosk_throttle.refused(store, channel=Channel.WEBSITE, key=key)


def test_signing_out_and_in_again_buys_no_fresh_budget(
    app: Any, at_counter: Any, clerk: Any, citizen: Any
) -> None:
    for _ in range(LIMIT):
        refused_unknown(at_counter)
    page = at_counter.http.get("/hall").get_data(as_text=True)
    at_counter.http.post("/hall/sign-out", data={"csrf_token": csrf_from(page)})
    throttled(signed_in(at_counter, clerk).read_card(CITIZEN_ID_NUMBER))


def test_a_reading_naming_no_counter_is_told_what_a_forgery_is(
    app: Any, at_counter: Any, colleague: Any, citizen: Any
) -> None:
    """A made-up counter id in a reading gets the answer a bad signature gets, and counts
    against the address like one; the precise reason stays on the audit trail."""
    from joserfc.jwk import ECKey
    from sqlalchemy import select

    from idp.extensions import db
    from idp.models import AuditEvent

    forger = counter_at(app, ip="203.0.113.9", register=False)
    forger.client_id = at_counter.client_id
    signed_in(forger, colleague)
    forger.key = ECKey.generate_key("P-256", parameters={"kid": at_counter.key.kid})
    forged = forger.read_card(CITIZEN_ID_NUMBER)
    forger.client_id = "counter-that-does-not-exist"
    unknown = forger.read_card(CITIZEN_ID_NUMBER)
    assert forged.status_code == unknown.status_code == 400
    assert reason_of(forged) == reason_of(unknown) == "bad_signature"
    message = re.compile(r'data-reason="bad_signature"[^>]*>([^<]*)<')
    assert message.findall(forged.get_data(as_text=True)) == message.findall(
        unknown.get_data(as_text=True)
    )
    rows = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "staff.action"))
    reasons = [r.details.get("reason") for r in rows]
    assert "unknown_or_disabled_kiosk" in reasons and "bad_signature" in reasons
    for _ in range(LIMIT - 2):
        assert reason_of(forger.read_card(CITIZEN_ID_NUMBER)) == "bad_signature"
    throttled(forger.read_card(CITIZEN_ID_NUMBER))
    [record] = throttle_records()
    assert record.details["by"] == "ip"
