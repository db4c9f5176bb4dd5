"""The service-hall counter (issue 5), through the real endpoints with a counter terminal
simulator (own ES256 key) and staff members signing in with a software authenticator:
who may serve at a counter, the card reading and the in-person face confirmation, the
assisted session (``act`` naming staff and counter, capped scopes, short-lived), and the
proofing actions (each works, notifies the citizen and is audited with the staff id)."""

from __future__ import annotations

import re
import time
from datetime import UTC
from datetime import datetime

import pytest
from admin_helpers import make_member
from conftest import CITIZEN_ID_NUMBER
from counter_simulator import CounterSimulator
from kiosk_simulator import KioskSimulator
from oidc_helpers import ISSUER
from oidc_helpers import basic
from oidc_helpers import decode_id_token
from oidc_helpers import grant_consent
from oidc_helpers import sign_in
from webforms import path_of

NEW_PHONE = "+8613900139000"


@pytest.fixture
def counter(app, http):
    http.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    simulator = CounterSimulator(http, issuer=ISSUER)
    simulator.register(scope="openid profile")
    return simulator


@pytest.fixture
def clerk(app):
    return make_member(app, username="clerk", roles=["counter_staff"])


def signed_in(counter, clerk):
    response = counter.staff_sign_in(clerk.key)
    assert response.status_code == 303, response.get_data(as_text=True)[:800]
    return response


def open_case(counter, clerk):
    signed_in(counter, clerk)
    response = counter.read_card(CITIZEN_ID_NUMBER)
    assert response.status_code == 303, response.get_data(as_text=True)[:800]
    return path_of(response.headers["Location"])


def confirmed_case(counter, clerk):
    case = open_case(counter, clerk)
    response = counter.case_action(case, "confirm", face_matches="yes")
    assert response.status_code == 303, response.get_data(as_text=True)[:800]
    return case


def reason_of(response):
    found = re.search(r'data-reason="([^"]*)"', response.get_data(as_text=True))
    return found.group(1) if found else None


def sso_cookie(app, http):
    cookie = http.get_cookie(app.config["IDP_SESSION_COOKIE"], domain="localhost")
    return cookie.value if cookie else None


def staff_actions(citizen_id=None):
    from sqlalchemy import select

    from idp.extensions import db
    from idp.models import AuditEvent

    query = select(AuditEvent).where(AuditEvent.event == "staff.action")
    if citizen_id:
        query = query.where(AuditEvent.citizen_id == citizen_id)
    return list(db.session.scalars(query.order_by(AuditEvent.seq)))


def alerts_of(citizen):
    from idp.authn import alerts

    return alerts.active(citizen_id=citizen.id)


def texts_to(phone):
    from idp.authn.sms.gateway import outbox

    box = outbox()
    assert box is not None
    return [m.text for m in box.messages(phone=phone)]


# --- who may serve at a counter ---------------------------------------------------------------


def test_counter_staff_signs_in_at_a_registered_counter(app, http, counter, clerk):
    signed_in(counter, clerk)
    page = http.get("/hall")
    assert page.status_code == 200
    assert 'data-state="waiting"' in page.text
    assert "Futian service hall, Window 3" in page.text
    cookie = http.get_cookie(app.config["IDP_HALL_COOKIE"], domain="localhost", path="/hall")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Strict"


def test_staff_without_the_counter_role_is_refused(app, http, counter):
    auditor = make_member(app, username="auditor", roles=["auditor"])
    response = counter.staff_sign_in(auditor.key)
    assert response.status_code == 403
    assert http.get_cookie(app.config["IDP_HALL_COOKIE"], path="/hall") is None
    assert counter.read_card(CITIZEN_ID_NUMBER).status_code == 401
    refused = staff_actions()
    assert refused[-1].outcome == "failure"
    assert refused[-1].details["reason"] == "not_counter_staff"


def test_disabled_staff_are_refused_at_once(app, http, counter, clerk):
    from idp.authn.staff import accounts

    signed_in(counter, clerk)
    accounts.disable(accounts.get(clerk.id))
    # The open counter session stops working on the next request...
    assert counter.read_card(CITIZEN_ID_NUMBER).status_code == 401
    assert 'id="hall-sign-in"' in http.get(f"/hall?counter={counter.client_id}").text
    # ...and a new sign-in is refused.
    assert counter.staff_sign_in(clerk.key).status_code in (401, 403)


