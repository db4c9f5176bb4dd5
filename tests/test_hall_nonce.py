"""The service-hall counter's server nonce (idp.authn.kiosk_nonces, channel hall): the
counter page that waits for a card carries a fresh nonce bound to the staff member's
counter session, and the terminal's signed reading must carry it, once. Through the
real endpoints with the counter terminal simulator and a software authenticator."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from admin_helpers import make_member
from conftest import CITIZEN_ID_NUMBER
from counter_simulator import CounterSimulator
from counter_simulator import nonce_in
from kiosk_simulator import KioskSimulator
from oidc_helpers import ISSUER
from webforms import csrf_from
from webforms import path_of


@pytest.fixture
def counter(app: Any, http: Any) -> CounterSimulator:
    http.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    simulator = CounterSimulator(http, issuer=ISSUER)
    simulator.register()
    return simulator


@pytest.fixture
def clerk(app: Any) -> Any:
    return make_member(app, username="clerk", roles=["counter_staff"])


@pytest.fixture
def at_counter(counter: CounterSimulator, clerk: Any) -> CounterSimulator:
    """The clerk signed in at the counter."""
    response = counter.staff_sign_in(clerk.key)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return counter


def refused(response: Any, reason: str, message: str) -> str:
    """A 400 counter page naming ``reason``, telling the clerk ``message``, and carrying
    a new nonce for the next reading."""
    page = response.get_data(as_text=True)
    assert response.status_code == 400, page[:500]
    assert re.search(rf'id="form-error" data-reason="{reason}">[^<]*{message}', page)
    return nonce_in(page)


def refusals(clerk: Any) -> list[Any]:
    from sqlalchemy import select

    from idp.extensions import db
    from idp.models import AuditEvent

    query = select(AuditEvent).where(
        AuditEvent.event == "staff.action", AuditEvent.outcome == "failure"
    )
    return [e for e in db.session.scalars(query.order_by(AuditEvent.seq)) if e.actor_id == clerk.id]


MISSING = "did not carry this counter page"
MISMATCH = "another or an expired counter page"
REUSED = "already used"


def test_every_counter_page_carries_a_fresh_nonce(app: Any, at_counter: Any) -> None:
    first, second = at_counter.page_nonce(), at_counter.page_nonce()
    assert first != second and len(first) >= 16
    # The sign-in page (no staff session) carries none: there is nothing to bind it to.
    sign_in = app.test_client().get(f"/hall?counter={at_counter.client_id}").text
    assert 'id="hall-sign-in"' in sign_in and "data-nonce" not in sign_in


def test_a_good_reading_opens_a_case(http: Any, at_counter: Any, clerk: Any, citizen: Any) -> None:
    reading = at_counter.card_reading(CITIZEN_ID_NUMBER, nonce=at_counter.page_nonce())
    response = at_counter.post_reading(reading)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    case = http.get(path_of(response.headers["Location"]))
    assert case.status_code == 200 and "张三" in case.text
    assert refusals(clerk) == []


def test_a_reading_without_the_nonce_is_refused_and_recorded(
    http: Any, at_counter: Any, clerk: Any, citizen: Any
) -> None:
    at_counter.page_nonce()
    response = at_counter.read_card(CITIZEN_ID_NUMBER, read_nonce=False)
    refused(response, "nonce_missing", MISSING)
    event = refusals(clerk)[-1]
    assert event.actor_type == "staff" and event.channel == "hall"
    assert event.details == {
        "action": "refused",
        "reason": "nonce_missing",
        "counter": at_counter.client_id,
    }
    assert event.citizen_id is None and CITIZEN_ID_NUMBER not in str(event.details)


def test_a_replayed_reading_and_a_spent_nonce_are_refused(
    http: Any, at_counter: Any, clerk: Any, citizen: Any
) -> None:
    nonce = at_counter.page_nonce()
    reading = at_counter.card_reading(CITIZEN_ID_NUMBER, nonce=nonce)
    assert at_counter.post_reading(reading).status_code == 303
    # The same signed reading again: its jti is spent.
    again = at_counter.post_reading(reading)
    assert again.status_code == 400 and 'data-reason="replayed"' in again.text
    # A new reading (its own jti) signed with the spent page's nonce.
    replayed = at_counter.card_reading(CITIZEN_ID_NUMBER, nonce=nonce)
    refused(at_counter.post_reading(replayed), "nonce_reused", REUSED)
    assert [e.details["reason"] for e in refusals(clerk)] == ["replayed", "nonce_reused"]


def test_a_refused_reading_spends_the_nonce_too(http: Any, at_counter: Any, citizen: Any) -> None:
    nonce = at_counter.page_nonce()
    response = at_counter.read_card(CITIZEN_ID_NUMBER, nonce=nonce, chip_verified=False)
    assert 'data-reason="card_not_verified"' in response.text
    fresh = refused(at_counter.read_card(CITIZEN_ID_NUMBER, nonce=nonce), "nonce_reused", REUSED)
    # The refusal page carries the newest nonce: the card is read again with it.
    assert at_counter.read_card(CITIZEN_ID_NUMBER, nonce=fresh).status_code == 303


def test_another_pages_nonce_is_refused(
    app: Any, http: Any, at_counter: Any, clerk: Any, citizen: Any
) -> None:
    # An older page of this session: only the newest counts.
    older = at_counter.page_nonce()
    at_counter.page_nonce()
    refused(at_counter.read_card(CITIZEN_ID_NUMBER, nonce=older), "nonce_mismatch", MISMATCH)
    # A colleague's counter page at the same counter, in another browser.
    colleague = make_member(app, username="clerk2", roles=["counter_staff"])
    theirs = CounterSimulator(app.test_client(), issuer=ISSUER)
    theirs.client_id = at_counter.client_id
    assert theirs.staff_sign_in(colleague.key).status_code == 303
    at_counter.page_nonce()
    refused(
        at_counter.read_card(CITIZEN_ID_NUMBER, nonce=theirs.page_nonce()),
        "nonce_mismatch",
        MISMATCH,
    )
    # A kiosk page's nonce shown to this very browser: another channel's namespace.
    kiosk = KioskSimulator(http, issuer=ISSUER)
    kiosk.register()
    refused(
        at_counter.read_card(CITIZEN_ID_NUMBER, nonce=kiosk.page_nonce()),
        "nonce_mismatch",
        MISMATCH,
    )
    assert [e.details["reason"] for e in refusals(clerk)] == ["nonce_mismatch"] * 3


def test_the_nonce_is_bound_to_the_staff_session(
    http: Any, at_counter: Any, clerk: Any, citizen: Any
) -> None:
    nonce = at_counter.page_nonce()
    page = http.get("/hall").text
    assert http.post("/hall/sign-out", data={"csrf_token": csrf_from(page)}).status_code == 303
    assert at_counter.staff_sign_in(clerk.key).status_code == 303
    # The same browser, a new counter session: the old page's nonce is not its own.
    refused(at_counter.read_card(CITIZEN_ID_NUMBER, nonce=nonce), "nonce_mismatch", MISMATCH)


def test_a_nonce_expires(app: Any, http: Any, at_counter: Any, citizen: Any) -> None:
    app.config["IDP_HALL_NONCE_TTL"] = 1
    nonce = at_counter.page_nonce()
    time.sleep(2.1)
    refused(at_counter.read_card(CITIZEN_ID_NUMBER, nonce=nonce), "nonce_mismatch", MISMATCH)


def test_nonces_are_kept_apart_by_channel(app: Any, store: Any) -> None:
    from idp.authn import kiosk_nonces
    from idp.authn.result import Channel

    with app.test_request_context():
        hall_nonce = kiosk_nonces.issue(store, channel=Channel.HALL, binding="same")
        kiosk_nonces.issue(store, channel=Channel.KIOSK, binding="same")
        # The counter's nonce is no kiosk's, even for the same binding ...
        as_kiosk = {"channel": Channel.KIOSK, "binding": "same", "presented": hall_nonce}
        assert kiosk_nonces.redeem(store, **as_kiosk) == kiosk_nonces.MISMATCH
        # ... and that attempt left the counter's standing: once.
        as_hall = {"channel": Channel.HALL, "binding": "same", "presented": hall_nonce}
        assert kiosk_nonces.redeem(store, **as_hall) is None
        assert kiosk_nonces.redeem(store, **as_hall) == kiosk_nonces.REUSED
        with pytest.raises(ValueError):
            kiosk_nonces.issue(store, channel=Channel.WEBSITE, binding="same")
