"""Sign in with the app (adapters/website_app.py, idp.authn.approvals): a QR code on the
website approved in the app, push requests for a step-up, the levels they reach, and
every way a code must fail (expiry, reuse, relay, refusal, "not me")."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from mobile_helpers import WaitingBrowser
from mobile_helpers import bound_phone
from mobile_helpers import plant_session
from oidc_helpers import authorize_params
from oidc_helpers import fresh_requests
from oidc_helpers import grant_consent
from oidc_helpers import path_of

from idp.authn import approvals
from idp.models import AccountAlert

HIGH = "urn:idp:acr:high"
SUBSTANTIAL = "urn:idp:acr:substantial"
LOW = "urn:idp:acr:low"


@pytest.fixture(autouse=True)
def _fresh(app: Any) -> None:
    fresh_requests(app)


@pytest.fixture
def phone(app: Any, citizen: Any) -> Any:
    return bound_phone(app, citizen)


@pytest.fixture
def browser_for(app: Any, rp: Any, citizen: Any) -> Any:
    grant_consent(citizen, rp, "openid profile")

    def open_(**params: str) -> WaitingBrowser:
        return WaitingBrowser(app.test_client(), rp, **params)

    return open_


# --- approving ------------------------------------------------------------------------------------


def test_qr_approved_with_a_biometric_signs_the_browser_in_at_high(
    phone: Any, browser_for: Any, rp: Any
) -> None:
    browser = browser_for(acr_values=HIGH)
    assert browser.status().get_json() == {"status": "pending"}
    scanned = phone.scan(browser.qr)
    assert scanned.status == 200
    shown = scanned.body
    # The app shows who is asking, from where, and the same matching code.
    assert shown["client_name"] == "Tax portal"
    assert shown["channel"] == "website"
    assert shown["place"]
    assert shown["match"] == browser.match
    assert shown["required_acr"] == HIGH
    assert browser.status().get_json() == {"status": "scanned"}
    assert [r["id"] for r in phone.pending().body["requests"]] == [shown["id"]]
    decided = phone.decide(shown["id"], "approve", uv=True, uvm="fpt")
    assert decided.status == 200 and decided.body["acr"] == HIGH
    assert browser.status().get_json() == {"status": "approved"}
    _, claims = browser.finish()
    assert claims["acr"] == HIGH
    assert claims["amr"] == ["swk", "fpt", "mfa"]
    assert claims["channel"] == "mobile"
    # The SSO session records channel, device, place, time and level.
    from idp.authn import sessions

    signed_in = sessions.list_for(phone_store(), claims_citizen(phone))
    [session] = [s for s in signed_in if s.channel == "mobile"]
    assert session.device_id == phone.device_id
    assert session.place and session.acr == HIGH and session.auth_time


def test_qr_approved_with_the_device_passcode_reaches_substantial(
    phone: Any, browser_for: Any
) -> None:
    browser = browser_for(acr_values=SUBSTANTIAL)
    phone.approve_qr(browser.qr, uv=True, uvm="pin")
    _, claims = browser.finish()
    assert claims["acr"] == SUBSTANTIAL
    assert claims["amr"] == ["swk", "pin", "mfa"]


def test_qr_approved_without_user_verification_is_low(phone: Any, browser_for: Any) -> None:
    browser = browser_for()
    phone.approve_qr(browser.qr, uv=False)
    _, claims = browser.finish()
    assert claims["acr"] == LOW
    assert claims["amr"] == ["swk"]


def test_a_device_bound_at_substantial_never_yields_high(
    app: Any, citizen: Any, browser_for: Any, rp: Any
) -> None:
    phone = bound_phone(app, citizen, amr=("pwd", "otp"))
    browser = browser_for(acr_values=f"{HIGH} {SUBSTANTIAL}")
    decided = phone.approve_qr(browser.qr, uv=True, uvm="face")
    assert decided.body["acr"] == SUBSTANTIAL
    _, claims = browser.finish()
    assert claims["acr"] == SUBSTANTIAL


def test_the_id_token_names_the_channel_for_a_password_sign_in_too(
    app: Any, http: Any, citizen: Any, rp: Any
) -> None:
    from oidc_helpers import decode_id_token
    from oidc_helpers import sign_in

    plant_session(app, http, citizen, ("pwd",))
    grant_consent(citizen, rp, "openid profile")
    tokens = sign_in(http, rp)
    _, claims = decode_id_token(http, tokens["id_token"], client_id=rp.client_id)
    assert claims["channel"] == "website"
    meta = http.get("/.well-known/openid-configuration").get_json()
    assert "channel" in meta["claims_supported"]


def test_refresh_keeps_the_channel(phone: Any, browser_for: Any, citizen: Any, rp: Any) -> None:
    from oidc_helpers import decode_id_token
    from oidc_helpers import refresh

    grant_consent(citizen, rp, "openid profile offline_access")
    browser = browser_for(scope="openid offline_access")
    phone.approve_qr(browser.qr)
    tokens, _ = browser.finish()
    renewed = refresh(browser.http, rp, tokens["refresh_token"])
    assert renewed.status_code == 200
    id_token = renewed.get_json()["id_token"]
    _, claims = decode_id_token(browser.http, id_token, client_id=rp.client_id)
    assert claims["channel"] == "mobile"


def phone_store() -> Any:
    from flask import current_app

    return current_app.extensions["idp.store"]


def claims_citizen(phone: Any) -> str:
    from idp.extensions import db
    from idp.models import DeviceKey

    return str(db.session.get(DeviceKey, phone.device_id).citizen_id)


# --- refusing -------------------------------------------------------------------------------------


def test_denied_in_the_app_signs_nobody_in(phone: Any, browser_for: Any) -> None:
    browser = browser_for()
    scanned = phone.scan(browser.qr).body
    assert phone.decide(scanned["id"], "deny").status == 200
    assert browser.status().get_json() == {"status": "denied"}
    response = browser.done()
    assert response.status_code == 403
    assert "该请求已在 App 中被拒绝" in response.get_data(as_text=True)
    assert phone.decide(scanned["id"], "approve").status == 409


def test_a_code_expires_after_two_minutes(app: Any, phone: Any, browser_for: Any) -> None:
    clock = {"now": approvals.now()}
    app.extensions["idp.clock"] = lambda: clock["now"]
    browser = browser_for()
    clock["now"] += 121
    assert browser.status().get_json() == {"status": "expired"}
    scanned = phone.scan(browser.qr)
    assert scanned.status == 410 and scanned.body["error"] == "expired"
    assert browser.done().status_code == 410


def test_an_approval_not_claimed_within_two_minutes_expires(
    app: Any, phone: Any, browser_for: Any
) -> None:
    clock = {"now": approvals.now()}
    app.extensions["idp.clock"] = lambda: clock["now"]
    browser = browser_for()
    phone.approve_qr(browser.qr)
    clock["now"] += 120
    assert browser.status().get_json() == {"status": "expired"}
    assert browser.done().status_code == 410


def test_a_code_is_single_use(app: Any, citizen: Any, phone: Any, browser_for: Any) -> None:
    browser = browser_for()
    phone.approve_qr(browser.qr)
    # A second scan of the same code (by the same or another device) finds nothing.
    assert phone.scan(browser.qr).status == 404
    browser.finish()
    # The claim was used: the same browser cannot finish again with it.
    again = browser.http.get(f"/login/{browser.uid}/app/done")
    assert again.status_code in (400, 303)
    if again.status_code == 303:  # the interaction is finished: it resumes, never re-signs
        assert "/interaction/" in again.headers["Location"]


def test_a_relayed_code_signs_in_nobody_else(
    app: Any, phone: Any, browser_for: Any, rp: Any
) -> None:
    """The code is bound to the secret of the browser that displayed it: an attacker
    who relays the code (or learns the request id) cannot use it from their browser."""
    victim = browser_for()
    attacker = browser_for()
    phone.approve_qr(victim.qr)
    # The request id without the secret: nothing.
    forged = app.test_client()
    forged.set_cookie("idp_app", "unknown.secret", domain="localhost", path="/login/")
    assert forged.get(f"/login/{victim.uid}/app/status").status_code == 404
    assert attacker.http.get(f"/login/{victim.uid}/app/status").status_code == 404
    # The attacker's own request, on their own page, was never approved.
    assert attacker.status().get_json() == {"status": "pending"}
    assert attacker.done().status_code == 409
    # The victim's browser still completes.
    _, claims = victim.finish()
    assert claims["channel"] == "mobile"


def test_an_approval_is_for_the_interaction_that_showed_the_code(
    phone: Any, browser_for: Any
) -> None:
    browser = browser_for()
    phone.approve_qr(browser.qr)
    # Another sign-in in the same browser: the cookie's request is not its own.
    other = WaitingBrowser.__new__(WaitingBrowser)
    other.http, other.rp = browser.http, browser.rp
    response = browser.http.get("/authorize?" + urlencode(authorize_params(browser.rp)))
    other.uid = path_of(response).rstrip("/").split("/")[-1]
    assert other.uid != browser.uid
    assert other.status().status_code == 404
    assert other.done().status_code == 400
    browser.finish()


def test_a_new_code_replaces_the_old_one(phone: Any, browser_for: Any) -> None:
    browser = browser_for()
    old = browser.qr
    browser.open()
    assert phone.scan(old).status == 404
    phone.approve_qr(browser.qr)
    browser.finish()


# --- push requests --------------------------------------------------------------------------------


def _step_up_browser(app: Any, citizen: Any, rp: Any, **params: str) -> WaitingBrowser:
    """A browser signed in with a password, asked for high: the step-up page offers
    the app; the browser sends a push."""
    grant_consent(citizen, rp, "openid profile")
    http = app.test_client()
    plant_session(app, http, citizen, ("pwd",))
    browser = WaitingBrowser.__new__(WaitingBrowser)
    browser.http, browser.rp = http, rp
    from oidc_helpers import authorize_params
    from oidc_helpers import pkce

    browser.verifier, challenge = pkce()
    query = authorize_params(
        rp, code_challenge=challenge, code_challenge_method="S256", acr_values=HIGH, **params
    )
    from urllib.parse import urlencode

    response = http.get("/authorize?" + urlencode(query))
    browser.uid = path_of(response).rstrip("/").split("/")[-1]
    page = http.get(f"/login/{browser.uid}")
    html = page.get_data(as_text=True)
    assert 'id="step-up-app"' in html
    from oidc_helpers import csrf_from

    pushed = http.post(f"/login/{browser.uid}/app/push", data={"csrf_token": csrf_from(html)})
    browser.page = pushed.get_data(as_text=True)
    browser.last = pushed  # type: ignore[attr-defined]
    return browser


def test_step_up_by_push_reaches_high_with_the_password_session(
    app: Any, citizen: Any, rp: Any, phone: Any
) -> None:
    browser = _step_up_browser(app, citizen, rp)
    assert browser.last.status_code == 200  # type: ignore[attr-defined]
    [pending] = phone.pending().body["requests"]
    assert pending["kind"] == "push" and pending["purpose"] == "step_up"
    assert pending["match"] == browser.match
    phone.decide(pending["id"], "approve", uv=True, uvm="face")
    _, claims = browser.finish()
    assert claims["acr"] == HIGH
    # The approval reaches high on its own: it stands alone (idp.authn.service merge rule).
    assert claims["amr"] == ["swk", "face", "mfa"]
    assert claims["channel"] == "mobile"


def test_push_requests_are_capped_per_citizen(app: Any, citizen: Any, rp: Any, phone: Any) -> None:
    limit = app.config["IDP_APP_PUSH_MAX_PENDING"]
    for _ in range(limit):
        assert _step_up_browser(app, citizen, rp).last.status_code == 200  # type: ignore[attr-defined]
    refused = _step_up_browser(app, citizen, rp).last  # type: ignore[attr-defined]
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert len(phone.pending().body["requests"]) == limit


def test_not_me_locks_push_requests_and_alerts_the_citizen(
    app: Any, citizen: Any, rp: Any, phone: Any
) -> None:
    from idp.authn.sms.gateway import outbox

    first = _step_up_browser(app, citizen, rp)
    second = _step_up_browser(app, citizen, rp)
    request_id = phone.pending().body["requests"][0]["id"]
    assert phone.decide(request_id, "not_me").status == 200
    # Every pending push is refused, and new ones are locked out.
    assert phone.pending().body["requests"] == []
    assert first.status().get_json()["status"] == "denied"
    assert second.status().get_json()["status"] == "denied"
    locked = _step_up_browser(app, citizen, rp).last  # type: ignore[attr-defined]
    assert locked.status_code == 429
    assert "确认请求已暂停" in locked.get_data(as_text=True)
    # The citizen is told: a durable alert on the account page, and a text message.
    [alert] = AccountAlert.query.filter_by(citizen_id=citizen.id).all()
    assert alert.kind == "not_me" and alert.detail["client_name"] == "Tax portal"
    assert any("not yours" in m.text for m in outbox().messages(phone=citizen.phone))
    account = app.test_client()
    plant_session(app, account, citizen, ("pwd",))
    page = account.get("/account").get_data(as_text=True)
    assert f'id="alert-{alert.id}"' in page
    devices_page = account.get("/account/devices").get_data(as_text=True)
    assert 'id="app-locked"' in devices_page
    # QR sign-in, started by the citizen themself, still works.
    grant_consent(citizen, rp, "openid profile")
    browser = WaitingBrowser(app.test_client(), rp)
    phone.approve_qr(browser.qr)
    browser.finish()


def test_push_is_offered_only_to_the_signed_in_citizen_on_a_step_up(
    app: Any, citizen: Any, rp: Any, phone: Any, browser_for: Any
) -> None:
    browser = browser_for()
    from oidc_helpers import csrf_from

    response = browser.http.post(
        f"/login/{browser.uid}/app/push", data={"csrf_token": csrf_from(browser.page)}
    )
    assert response.status_code == 400
    assert phone.pending().body["requests"] == []


# --- the account page -----------------------------------------------------------------------------


def test_account_lists_devices_and_removal_needs_a_fresh_sign_in(
    app: Any, citizen: Any, phone: Any
) -> None:
    from datetime import UTC
    from datetime import datetime
    from datetime import timedelta

    from oidc_helpers import csrf_from

    account = app.test_client()
    plant_session(app, account, citizen, ("pwd",))
    page = account.get("/account/devices").get_data(as_text=True)
    assert "Test phone" in page
    confirm = account.get(f"/account/devices/{phone.device_id}/remove")
    assert confirm.status_code == 200
    # A sign-in older than IDP_APP_FRESH_SIGN_IN: sign in again first.
    stale = app.test_client()
    from idp.authn import sessions
    from idp.authn.result import Acr
    from idp.authn.result import Amr
    from idp.authn.result import AuthResult
    from idp.authn.result import Channel

    old = AuthResult(
        citizen_id=citizen.id,
        methods=(Amr.PWD,),
        acr=Acr.LOW,
        channel=Channel.WEBSITE,
        auth_time=datetime.now(UTC) - timedelta(hours=1),
    )
    _, cookie = sessions.start(app.extensions["idp.store"], result=old, lifetime=43200, idle=7200)
    stale.set_cookie(app.config["IDP_SESSION_COOKIE"], cookie, domain="localhost")
    html = stale.get(f"/account/devices/{phone.device_id}/remove").get_data(as_text=True)
    response = stale.post(
        f"/account/devices/{phone.device_id}/remove", data={"csrf_token": csrf_from(html)}
    )
    assert response.status_code == 303 and "/interaction/" in response.headers["Location"]
    assert phone.devices().status == 200
    # A fresh sign-in removes it; the phone's signatures stop working.
    html = confirm.get_data(as_text=True)
    removed = account.post(
        f"/account/devices/{phone.device_id}/remove", data={"csrf_token": csrf_from(html)}
    )
    assert removed.status_code == 303
    assert phone.devices().status == 401
    assert 'id="no-devices"' in account.get("/account/devices").get_data(as_text=True)


def test_an_approval_from_a_device_removed_meanwhile_does_not_count(
    phone: Any, browser_for: Any
) -> None:
    browser = browser_for()
    phone.approve_qr(browser.qr)
    assert phone.remove(phone.device_id).status == 204
    assert browser.done().status_code == 400