def test_sign_in_needs_an_active_counter_terminal(app, http, counter, clerk):
    from idp.oauth.kiosks import set_disabled

    assert counter.staff_sign_in(clerk.key, counter="no-such-counter").status_code == 403
    kiosk = KioskSimulator(http, issuer=ISSUER)
    kiosk.register()
    # A kiosk is not a counter.
    assert counter.staff_sign_in(clerk.key, counter=kiosk.client_id).status_code == 403
    signed_in(counter, clerk)
    set_disabled(counter.client_id, True)
    assert counter.read_card(CITIZEN_ID_NUMBER).status_code == 401


# --- the card and the face ---------------------------------------------------------------------


def test_card_readings_only_from_this_counter_and_of_the_counter_kind(
    app, http, counter, clerk, citizen
):
    signed_in(counter, clerk)
    other = CounterSimulator(app.test_client(), issuer=ISSUER)
    other.register(name="Counter 4", window="Window 4")
    # Even with this counter page's nonce, the other counter's reading is refused.
    reading = other.card_reading(CITIZEN_ID_NUMBER, nonce=counter.page_nonce())
    response = counter.post_reading(reading)
    assert response.status_code == 403 and reason_of(response) == "other_counter"
    # A kiosk's card + face assertion is not a counter reading, and the other way round.
    kiosk = KioskSimulator(http, issuer=ISSUER)
    kiosk.register()
    assertion = kiosk.card_assertion(CITIZEN_ID_NUMBER, aud=ISSUER + "/hall/card")
    response = http.post("/hall/card", data={"assertion": assertion})
    assert response.status_code == 400 and reason_of(response) == "bad_signature"
    response = kiosk.post_card(counter.card_reading(CITIZEN_ID_NUMBER))
    assert response.status_code == 400
    # A reading is single use.
    reading = counter.card_reading(CITIZEN_ID_NUMBER, nonce=counter.page_nonce())
    assert http.post("/hall/card", data={"assertion": reading}).status_code == 303
    again = http.post("/hall/card", data={"assertion": reading})
    assert again.status_code == 400 and reason_of(again) == "replayed"
    # An unverified chip is refused.
    response = counter.read_card(CITIZEN_ID_NUMBER, chip_verified=False)
    assert response.status_code == 400 and reason_of(response) == "card_not_verified"


def test_without_face_confirmation_there_is_no_session(app, http, counter, clerk, citizen):
    case = open_case(counter, clerk)
    page = http.get(case)
    assert "张三" in page.text and CITIZEN_ID_NUMBER not in page.text
    response = counter.case_action(case, "session")
    assert response.status_code == 400 and reason_of(response) == "face_not_confirmed"
    assert sso_cookie(app, http) is None
    # Confirming needs the deliberate tick.
    response = counter.case_action(case, "confirm")
    assert response.status_code == 400 and reason_of(response) == "not_ticked"
    for action in ("proofing", "password"):
        assert reason_of(counter.case_action(case, action)) == "face_not_confirmed"
    assert citizen.proofing == "registry"
    assert [e.details["action"] for e in staff_actions(citizen.id)] == ["card_read"]


def test_another_staff_members_case_is_not_found(app, http, counter, clerk, citizen):
    case = confirmed_case(counter, clerk)
    colleague = make_member(app, username="clerk2", roles=["counter_staff"])
    other_http = app.test_client()
    other_counter = CounterSimulator(other_http, issuer=ISSUER)
    other_counter.client_id = counter.client_id
    assert other_counter.staff_sign_in(colleague.key).status_code == 303
    assert other_http.get(case).status_code == 404


# --- the assisted session ----------------------------------------------------------------------


