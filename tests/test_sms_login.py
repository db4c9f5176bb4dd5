"""Sign in with an SMS one-time code: ID number, code to the registered phone, low level.

Codes are 6 digits, single use, short-lived, bound to one sign-in (the interaction) and
the phone, capped per code, limited per phone, citizen and address, stored only as
keyed hashes; the pages answer alike whether or not the number has an account or a
phone; nothing sensitive reaches a URL or a log.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import pytest
from conftest import CITIZEN_ID_NUMBER
from webforms import csrf_from
from webforms import open_login
from webforms import path_of
from webforms import post_form
from webforms import prepare
from webforms import resident

from adapters import base
from adapters import website_sms
from idp.authn import authenticator_limits as limits
from idp.authn import sessions
from idp.authn.result import Acr
from idp.authn.sms import codes
from idp.authn.sms.gateway import outbox
from idp.extensions import db

PHONE = "+8613800138000"  # the conftest citizen's
UNKNOWN = resident("44030619900101123")
CODE = re.compile(r"\b(\d{6})\b")


class Recorder:
    """A gateway of our own that keeps texts in a list (no store, no network)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, *, phone: str, text: str) -> None:
        self.sent.append((phone, text))


@pytest.fixture(autouse=True)
def _pages(app: Any) -> None:
    prepare(app)


def _start(http: Any) -> tuple[str, str]:
    """From the sign-in page to the SMS page: (uid, the SMS page's HTML)."""
    path, html = open_login(http)
    uid = path.split("/")[2]
    assert f"/login/{uid}/sms" in html  # the link on the sign-in page
    page = http.get(f"/login/{uid}/sms")
    assert page.status_code == 200
    return uid, page.get_data(as_text=True)


def _send(http: Any, uid: str, html: str, number: str) -> Any:
    return post_form(http, f"/login/{uid}/sms", html, id_number=number)


def _code_page(http: Any, uid: str) -> str:
    page = http.get(f"/login/{uid}/sms/code")
    assert page.status_code == 200
    return str(page.get_data(as_text=True))


def _enter(http: Any, uid: str, code: str) -> Any:
    return post_form(http, f"/login/{uid}/sms/code", _code_page(http, uid), code=code)


def _texts(app: Any, phone: str = PHONE) -> list[str]:
    box = outbox()
    assert box is not None
    return [m.text for m in box.messages(phone=phone)]


def _latest_code(app: Any, phone: str = PHONE) -> str:
    texts = _texts(app, phone)
    assert texts, "no text message sent"
    match = CODE.search(texts[0])
    assert match
    return match.group(1)


def _sso(app: Any, response: Any) -> sessions.SsoSession:
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(app.config["IDP_SESSION_COOKIE"] + "="):
            value = header.split(";", 1)[0].split("=", 1)[1]
            found = sessions.load(app.extensions["idp.store"], value, idle=3600)
            assert found is not None
            return found
    raise AssertionError("no SSO cookie set")


def _sign_in_with_sms(app: Any, http: Any) -> tuple[str, Any]:
    uid, html = _start(http)
    assert _send(http, uid, html, CITIZEN_ID_NUMBER).status_code == 303
    return uid, _enter(http, uid, _latest_code(app))


# --- the happy path ------------------------------------------------------------------------


def test_adapter_conforms_to_the_channel_interface() -> None:
    adapter: base.ChannelAdapter = website_sms  # type: ignore[assignment]
    assert callable(adapter.authenticate)


def test_sign_in_with_an_sms_code_reaches_low_with_sms(app: Any, http: Any, citizen: Any) -> None:
    uid, html = _start(http)
    response = _send(http, uid, html, CITIZEN_ID_NUMBER)
    assert response.status_code == 303
    assert path_of(response.headers["Location"]) == f"/login/{uid}/sms/code"
    texts = _texts(app)
    assert len(texts) == 1
    code = _latest_code(app)
    # WebOTP origin-bound line: browsers fill the code only on the issuer's site.
    assert texts[0].endswith(f"@localhost #{code}")
    response = _enter(http, uid, code)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/interaction/{uid}/resume")
    sso = _sso(app, response)
    assert sso.citizen_id == citizen.id
    assert sso.acr == Acr.LOW
    assert sso.amr == ["sms"]
    assert sso.channel == "website"


