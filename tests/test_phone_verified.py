"""``phone_number_verified`` (OIDC Core 5.1): true only while the number on record is one
the citizen proved to hold with an SMS code; false for a number never proved; absent
without a number. A proof is of one number and never moves to another."""

from __future__ import annotations

import re
from typing import Any

import pytest
from assurance_helpers import Flow
from assurance_helpers import post_page
from conftest import CITIZEN_ID_NUMBER
from oidc_helpers import bearer
from oidc_helpers import exchange
from oidc_helpers import grant_consent
from oidc_helpers import sign_in
from sqlalchemy import select
from sqlalchemy import update
from webforms import prepare
from webforms import resident

from idp.authn import phone_verification
from idp.authn.sms.gateway import outbox
from idp.extensions import db
from idp.models import AuditEvent
from idp.models import Citizen

PHONE = "+8613800138000"  # the conftest citizen's
NEW_PHONE = "+8613900139000"
CODE = re.compile(r"#(\d{6})\b")  # the WebOTP line ends every code text


@pytest.fixture(autouse=True)
def _pages(app: Any) -> None:
    prepare(app)


@pytest.fixture
def portal(citizen: Any, rp: Any) -> Any:
    grant_consent(citizen, rp)
    return rp


def _latest_code(phone: str = PHONE) -> str:
    box = outbox()
    assert box is not None
    texts = [m.text for m in box.messages(phone=phone)]
    assert texts, "no text message sent"
    found = CODE.search(texts[0])
    assert found
    return found.group(1)


def _sms_sign_in(http: Any, rp: Any, *, scope: str = "openid phone", **params: str) -> dict:
    """The portal's code flow, the citizen signing in with an SMS code on the website:
    the token response."""
    flow = Flow(http, rp, scope=scope, **params)
    uid, _path, _page = flow.page()
    start = http.get(f"/login/{uid}/sms")
    assert start.status_code == 200
    sent = post_page(http, f"/login/{uid}/sms", start, id_number=CITIZEN_ID_NUMBER)
    assert sent.status_code == 303
    code_page = http.get(f"/login/{uid}/sms/code")
    entered = post_page(http, f"/login/{uid}/sms/code", code_page, code=_latest_code())
    assert entered.status_code == 303, entered.get_data(as_text=True)[:500]
    params_back = flow.follow(entered)
    assert "code" in params_back, params_back
    token = exchange(http, rp, params_back["code"], verifier=flow.verifier)
    assert token.status_code == 200, token.get_json()
    return dict(token.get_json())


def _userinfo(http: Any, token: dict) -> dict:
    response = http.get("/userinfo", headers=bearer(token["access_token"]))
    assert response.status_code == 200, response.get_json()
    return dict(response.get_json())


def _verified_records(citizen_id: str) -> list[AuditEvent]:
    query = select(AuditEvent).where(
        AuditEvent.event == "account.phone_verified", AuditEvent.citizen_id == citizen_id
    )
    return list(db.session.scalars(query.order_by(AuditEvent.seq)))


# --- proved by an SMS sign-in --------------------------------------------------------------


def test_an_sms_sign_in_makes_the_phone_verified_at_userinfo(app, http, citizen, portal):
    token = _sms_sign_in(http, portal)
    body = _userinfo(http, token)
    assert body["phone_number"] == PHONE
    assert body["phone_number_verified"] is True
    db.session.refresh(citizen)
    assert citizen.verified_phone == PHONE and citizen.phone_verified_at is not None


def test_the_proof_is_on_the_audit_trail_with_the_number_masked(app, http, citizen, portal):
    _sms_sign_in(http, portal)
    [record] = _verified_records(citizen.id)
    assert record.outcome == "success"
    assert record.actor_type == "citizen" and record.actor_id == citizen.id
    assert record.channel == "website"
    assert record.details == {"via": "sms_sign_in", "phone": "+86138****8000"}
    assert "13800138000" not in str(record.details)


def test_a_later_sms_sign_in_keeps_the_first_proof(app, http, citizen, portal):
    app.config["IDP_SMS_RESEND_SECONDS"] = 0  # a second text to the same phone at once
    _sms_sign_in(http, portal)
    db.session.refresh(citizen)
    first = citizen.phone_verified_at
    http.delete_cookie(app.config["IDP_SESSION_COOKIE"], domain="localhost")
    token = _sms_sign_in(http, portal)
    assert _userinfo(http, token)["phone_number_verified"] is True
    db.session.refresh(citizen)
    assert citizen.phone_verified_at == first
    assert len(_verified_records(citizen.id)) == 1  # one record per number proved