def test_assisted_session_tokens_carry_act_naming_staff_and_counter(
    app, http, counter, clerk, citizen, rp
):
    rp.client.access_token_format = "jwt"
    from idp.extensions import db

    db.session.commit()
    grant_consent(citizen, rp, "openid profile phone")
    case = confirmed_case(counter, clerk)
    response = counter.case_action(case, "session")
    assert response.status_code == 303
    assert http.get(response.headers["Location"]).status_code in (302, 303)
    assert 'id="hall-assisted"' in http.get("/hall").text

    # A portal opened in the counter's browser signs the citizen in with that session.
    tokens = sign_in(http, rp, scope="openid profile phone")
    _, claims = decode_id_token(http, tokens["id_token"], client_id=rp.client_id)
    expected = {"sub": f"staff:{clerk.id}", "device": counter.client_id}
    assert claims["act"] == expected
    assert claims["channel"] == "hall"
    assert claims["acr"] == "urn:idp:acr:high"
    assert claims["amr"][:2] == ["sc", "face"]
    seen = http.post(
        "/introspect",
        data={"token": tokens["access_token"]},
        headers=basic(rp.client_id, rp.secret),
    ).get_json()
    assert seen["active"] is True and seen["act"] == expected
    # Capped to the counter's scopes: the citizen agreed to phone, the counter may not.
    assert set(tokens["scope"].split()) == {"openid", "profile"}
    assert "phone" not in seen["scope"].split()

    # Audited with the staff member's id; the citizen is told.
    actions = [(e.actor_id, e.details["action"]) for e in staff_actions(citizen.id)]
    assert (clerk.id, "assisted_sign_in") in actions
    assert [a.detail["action"] for a in alerts_of(citizen)] == ["assisted_sign_in"]
    assert any("signed you in" in t for t in texts_to(citizen.phone))


