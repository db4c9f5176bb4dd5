"""Hand-off (idp.authn.handoff): a citizen signed in on the website continues on their
phone by scanning a code with the app, keeping the level reached until it lapses."""

from __future__ import annotations

from typing import Any

import pytest
from mobile_helpers import bound_phone
from mobile_helpers import plant_session
from oidc_helpers import csrf_from
from oidc_helpers import decode_id_token
from oidc_helpers import fresh_requests
from oidc_helpers import grant_consent
from oidc_helpers import path_of
from oidc_helpers import sign_in

from idp.authn import handoff

HIGH = "urn:idp:acr:high"


@pytest.fixture(autouse=True)
def _fresh(app: Any) -> None:
    fresh_requests(app)


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The payloads of the QR codes the account page shows (a spy: the real ``start``
    runs; the test reads what the phone's camera would)."""
    payloads: list[str] = []
    real = handoff.start

    def spy(session: Any) -> handoff.Started:
        started = real(session)
        payloads.append(started.payload)
        return started

    monkeypatch.setattr(handoff, "start", spy)
    return payloads


def _continue_url(phone: Any, payload: str) -> str:
    reply = phone.call("POST", "/mobile/v1/handoff", {"handoff": payload})
    assert reply.status == 200, reply.body
    return str(reply.body["continue_url"])


def test_the_phone_continues_at_the_level_reached_on_the_website(
    app: Any, citizen: Any, rp: Any, shown: list[str]
) -> None:
    phone = bound_phone(app, citizen)
    web = app.test_client()
    plant_session(app, web, citizen, ("hwk", "mfa"))
    page = web.get("/account/handoff")
    assert page.status_code == 200 and 'id="handoff-qr"' in page.get_data(as_text=True)
    url = _continue_url(phone, shown[-1])
    # The code works once.
    assert phone.call("POST", "/mobile/v1/handoff", {"handoff": shown[-1]}).status == 404

    browser = app.test_client()  # the phone's browser
    path = path_of_url(url)
    confirm = browser.get(path)
    assert confirm.status_code == 200
    html = confirm.get_data(as_text=True)
    assert "张*" in html  # the account is named, masked
    response = browser.post(path, data={"csrf_token": csrf_from(html)})
    assert response.status_code == 303
    assert browser.get(path_of(response)).headers["Location"].endswith("/account")
    # A portal asking for high signs the phone's browser in without a new proof.
    grant_consent(citizen, rp, "openid profile")
    tokens = sign_in(browser, rp, acr_values=HIGH, prompt="none")
    _, claims = decode_id_token(browser, tokens["id_token"], client_id=rp.client_id)
    assert claims["acr"] == HIGH and claims["amr"] == ["hwk", "mfa"]
    assert claims["channel"] == "website"  # where the level was proved
    # The continue link is single use too.
    again = app.test_client().get(path)
    assert again.status_code == 400


def test_only_a_device_of_the_same_citizen_can_redeem_the_code(
    app: Any, citizen: Any, shown: list[str]
) -> None:
    from idp.authn.citizens import create_citizen

    other = create_citizen(
        id_number="110101199003074530", name="王小明", phone="+8613900139000", password="x" * 12
    )
    stranger = bound_phone(app, other)
    web = app.test_client()
    plant_session(app, web, citizen, ("pwd",))
    web.get("/account/handoff")
    refused = stranger.call("POST", "/mobile/v1/handoff", {"handoff": shown[-1]})
    assert refused.status == 404 and refused.body["error"] == "not_found"
    # Still usable by the citizen's own phone afterwards.
    mine = bound_phone(app, citizen)
    assert _continue_url(mine, shown[-1]).startswith("http://localhost/login/continue/")


def test_a_signed_out_website_session_hands_nothing_off(
    app: Any, citizen: Any, shown: list[str]
) -> None:
    phone = bound_phone(app, citizen)
    web = app.test_client()
    plant_session(app, web, citizen, ("pwd",))
    web.get("/account/handoff")
    url = _continue_url(phone, shown[-1])
    html = web.get("/account").get_data(as_text=True)
    web.post("/account/logout", data={"csrf_token": csrf_from(html)})
    browser = app.test_client()
    path = path_of_url(url)
    confirm = browser.get(path).get_data(as_text=True)
    assert browser.post(path, data={"csrf_token": csrf_from(confirm)}).status_code == 400


def path_of_url(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path


def test_an_assisted_counter_session_is_not_handed_off(
    app: Any, citizen: Any, shown: list[str]
) -> None:
    """What staff vouched for at a counter (a level carrying ``act``) stays there."""
    from datetime import UTC
    from datetime import datetime

    from idp.authn import sessions
    from idp.authn.result import Acr
    from idp.authn.result import Amr
    from idp.authn.result import AuthResult
    from idp.authn.result import Channel

    phone = bound_phone(app, citizen)
    assisted = AuthResult(
        citizen_id=citizen.id,
        methods=(Amr.SC, Amr.FACE),
        acr=Acr.HIGH,
        channel=Channel.HALL,
        auth_time=datetime.now(UTC),
        device_id="counter-3",
        acting_staff_id="staff-1",
        acting_device_id="counter-3",
    )
    session, _ = sessions.start(
        app.extensions["idp.store"], result=assisted, lifetime=600, idle=300
    )
    url = _continue_url(phone, handoff.start(session).payload)
    with pytest.raises(handoff.HandoffUnavailable):
        handoff.claim(path_of_url(url).rsplit("/", 1)[1])
