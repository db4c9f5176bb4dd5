"""Kiosk hardening: the server nonce that binds a card assertion to the kiosk page that
asked for it (idp.authn.kiosk_nonces), and the throttle on a kiosk's refused assertions
(idp.authn.kiosk_throttle). Through the real endpoints with the kiosk simulator."""

from __future__ import annotations

import time
from typing import Any

import pytest
from conftest import CITIZEN_ID_NUMBER
from kiosk_simulator import KioskSimulator
from oidc_helpers import ISSUER
from oidc_helpers import csrf_from
from oidc_helpers import fresh_requests
from sqlalchemy import select

from idp.extensions import db
from idp.models import AuditEvent


@pytest.fixture(autouse=True)
def _fresh(app: Any) -> None:
    fresh_requests(app)


@pytest.fixture
def kiosk(app: Any, http: Any) -> KioskSimulator:
    simulator = KioskSimulator(http, issuer=ISSUER)
    simulator.register(name="Kiosk 7", place="Futian service hall")
    return simulator


def refused(response: Any, reason: str, status: int = 400) -> Any:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert f'data-reason="{reason}"' in response.get_data(as_text=True)
    return response


def end(http: Any) -> None:
    page = http.get("/kiosk").get_data(as_text=True)
    assert http.post("/kiosk/end", data={"csrf_token": csrf_from(page)}).status_code == 303


# --- the server nonce ---------------------------------------------------------------------------


def test_every_kiosk_page_carries_a_fresh_nonce(http: Any, kiosk: KioskSimulator) -> None:
    first, second = kiosk.page_nonce(), kiosk.page_nonce()
    assert first != second and len(first) >= 16


def test_a_card_assertion_without_the_nonce_is_refused(http: Any, kiosk: Any, citizen: Any) -> None:
    kiosk.page_nonce()
    unbound = kiosk.card_assertion(CITIZEN_ID_NUMBER)  # signed without the page's nonce
    response = http.post(
        "/kiosk/card", data={"assertion": unbound}, headers={"Accept-Language": "en"}
    )
    refused(response, "nonce_missing")
    assert "screen is out of date" in response.get_data(as_text=True)


def test_a_nonce_shown_to_another_browser_is_refused(app: Any, kiosk: Any, citizen: Any) -> None:
    other_browser = KioskSimulator(app.test_client(), issuer=ISSUER)
    theirs = other_browser.page_nonce()
    kiosk.page_nonce()  # this browser has a nonce of its own
    refused(kiosk.insert_card(CITIZEN_ID_NUMBER, nonce=theirs), "nonce_mismatch")


def test_only_the_newest_pages_nonce_counts(http: Any, kiosk: Any, citizen: Any) -> None:
    older = kiosk.page_nonce()
    kiosk.page_nonce()  # the screen reloaded
    refused(kiosk.insert_card(CITIZEN_ID_NUMBER, nonce=older), "nonce_mismatch")


def test_a_nonce_is_single_use(http: Any, kiosk: Any, citizen: Any) -> None:
    nonce = kiosk.page_nonce()
    # Spent by the first assertion that presents it, even a refused one ...
    refused(kiosk.insert_card(CITIZEN_ID_NUMBER, nonce=nonce, matched=False), "face_mismatch")
    # ... so a new assertion (its own jti) with the same nonce is refused.
    refused(kiosk.insert_card(CITIZEN_ID_NUMBER, nonce=nonce), "nonce_reused")
    # Once signed in with one, that one is spent too.
    good = kiosk.page_nonce()
    assert kiosk.insert_card(CITIZEN_ID_NUMBER, nonce=good).status_code == 303
    end(http)
    refused(kiosk.insert_card(CITIZEN_ID_NUMBER, nonce=good), "nonce_reused")


def test_a_nonce_expires(app: Any, http: Any, kiosk: Any, citizen: Any) -> None:
    app.config["IDP_KIOSK_NONCE_TTL"] = 1
    nonce = kiosk.page_nonce()
    time.sleep(2.1)
    refused(kiosk.insert_card(CITIZEN_ID_NUMBER, nonce=nonce), "nonce_mismatch")