def test_assisted_session_is_short_and_ends_with_the_staff_session(
    app, http, counter, clerk, citizen, store
):
    from idp.authn import sessions

    case = confirmed_case(counter, clerk)
    counter.case_action(case, "session")
    cookie = sso_cookie(app, http)
    session = sessions.load(store, cookie, idle=app.config["IDP_TTL_SSO_IDLE"])
    assert session is not None and session.channel == "hall"
    assert session.acting_staff_id == clerk.id and session.device_id == counter.client_id
    assert session.expires_at - int(time.time()) <= app.config["IDP_HALL_SESSION_SECONDS"]
    assert session.idle == app.config["IDP_HALL_IDLE_SECONDS"]
    page = http.get("/hall")
    http.post(
        "/hall/sign-out",
        data={"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)},
    )
    assert sessions.load(store, cookie, idle=app.config["IDP_TTL_SSO_IDLE"]) is None
    # Back to the counter's sign-in page.
    assert 'id="hall-sign-in"' in http.get(f"/hall?counter={counter.client_id}").text


# --- proofing actions --------------------------------------------------------------------------


def test_finishing_with_the_citizen_ends_their_assisted_session(
    app, http, counter, clerk, citizen, store
):
    from idp.authn import sessions

    case = confirmed_case(counter, clerk)
    counter.case_action(case, "session")
    cookie = sso_cookie(app, http)
    assert sessions.load(store, cookie, idle=600) is not None
    assert counter.case_action(case, "close").status_code == 303
    assert sessions.load(store, cookie, idle=600) is None
    assert sso_cookie(app, http) is None
    assert http.get(case).status_code == 404


def test_raise_proofing_to_in_person(app, http, counter, clerk, citizen):
    from idp.extensions import db

    case = confirmed_case(counter, clerk)
    response = counter.case_action(case, "proofing")
    assert response.status_code == 200 and 'data-done="proofing"' in response.text
    db.session.refresh(citizen)
    assert citizen.proofing == "in_person"
    event = staff_actions(citizen.id)[-1]
    assert event.actor_type == "staff" and event.actor_id == clerk.id
    assert event.details["action"] == "proofing_in_person"
    assert event.details["counter"] == counter.client_id
    assert [a.detail["action"] for a in alerts_of(citizen)] == ["proofing_in_person"]
    assert any("verified your identity in person" in t for t in texts_to(citizen.phone))


def test_bind_a_phone_verified_by_a_code_sent_to_it(app, http, counter, clerk, citizen):
    from idp.extensions import db

    old_phone = citizen.phone
    case = confirmed_case(counter, clerk)
    response = counter.case_action(case, "phone", phone="139 0013 9000")
    assert response.status_code == 200 and 'data-done="code_sent"' in response.text
    code = re.search(r"\b(\d{6})\b", texts_to(NEW_PHONE)[-1]).group(1)
    wrong = "000000" if code != "000000" else "111111"
    response = counter.case_action(case, "phone/verify", code=wrong)
    assert response.status_code == 400 and reason_of(response) == "code"
    db.session.refresh(citizen)
    assert citizen.phone == old_phone
    response = counter.case_action(case, "phone/verify", code=code)
    assert response.status_code == 200 and 'data-done="phone"' in response.text
    db.session.refresh(citizen)
    assert citizen.phone == NEW_PHONE
    # Both the new and the replaced number hear of it; the trail names the staff member.
    assert any("changed the phone number" in t for t in texts_to(NEW_PHONE))
    assert any("changed the phone number" in t for t in texts_to(old_phone))
    actions = [(e.actor_id, e.details["action"]) for e in staff_actions(citizen.id)]
    assert (clerk.id, "phone_code_sent") in actions and (clerk.id, "phone_bound") in actions
    assert code not in str([e.details for e in staff_actions(citizen.id)])


def test_a_phone_bound_at_the_counter_starts_verified(app, http, counter, clerk, citizen):
    """The code went to the new number and was read back: proof of possession
    (``phone_number_verified``), on the trail as the staff member's."""
    from sqlalchemy import select

    from idp.extensions import db
    from idp.models import AuditEvent

    case = confirmed_case(counter, clerk)
    counter.case_action(case, "phone", phone=NEW_PHONE)
    code = re.search(r"\b(\d{6})\b", texts_to(NEW_PHONE)[-1]).group(1)
    assert counter.case_action(case, "phone/verify", code=code).status_code == 200
    db.session.refresh(citizen)
    assert citizen.phone == NEW_PHONE and citizen.verified_phone == NEW_PHONE
    [event] = db.session.scalars(
        select(AuditEvent).where(AuditEvent.event == "account.phone_verified")
    )
    assert event.citizen_id == citizen.id
    assert event.actor_type == "staff" and event.actor_id == clerk.id
    assert event.channel == "hall" and event.client_id == counter.client_id
    assert event.details == {"via": "counter", "phone": "+86139****9000"}


def test_bad_phone_number_is_a_clear_error(app, http, counter, clerk, citizen):
    case = confirmed_case(counter, clerk)
    response = counter.case_action(case, "phone", phone="12345")
    assert response.status_code == 400 and reason_of(response) == "phone"


def test_reset_a_forgotten_password_typed_by_the_citizen(app, http, counter, clerk, citizen, store):
    from idp.authn import sessions
    from idp.authn.methods.password import verify_password
    from idp.extensions import db
    from idp.models import PasswordCredential

    case = confirmed_case(counter, clerk)
    weak = counter.case_action(case, "password", password="1234567890", confirm="1234567890")
    assert weak.status_code == 400 and reason_of(weak) == "password"
    differ = counter.case_action(
        case, "password", password="Quiet-river-42", confirm="Quiet-river-43"
    )
    assert differ.status_code == 400 and reason_of(differ) == "confirm"
    response = counter.case_action(
        case, "password", password="Quiet-river-42", confirm="Quiet-river-42"
    )
    assert response.status_code == 200 and 'data-done="password"' in response.text
    db.session.expire_all()
    row = db.session.get(PasswordCredential, citizen.id)
    assert verify_password(hash=row.hash, password="Quiet-river-42")
    assert sessions.list_for(store, citizen.id) == []
    event = staff_actions(citizen.id)[-1]
    assert event.details["action"] == "password_reset" and event.actor_id == clerk.id
    assert "Quiet-river-42" not in str(event.details)
    assert [a.detail["action"] for a in alerts_of(citizen)] == ["password_reset"]
    assert any("password was reset" in t for t in texts_to(citizen.phone))


def test_account_page_shows_the_assisted_action(app, counter, clerk, citizen, login, http):
    case = confirmed_case(counter, clerk)
    counter.case_action(case, "proofing")
    citizen_browser = app.test_client()
    citizen_browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    from idp.authn import sessions
    from idp.authn.result import Acr
    from idp.authn.result import Amr
    from idp.authn.result import AuthResult
    from idp.authn.result import Channel

    _, cookie = sessions.start(
        app.extensions["idp.store"],
        result=AuthResult(citizen.id, (Amr.PWD,), Acr.LOW, Channel.WEBSITE, datetime.now(UTC)),
        lifetime=600,
        idle=600,
    )
    citizen_browser.set_cookie(app.config["IDP_SESSION_COOKIE"], cookie, domain="localhost")
    page = citizen_browser.get("/account")
    assert "verified your identity in person" in page.text
    assert "Futian service hall, Window 3" in page.text


def test_feature_off_registers_no_route(backend):
    from conftest import make_app

    app = make_app(backend, IDP_FEATURE_HALL=False)
    assert not [r for r in app.url_map.iter_rules() if r.rule.startswith("/hall")]


# --- passkey enrolment with a counter code -------------------------------------------------------


def _enter_code(device, code):
    from webforms import csrf_from

    page = device.get("/hall/passkey")
    return device.post("/hall/passkey", data={"csrf_token": csrf_from(page.text), "code": code})


def test_help_enrol_a_passkey_on_the_citizens_own_device(app, http, counter, clerk, citizen):
    import json

    from admin_helpers import ORIGIN
    from admin_helpers import options
    from soft_authenticator import SoftAuthenticator
    from webforms import csrf_from

    from idp.extensions import db
    from idp.models import WebAuthnCredential

    case = confirmed_case(counter, clerk)
    shown = counter.case_action(case, "passkey-code")
    assert shown.status_code == 200
    code = re.search(r'id="hall-passkey-code">([A-Z0-9-]+)<', shown.text).group(1)

    phone = app.test_client()
    phone.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    wrong = _enter_code(phone, "AAAAA-AAAAA")
    assert wrong.status_code == 400
    step = _enter_code(phone, code.lower())
    assert step.status_code == 200 and 'id="hall-passkey-key"' in step.text
    key = SoftAuthenticator(user_verifying=True)
    created = key.create(options(phone, "/hall/passkey/options", step.text), origin=ORIGIN)
    done = phone.post(
        "/hall/passkey/finish",
        data={
            "csrf_token": csrf_from(step.text),
            "credential": json.dumps(created),
            "name": "Phone",
        },
    )
    assert done.status_code == 200 and 'id="hall-passkey-done"' in done.text

    rows = list(db.session.scalars(db.select(WebAuthnCredential)))
    assert len(rows) == 1 and rows[0].citizen_id == citizen.id
    assert rows[0].bound_in_person is True and rows[0].discoverable is True
    actions = [(e.actor_id, e.details["action"]) for e in staff_actions(citizen.id)]
    assert (clerk.id, "passkey_code_issued") in actions
    assert (clerk.id, "passkey_enrolled") in actions
    assert code.replace("-", "") not in str([e.details for e in staff_actions(citizen.id)])
    assert [a.detail["action"] for a in alerts_of(citizen)] == ["passkey_enrolled"]
    assert any("passkey was added" in t for t in texts_to(citizen.phone))

    # The code was single use.
    other = app.test_client()
    assert _enter_code(other, code).status_code == 400

    # Signed in on that device, the citizen's list of passkeys shows the mark.
    from idp.authn import sessions
    from idp.authn.result import Acr
    from idp.authn.result import Amr
    from idp.authn.result import AuthResult
    from idp.authn.result import Channel

    _, cookie = sessions.start(
        app.extensions["idp.store"],
        result=AuthResult(citizen.id, (Amr.PWD,), Acr.LOW, Channel.WEBSITE, datetime.now(UTC)),
        lifetime=600,
        idle=600,
    )
    phone.set_cookie(app.config["IDP_SESSION_COOKIE"], cookie, domain="localhost")
    listed = phone.get("/account/passkeys")
    row = re.search(rf'<tr data-passkey="{rows[0].id}">(.*?)</tr>', listed.text, re.S)
    assert row and "Phone" in row.group(1)
    assert "bound in person at a service hall" in row.group(1)


def test_passkey_code_guessing_is_locked_out(app, counter, clerk, citizen):
    device = app.test_client()
    limit = app.config["IDP_HALL_PASSKEY_CODE_ATTEMPTS"]
    answers = [_enter_code(device, "BBBBB-BBBBB").status_code for _ in range(limit + 1)]
    assert answers[:limit] == [400] * limit
    assert answers[-1] == 429


def test_passkey_code_needs_the_face_confirmed(app, http, counter, clerk, citizen):
    case = open_case(counter, clerk)
    response = counter.case_action(case, "passkey-code")
    assert response.status_code == 400 and reason_of(response) == "face_not_confirmed"