def test_the_code_is_accepted_with_spaces(app: Any, http: Any, citizen: Any) -> None:
    uid, html = _start(http)
    _send(http, uid, html, CITIZEN_ID_NUMBER)
    code = _latest_code(app)
    assert _enter(http, uid, f" {code[:3]} {code[3:]} ").status_code == 303


def test_the_number_field_is_prefilled_from_login_hint(app: Any, http: Any) -> None:
    from idp.authn import interaction as interactions
    from idp.authn.interaction import Prompt

    http.get("/login")
    with http.session_transaction() as ui:
        browser = ui["browser"]
    parked = interactions.create(
        app.extensions["idp.store"],
        browser=browser,
        prompt=Prompt.LOGIN,
        reasons=["no_session"],
        ttl=60,
        login_hint=CITIZEN_ID_NUMBER,
    )
    page = http.get(f"/login/{parked.uid}/sms").get_data(as_text=True)
    assert f'value="{CITIZEN_ID_NUMBER}"' in page


# --- no enumeration ------------------------------------------------------------------------


def _normalised(html: str) -> str:
    html = re.sub(r'name="csrf_token" value="[^"]+"', "", html)
    return re.sub(r"/login/[A-Za-z0-9_-]+", "/login/UID", html)


def test_same_answer_whether_or_not_the_number_has_an_account_or_a_phone(
    app: Any, citizen: Any
) -> None:
    from idp.authn.citizens import create_citizen

    no_phone = resident("11010519800101002")
    create_citizen(id_number=no_phone, name="李四", phone=None, password=None)
    pages = {}
    for number in (CITIZEN_ID_NUMBER, UNKNOWN, no_phone):
        http = app.test_client()
        uid, html = _start(http)
        response = _send(http, uid, html, number)
        assert response.status_code == 303, number
        assert path_of(response.headers["Location"]) == f"/login/{uid}/sms/code"
        pages[number] = _normalised(_code_page(http, uid))
        # Every code is refused for the two without a phone; alike.
        assert _enter(http, uid, "123456").status_code == 401
    assert pages[CITIZEN_ID_NUMBER] == pages[UNKNOWN] == pages[no_phone]
    assert len(_texts(app)) == 1  # only the citizen with a phone got a text
    box = outbox()
    assert box is not None and len(box.messages()) == 1


def test_a_malformed_number_is_named_and_kept(app: Any, http: Any) -> None:
    uid, html = _start(http)
    response = _send(http, uid, html, "11010519491231002Y")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'value="11010519491231002Y"' in page


# --- single use, bound to the sign-in and the phone, capped ---------------------------------


def test_a_code_works_once(app: Any, http: Any, citizen: Any) -> None:
    uid, html = _start(http)
    _send(http, uid, html, CITIZEN_ID_NUMBER)
    code = _latest_code(app)
    assert codes.verify(transaction=uid, phone=PHONE, code=code) is True
    with pytest.raises(codes.CodeExpired):
        codes.verify(transaction=uid, phone=PHONE, code=code)


def test_a_code_is_bound_to_its_sign_in(app: Any, citizen: Any) -> None:
    first, second = app.test_client(), app.test_client()
    uid1, html1 = _start(first)
    _send(first, uid1, html1, CITIZEN_ID_NUMBER)
    code = _latest_code(app)
    uid2, html2 = _start(second)
    for kind in ("sub", "phone"):  # the same number again, past the resend cooldown
        _drop_cooldowns(app, kind)
    assert _send(second, uid2, html2, CITIZEN_ID_NUMBER).status_code == 303
    assert _enter(second, uid2, code).status_code == 401  # the first sign-in's code
    assert _enter(first, uid1, code).status_code == 303  # still good where it belongs