def test_the_portal_sign_in_screen_carries_its_nonce(
    app: Any, http: Any, kiosk: Any, citizen: Any, rp: Any
) -> None:
    from oidc_helpers import authorize
    from oidc_helpers import grant_consent
    from oidc_helpers import path_of

    grant_consent(citizen, rp)
    uid = path_of(authorize(http, rp)).rstrip("/").rsplit("/", 1)[1]
    screen = http.get(f"/kiosk?uid={uid}").get_data(as_text=True)
    assert f'data-uid="{uid}"' in screen
    # A uid that is not this browser's pending sign-in is not carried.
    assert 'data-uid=""' in app.test_client().get(f"/kiosk?uid={uid}").get_data(as_text=True)


# --- the throttle on refused assertions ------------------------------------------------------


@pytest.fixture
def limit(app: Any) -> int:
    app.config["IDP_KIOSK_REFUSAL_LIMIT"] = 3
    app.config["IDP_KIOSK_REFUSAL_WINDOW"] = 600
    return 3


def throttle_records() -> list[AuditEvent]:
    rows = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "login.failure")).all()
    return [r for r in rows if r.details.get("reason") == "kiosk_throttled"]


def test_a_kiosk_with_too_many_refused_assertions_gets_429(
    app: Any, http: Any, kiosk: Any, citizen: Any, limit: int
) -> None:
    for _ in range(limit):
        refused(kiosk.insert_card(CITIZEN_ID_NUMBER, matched=False), "face_mismatch")
    # Even a good card is refused now, before any check: nothing more is learnt.
    response = refused(kiosk.insert_card(CITIZEN_ID_NUMBER), "throttled", 429)
    assert 0 < int(response.headers["Retry-After"]) <= 600
    en = kiosk.http.post(
        "/kiosk/card",
        data={"assertion": kiosk.card_assertion(CITIZEN_ID_NUMBER, nonce="x" * 16)},
        headers={"Accept-Language": "en"},
    )
    assert en.status_code == 429 and "Too many attempts" in en.get_data(as_text=True)
    # The first 429 of the window is on the audit trail, as a failure naming the kiosk.
    [record] = throttle_records()
    assert record.outcome == "failure" and record.actor_id == kiosk.client_id
    assert record.channel == "kiosk" and record.details["by"] == "kiosk"
    # QR requests from that kiosk are throttled too.
    refused(kiosk.show_qr(), "throttled", 429)
    assert len(throttle_records()) == 1


def test_a_success_does_not_reset_the_kiosks_budget(
    app: Any, http: Any, kiosk: Any, citizen: Any, limit: int
) -> None:
    for _ in range(limit - 1):
        refused(kiosk.insert_card(CITIZEN_ID_NUMBER, matched=False), "face_mismatch")
    assert kiosk.insert_card(CITIZEN_ID_NUMBER).status_code == 303
    end(http)
    refused(kiosk.insert_card(CITIZEN_ID_NUMBER, liveness=False), "liveness_failed")
    refused(kiosk.insert_card(CITIZEN_ID_NUMBER), "throttled", 429)


def test_unknown_id_numbers_count_against_the_kiosk(
    app: Any, http: Any, kiosk: Any, citizen: Any, limit: int
) -> None:
    """A kiosk reading numbers to learn which have accounts is stopped."""
    for _ in range(limit):
        refused(kiosk.insert_card("110101199003074530"), "unknown_id_number")
    refused(kiosk.insert_card("110101199003074530"), "throttled", 429)


def test_forgeries_cannot_spend_a_kiosks_budget(
    app: Any, http: Any, kiosk: Any, citizen: Any, limit: int
) -> None:
    """Without the kiosk's key, refusals count against the sender's address, not the
    kiosk named in the forged ``iss``."""
    from joserfc.jwk import ECKey

    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    forger = KioskSimulator(attacker, issuer=ISSUER)
    forger.client_id = kiosk.client_id
    forger.key = ECKey.generate_key("P-256", parameters={"kid": kiosk.key.kid})
    for _ in range(limit):
        refused(forger.insert_card(CITIZEN_ID_NUMBER), "bad_signature")
    refused(forger.insert_card(CITIZEN_ID_NUMBER), "throttled", 429)
    [record] = throttle_records()
    assert record.details["by"] == "ip" and record.actor_id is None
    # The real kiosk, elsewhere, is not affected.
    assert kiosk.insert_card(CITIZEN_ID_NUMBER).status_code == 303


def test_another_kiosk_is_not_affected(app: Any, kiosk: Any, citizen: Any, limit: int) -> None:
    for _ in range(limit):
        refused(kiosk.insert_card(CITIZEN_ID_NUMBER, matched=False), "face_mismatch")
    other = KioskSimulator(app.test_client(), issuer=ISSUER)
    other.register(name="Kiosk 8", place="Nanshan service hall")
    assert other.insert_card(CITIZEN_ID_NUMBER).status_code == 303