def test_profile_claims_stay_out_of_the_id_token_even_when_asked(app, http, citizen, portal):
    """ID tokens carry no profile claims (README "Scopes and claims"); a ``claims``
    request for the phone ones is answered by UserInfo only (OIDC Core 5.5)."""
    import json

    from oidc_helpers import decode_id_token

    asked = {"id_token": {"phone_number_verified": None}, "userinfo": {"phone_number": None}}
    token = _sms_sign_in(http, portal, claims=json.dumps(asked))
    _, claims = decode_id_token(http, token["id_token"], client_id=portal.client_id)
    assert "phone_number_verified" not in claims and "phone_number" not in claims
    assert _userinfo(http, token)["phone_number_verified"] is True


# --- not proved ----------------------------------------------------------------------------


def test_a_citizen_who_never_signed_in_by_sms_is_not_verified(app, http, citizen, portal, login):
    login(amr=("pwd",))
    body = _userinfo(http, sign_in(http, portal, scope="openid phone"))
    assert body["phone_number"] == PHONE and body["phone_number_verified"] is False
    assert _verified_records(citizen.id) == []


def test_no_number_no_phone_claims(app, http, rp, login):
    from idp.authn.citizens import create_citizen

    someone = create_citizen(id_number=resident("44030619900101123"), name="李四")
    grant_consent(someone, rp)
    login(who=someone)
    body = _userinfo(http, sign_in(http, rp, scope="openid phone"))
    assert "phone_number" not in body and "phone_number_verified" not in body


def test_a_proof_of_a_number_no_longer_on_record_is_not_kept(app, citizen):
    """The code went to the old number, the number changed before it came back."""
    citizen.phone = NEW_PHONE
    db.session.commit()
    assert not phone_verification.record(
        citizen, phone=PHONE, via=phone_verification.Via.SMS_SIGN_IN
    )
    assert citizen.verified_phone is None and _verified_records(citizen.id) == []


# --- a new number drops the proof ----------------------------------------------------------


def test_a_new_number_is_not_verified_nor_is_the_old_one_later(app, http, citizen, portal):
    token = _sms_sign_in(http, portal)
    db.session.refresh(citizen)
    citizen.phone = NEW_PHONE
    db.session.commit()
    body = _userinfo(http, token)
    assert body["phone_number"] == NEW_PHONE and body["phone_number_verified"] is False
    assert citizen.verified_phone is None and citizen.phone_verified_at is None
    # Back to the number once proved: it may have changed hands meanwhile.
    citizen.phone = PHONE
    db.session.commit()
    body = _userinfo(http, token)
    assert body["phone_number"] == PHONE and body["phone_number_verified"] is False


def test_a_number_written_outside_the_orm_is_not_verified(app, http, citizen, portal):
    token = _sms_sign_in(http, portal)
    db.session.execute(update(Citizen).where(Citizen.id == citizen.id).values(phone=NEW_PHONE))
    db.session.commit()
    body = _userinfo(http, token)
    assert body["phone_number"] == NEW_PHONE and body["phone_number_verified"] is False


def test_the_registry_import_leaves_the_accounts_number_and_its_proof(app, http, citizen, portal):
    """The registry's phone is checked at self-registration; the account's number is the
    citizen's (README "Loading the population registry"), so an extract with another
    number changes neither the account's number nor its proof."""
    from idp.citizens_import import import_registry

    token = _sms_sign_in(http, portal)
    extract = f"id_number,name,phone\n{CITIZEN_ID_NUMBER},张三,{NEW_PHONE}\n".encode()
    report = import_registry(data=extract)
    assert report.inserted == 1 and report.rejected == 0
    body = _userinfo(http, token)
    assert body["phone_number"] == PHONE and body["phone_number_verified"] is True


def test_the_account_page_says_whether_the_number_is_verified(app, http, citizen, portal):
    _sms_sign_in(http, portal)  # also leaves the website session of an SMS sign-in
    page = http.get("/account", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "+86138****8000" in html and PHONE not in html
    assert '<span id="phone-status">(verified)</span>' in html
    citizen.phone = NEW_PHONE
    db.session.commit()
    html = http.get("/account", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<span id="phone-status">(not verified)</span>' in html