def test_a_code_is_bound_to_the_phone_it_went_to(app: Any, http: Any, citizen: Any) -> None:
    uid, html = _start(http)
    _send(http, uid, html, CITIZEN_ID_NUMBER)
    code = _latest_code(app)
    citizen.phone = "+8613900139000"  # changed at a counter meanwhile
    db.session.commit()
    assert _enter(http, uid, code).status_code == 401


NO_THROTTLE = {"IDP_LOGIN_FREE_ATTEMPTS": 50, "IDP_LOGIN_LOCK_AFTER": 50}


@pytest.mark.parametrize("app_config", [NO_THROTTLE])
def test_five_wrong_entries_void_the_code(app: Any, http: Any, citizen: Any) -> None:
    uid, html = _start(http)
    _send(http, uid, html, CITIZEN_ID_NUMBER)
    code = _latest_code(app)
    wrong = "000000" if code != "000000" else "111111"
    assert [_enter(http, uid, wrong).status_code for _ in range(5)] == [401] * 5
    response = _enter(http, uid, code)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "expired" in page or "过期" in page or "失效" in page


def test_the_attempt_cap_holds_for_parallel_guesses(app: Any, http: Any, citizen: Any) -> None:
    """The entry is counted before the comparison: the sixth guess is never compared."""
    uid, html = _start(http)
    _send(http, uid, html, CITIZEN_ID_NUMBER)
    code = _latest_code(app)
    store = app.extensions["idp.store"]
    for _ in range(5):
        store.incr("sms-code-attempts", uid, 300)  # five guesses in flight
    with pytest.raises(codes.CodeExpired):
        codes.verify(transaction=uid, phone=PHONE, code=code)


@pytest.mark.parametrize("app_config", [{"IDP_TTL_SMS_CODE": 1}])
def test_a_code_expires(app: Any, http: Any, citizen: Any) -> None:
    uid, html = _start(http)
    _send(http, uid, html, CITIZEN_ID_NUMBER)
    code = _latest_code(app)
    time.sleep(2.1)
    assert _enter(http, uid, code).status_code == 400


def test_codes_are_stored_only_as_keyed_hashes(app: Any, http: Any, citizen: Any) -> None:
    recorder = Recorder()
    app.extensions["idp.sms_gateway"] = recorder
    uid, html = _start(http)
    _send(http, uid, html, CITIZEN_ID_NUMBER)
    ((phone, text),) = recorder.sent
    assert phone == PHONE
    code = CODE.search(text).group(1)  # type: ignore[union-attr]
    store = app.extensions["idp.store"]
    if hasattr(store, "_data"):
        dumped = repr(store._data)
    else:
        dumped = repr(
            [(k, store._redis.dump(k)) for k in store._redis.scan_iter(f"{store._prefix}*")]
        )
    assert code not in dumped
    assert PHONE not in dumped and PHONE[3:] not in dumped
    assert CITIZEN_ID_NUMBER not in dumped


# --- sending limits ------------------------------------------------------------------------


def test_resend_waits_for_the_cooldown_then_replaces_the_code(
    app: Any, http: Any, citizen: Any
) -> None:
    uid, html = _start(http)
    _send(http, uid, html, CITIZEN_ID_NUMBER)
    first = _latest_code(app)
    page = _code_page(http, uid)
    refused = post_form(http, f"/login/{uid}/sms/resend", page)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    app.config["IDP_SMS_RESEND_SECONDS"] = 1
    app.extensions["idp.store"].delete("sms-cooldown", f"tx:{uid}")
    for key in ("sub", "phone"):
        _drop_cooldowns(app, key)
    again = post_form(http, f"/login/{uid}/sms/resend", page)
    assert again.status_code == 200
    assert len(_texts(app)) == 2
    second = _latest_code(app)
    if second != first:
        assert _enter(http, uid, first).status_code == 401  # the earlier code is void
    assert _enter(http, uid, second).status_code == 303