# --- no oracle of which kiosk ids exist --------------------------------------------------------


def _told(response: Any) -> tuple[int, str | None, str]:
    """What the sender of a refused assertion learns: status, reason, message."""
    import re

    page = response.get_data(as_text=True)
    found = re.search(r'data-reason="([^"]*)">([^<]*)<', page)
    assert found is not None, page[:300]
    return response.status_code, found.group(1), found.group(2)


def test_an_unknown_or_disabled_kiosk_id_is_told_what_a_forgery_is(
    app: Any, http: Any, kiosk: Any, citizen: Any, caplog: Any
) -> None:
    """A made-up or disabled ``iss`` gets the answer a bad signature gets (the precise
    reason is only in the log): posting assertions does not tell which kiosk ids exist."""
    from joserfc.jwk import ECKey

    from idp.oauth.kiosks import set_disabled

    forger = KioskSimulator(http, issuer=ISSUER)
    forger.client_id = kiosk.client_id
    forger.key = ECKey.generate_key("P-256", parameters={"kid": kiosk.key.kid})
    stranger = KioskSimulator(http, issuer=ISSUER)
    stranger.client_id = "kiosk-that-does-not-exist"
    disabled = KioskSimulator(app.test_client(), issuer=ISSUER)
    disabled.register(name="Kiosk 9", place="Luohu service hall")
    set_disabled(disabled.client_id, True)
    caplog.set_level("INFO", logger="adapters.kiosk")
    forged = _told(forger.insert_card(CITIZEN_ID_NUMBER))
    assert forged[:2] == (400, "bad_signature")
    assert _told(stranger.insert_card(CITIZEN_ID_NUMBER)) == forged
    assert _told(disabled.insert_card(CITIZEN_ID_NUMBER)) == forged
    assert _told(stranger.show_qr()) == forged
    assert "kiosk assertion refused: unknown_or_disabled_kiosk" in caplog.text
    # The card-removed event (an API call) answers alike.
    events = [
        http.post("/kiosk/event", json={"assertion": k.card_removed()}) for k in (forger, stranger)
    ]
    assert [e.status_code for e in events] == [400, 400]
    assert events[0].get_json() == events[1].get_json()
    assert events[1].get_json()["reason"] == "bad_signature"


def test_made_up_kiosk_ids_count_against_the_address(
    app: Any, http: Any, kiosk: Any, citizen: Any, limit: int
) -> None:
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for n in range(limit):
        stranger = KioskSimulator(attacker, issuer=ISSUER)
        stranger.client_id = f"kiosk-guess-{n}"
        refused(stranger.insert_card(CITIZEN_ID_NUMBER), "bad_signature")
    stranger.client_id = "kiosk-guess-next"
    refused(stranger.insert_card(CITIZEN_ID_NUMBER), "throttled", 429)
    [record] = throttle_records()
    assert record.details["by"] == "ip" and record.actor_id is None
    assert kiosk.insert_card(CITIZEN_ID_NUMBER).status_code == 303


# --- the pause and Retry-After, to the second --------------------------------------------------


def test_retry_after_never_sends_a_kiosk_back_before_the_pause_lifts(
    app: Any, http: Any, kiosk: Any, citizen: Any
) -> None:
    """Whole seconds rounded up: the pause lasts the whole window, and coming back after
    ``Retry-After`` seconds finds it lifted (a floor sent it back up to a second early)."""
    app.config["IDP_KIOSK_REFUSAL_LIMIT"] = 1
    app.config["IDP_KIOSK_REFUSAL_WINDOW"] = 2
    nonce = kiosk.page_nonce()
    started = time.monotonic()  # the window starts with the refusal
    refused(kiosk.insert_card(CITIZEN_ID_NUMBER, nonce=nonce, matched=False), "face_mismatch")
    nonce = kiosk.page_nonce()
    time.sleep(max(0.0, started + 0.6 - time.monotonic()))
    response = refused(kiosk.insert_card(CITIZEN_ID_NUMBER, nonce=nonce), "throttled", 429)
    asked = time.monotonic()
    wait = int(response.headers["Retry-After"])
    assert asked + wait >= started + 2  # not before the window ends
    nonce = kiosk.page_nonce()
    time.sleep(max(0.0, asked + wait - time.monotonic()))
    assert kiosk.insert_card(CITIZEN_ID_NUMBER, nonce=nonce).status_code == 303