def _drop_cooldowns(app: Any, kind: str) -> None:
    store = app.extensions["idp.store"]
    if hasattr(store, "_data"):
        for key in [k for k in store._data if k.startswith(f"sms-cooldown:{kind}:")]:
            store._data.pop(key)
    else:
        for key in store._redis.scan_iter(match=f"{store._prefix}sms-cooldown:{kind}:*"):
            store._redis.delete(key)


@pytest.mark.parametrize(
    "app_config", [{"IDP_SMS_RESEND_SECONDS": 0, "IDP_SMS_SENDS_PER_PHONE": 2}]
)
def test_texts_per_phone_are_limited_per_hour(app: Any, citizen: Any) -> None:
    statuses = []
    for _ in range(3):
        http = app.test_client()
        uid, html = _start(http)
        statuses.append(_send(http, uid, html, CITIZEN_ID_NUMBER).status_code)
    assert statuses == [303, 303, 429]
    assert len(_texts(app)) == 2


@pytest.mark.parametrize("app_config", [{"IDP_SMS_RESEND_SECONDS": 0, "IDP_SMS_SENDS_PER_IP": 2}])
def test_texts_per_address_are_limited_across_numbers(app: Any, citizen: Any) -> None:
    http = app.test_client()
    statuses = []
    for number in (CITIZEN_ID_NUMBER, UNKNOWN, resident("44030619900101131")):
        uid, html = _start(http)
        statuses.append(_send(http, uid, html, number).status_code)
    assert statuses == [303, 303, 429]
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    uid, html = _start(other)
    assert _send(other, uid, html, UNKNOWN).status_code == 303


@pytest.mark.parametrize(
    "app_config", [{"IDP_SMS_RESEND_SECONDS": 0, "IDP_SMS_SENDS_PER_CITIZEN": 1}]
)
def test_texts_per_citizen_are_limited_known_or_not(app: Any, citizen: Any) -> None:
    answers = {}
    for number in (CITIZEN_ID_NUMBER, UNKNOWN):
        statuses = []
        for _ in range(2):
            http = app.test_client()
            uid, html = _start(http)
            statuses.append(_send(http, uid, html, number).status_code)
        answers[number] = statuses
    assert answers[CITIZEN_ID_NUMBER] == answers[UNKNOWN] == [303, 429]


# --- per-authenticator limit ---------------------------------------------------------------


@pytest.mark.parametrize(
    "app_config",
    [
        {
            "IDP_AUTHENTICATOR_MAX_FAILURES": 3,
            "IDP_AUTHENTICATOR_FREE_FAILURES": 10,
            "IDP_LOGIN_LOCK_AFTER": 50,
            "IDP_LOGIN_FREE_ATTEMPTS": 50,
        }
    ],
)
def test_sms_sign_in_is_disabled_after_the_cap_known_or_not(app: Any, citizen: Any) -> None:
    answers = {}
    for number in (CITIZEN_ID_NUMBER, UNKNOWN):
        http = app.test_client()
        uid, html = _start(http)
        _send(http, uid, html, CITIZEN_ID_NUMBER if number == CITIZEN_ID_NUMBER else number)
        statuses = [_enter(http, uid, "999999").status_code for _ in range(3)]
        statuses.append(_send(http, uid, html, number).status_code)  # no more texts
        answers[number] = statuses
    assert answers[CITIZEN_ID_NUMBER] == answers[UNKNOWN] == [401, 401, 401, 403]
    assert limits.is_disabled(authenticator=f"sms:{citizen.id}")
    assert len(_texts(app)) == 1


# --- privacy and robustness ----------------------------------------------------------------


def test_no_number_phone_or_code_in_urls_or_logs(
    app: Any, http: Any, citizen: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    uid, html = _start(http)
    response = _send(http, uid, html, CITIZEN_ID_NUMBER)
    seen.append(response.headers["Location"])
    page = _code_page(http, uid)
    seen += re.findall(r'(?:action|href)="([^"]+)"', page)
    code = _latest_code(app)
    _enter(http, uid, "000000" if code != "000000" else "111111")
    response = _enter(http, uid, code)
    seen.append(response.headers["Location"])
    for secret in (CITIZEN_ID_NUMBER, PHONE, PHONE[3:], code):
        assert all(secret not in url for url in seen)
        assert secret not in caplog.text
    assert CITIZEN_ID_NUMBER not in page and PHONE[3:] not in page


@pytest.mark.parametrize(
    "fields",
    [
        {"code": "x" * 5000},
        {"code": "１２３４５６"},
        {"code": "12345\x00"},
        {},
        {"code": "<script>"},
    ],
)
def test_hostile_codes_never_give_a_500(app: Any, http: Any, citizen: Any, fields: Any) -> None:
    uid, html = _start(http)
    _send(http, uid, html, CITIZEN_ID_NUMBER)
    response = post_form(http, f"/login/{uid}/sms/code", _code_page(http, uid), **fields)
    assert 400 <= response.status_code < 500


@pytest.mark.parametrize("number", ["", "x" * 5000, "\x00", "<script>", "１１０１０５"])
def test_hostile_numbers_never_give_a_500(app: Any, http: Any, number: str) -> None:
    uid, html = _start(http)
    response = _send(http, uid, html, number)
    assert 400 <= response.status_code < 500


def test_a_code_page_without_a_code_sent_asks_for_a_new_one(app: Any, http: Any) -> None:
    uid, _html = _start(http)
    assert _enter(http, uid, "123456").status_code == 400
    page = _code_page(http, uid)
    assert post_form(http, f"/login/{uid}/sms/resend", page).status_code == 303


def test_another_browser_cannot_use_the_sign_in(app: Any, http: Any, citizen: Any) -> None:
    uid, html = _start(http)
    _send(http, uid, html, CITIZEN_ID_NUMBER)
    other = app.test_client()
    assert other.get(f"/login/{uid}/sms/code").status_code == 400


def test_a_form_without_csrf_token_is_refused(app: Any, http: Any, citizen: Any) -> None:
    uid, _html = _start(http)
    response = http.post(f"/login/{uid}/sms", data={"id_number": CITIZEN_ID_NUMBER})
    assert response.status_code == 400
    assert outbox() is not None and _texts(app) == []


# --- the development outbox and the toggle -------------------------------------------------


def test_the_dev_outbox_page_shows_the_texts(app: Any, http: Any, citizen: Any) -> None:
    uid, html = _start(http)
    _send(http, uid, html, CITIZEN_ID_NUMBER)
    page = http.get("/dev/sms-outbox")
    assert page.status_code == 200
    assert _latest_code(app) in page.get_data(as_text=True)
    assert 'href="/dev/sms-outbox"' in _code_page(http, uid)


@pytest.mark.parametrize(
    "app_config",
    [
        {
            "IDP_SMS_GATEWAY": "http",
            "IDP_SMS_GATEWAY_URL": "https://sms.example",
            "IDP_SMS_GATEWAY_TOKEN": "t",
        }
    ],
)
def test_no_outbox_page_with_a_real_gateway(app: Any, http: Any) -> None:
    assert http.get("/dev/sms-outbox").status_code == 404
    uid, _html = _start(http)
    assert "/dev/sms-outbox" not in _code_page(http, uid)


@pytest.mark.parametrize("app_config", [{"IDP_FEATURE_SMS_LOGIN": False}])
def test_a_disabled_feature_has_no_route_and_no_link(app: Any, http: Any) -> None:
    path, html = open_login(http)
    uid = path.split("/")[2]
    assert "/sms" not in html
    assert http.get(f"/login/{uid}/sms").status_code == 404
    assert http.get("/dev/sms-outbox").status_code == 404
    assert csrf_from(html)


def test_the_code_page_states_the_configured_lifetime(app: Any, http: Any, citizen: Any) -> None:
    app.config["IDP_TTL_SMS_CODE"] = 600
    http.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    uid, html = _start(http)
    assert _send(http, uid, html, CITIZEN_ID_NUMBER).status_code == 303
    assert "valid for 10 minutes" in _code_page(http, uid)
