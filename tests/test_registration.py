"""Self-registration against the population registry, the registry's phone proved by an
SMS code: what is told, what is never told, what is kept between the two steps."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from conftest import CITIZEN_ID_NUMBER
from webforms import csrf_from
from webforms import path_of
from webforms import post_form
from webforms import prepare
from webforms import resident

from idp.authn import password_policy
from idp.authn.citizens import find_by_id_number
from idp.authn.sms.gateway import outbox
from idp.citizens_import import import_registry
from idp.errors import InvalidInput

WANG = resident("44030619900101123")
LI = resident("31010419850505246")
NOPHONE = resident("11010219700101357")
PASSWORD = "a sunny day in Shenzhen"
WANG_PHONE = "+8613800138001"  # the registry's
CODE = re.compile(r"\b(\d{6})\b")


@pytest.fixture(autouse=True)
def _pages(app: Any) -> None:
    prepare(app)


@pytest.fixture
def registry(app: Any) -> None:
    rows = (
        "id_number,name,phone\n"
        f"{WANG},王小明,13800138001\n"
        f"{LI},李华,+86 139 0013 9002\n"
        f"{CITIZEN_ID_NUMBER},张三,13800138000\n"
        f"{NOPHONE},赵六,\n"
    )
    report = import_registry(data=rows.encode())
    assert report.rejected == 0


def _register(http: Any, **fields: str) -> Any:
    page = http.get("/register").get_data(as_text=True)
    data = {
        "id_number": WANG,
        "name": "王小明",
        "phone": "13800138001",
        "password": PASSWORD,
        "password_repeat": PASSWORD,
    }
    data.update(fields)
    return post_form(http, "/register", page, **data)


def _texts(phone: str = WANG_PHONE) -> list[str]:
    box = outbox()
    assert box is not None
    return [m.text for m in box.messages(phone=phone)]


def _latest_code(phone: str = WANG_PHONE) -> str:
    texts = _texts(phone)
    assert texts, "no text message sent"
    found = CODE.search(texts[0])
    assert found
    return found.group(1)


def _enter(http: Any, code: str) -> Any:
    page = http.get("/register/code")
    assert page.status_code == 200
    return post_form(http, "/register/code", page.get_data(as_text=True), code=code)


def _registered(http: Any, texted_to: str = WANG_PHONE, **fields: str) -> Any:
    """The form, then the code texted to ``texted_to``: the answer to the code."""
    response = _register(http, **fields)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    assert path_of(response.headers["Location"]) == "/register/code"
    return _enter(http, _latest_code(texted_to))


def _normalised(html: str) -> str:
    html = re.sub(r'name="csrf_token" value="[^"]+"', "", html)
    return re.sub(r'(name="(id_number|name|phone)"[^>]*value=)"[^"]*"', r'\1""', html)


def test_registration_creates_a_registry_proofed_account(http: Any, registry: None) -> None:
    response = _register(http)
    assert response.status_code == 303
    assert path_of(response.headers["Location"]) == "/register/code"
    assert find_by_id_number(WANG) is None  # not before the code came back
    response = _enter(http, _latest_code())
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    # Straight on to sign in, the number already filled in (in the page, not a URL).
    assert f'value="{WANG}"' in page
    assert 'name="password"' in page
    citizen = find_by_id_number(WANG)
    assert citizen is not None
    assert citizen.proofing == "registry"
    assert citizen.phone == WANG_PHONE
    action = re.search(r'<form method="post" action="(/login/[^"]+)"', page).group(1)  # type: ignore[union-attr]
    signed_in = post_form(http, action, page, id_number=WANG, password=PASSWORD)
    assert signed_in.status_code == 303
    resumed = http.get(path_of(signed_in.headers["Location"]))
    assert path_of(resumed.headers["Location"]) == "/account"


def test_the_account_starts_with_its_phone_verified(http: Any, registry: None) -> None:
    from sqlalchemy import select

    from idp.extensions import db
    from idp.models import AuditEvent

    assert _registered(http).status_code == 200
    citizen = find_by_id_number(WANG)
    assert citizen is not None
    assert citizen.verified_phone == WANG_PHONE and citizen.phone_verified_at is not None
    [record] = db.session.scalars(
        select(AuditEvent).where(AuditEvent.event == "account.phone_verified")
    )
    assert record.citizen_id == citizen.id
    assert record.details == {"via": "registration", "phone": "+86138****8001"}


def test_the_name_is_compared_leniently(http: Any, registry: None) -> None:
    response = _registered(
        http, "+8613900139002", id_number=LI, name="李 华", phone="139-0013-9002"
    )
    assert response.status_code == 200
    assert find_by_id_number(LI) is not None


def test_refusals_are_indistinguishable(app: Any, http: Any, registry: None, citizen: Any) -> None:
    """Wrong name, wrong phone, not in the registry, no phone on record and an existing
    account all lead to the same code page: nothing says which fact failed, and no text
    goes anywhere."""
    app.config["IDP_SMS_RESEND_SECONDS"] = 0  # one number tried twice in a row
    cases = {
        "wrong name": _register(http, name="王大明"),
        "wrong phone": _register(http, phone="13800138999"),
        "not in registry": _register(http, id_number=resident("51010719991231001")),
        "no phone on record": _register(http, id_number=NOPHONE, name="赵六"),
        "already registered": _register(
            http, id_number=CITIZEN_ID_NUMBER, name="张三", phone="13800138000"
        ),
    }
    statuses = {name: r.status_code for name, r in cases.items()}
    assert set(statuses.values()) == {303}, statuses
    assert {path_of(r.headers["Location"]) for r in cases.values()} == {"/register/code"}
    box = outbox()
    assert box is not None and box.messages() == []
    # Any code is refused as a wrong one would be.
    refused = _enter(http, "123456")
    assert refused.status_code == 401
    assert "The code is not valid" in refused.get_data(as_text=True) or "验证码" in (
        refused.get_data(as_text=True)
    )
    assert find_by_id_number(WANG) is None


def test_a_match_and_a_mismatch_show_the_same_code_page(
    app: Any, http: Any, registry: None
) -> None:
    app.config["IDP_SMS_RESEND_SECONDS"] = 0  # one number tried twice in a row
    _register(http, name="王大明")
    mismatch = http.get("/register/code").get_data(as_text=True)
    other = app.test_client()
    _register(other)
    match = other.get("/register/code").get_data(as_text=True)
    strip = re.compile(r'name="csrf_token" value="[^"]+"')
    assert strip.sub("", mismatch) == strip.sub("", match)
    assert len(_texts()) == 1


# --- the code step keeps what was typed ---------------------------------------------------------


def test_a_wrong_code_asks_only_for_the_code_again(http: Any, registry: None) -> None:
    _register(http)
    code = _latest_code()
    wrong = _enter(http, "000000" if code != "000000" else "111111")
    assert wrong.status_code == 401
    page = wrong.get_data(as_text=True)
    assert 'name="code"' in page and 'name="password"' not in page
    assert find_by_id_number(WANG) is None
    assert _enter(http, code).status_code == 200
    assert find_by_id_number(WANG) is not None


def test_change_my_details_brings_the_form_back_filled_in(http: Any, registry: None) -> None:
    _register(http, name="王大明")
    code_page = http.get("/register/code").get_data(as_text=True)
    assert 'href="/register"' in code_page
    form = http.get("/register").get_data(as_text=True)
    assert f'value="{WANG}"' in form and 'value="王大明"' in form
    assert f'value="{WANG_PHONE}"' in form
    assert PASSWORD not in form


def test_a_new_code_replaces_the_first(app: Any, http: Any, registry: None) -> None:
    app.config["IDP_SMS_RESEND_SECONDS"] = 0
    _register(http)
    first = _latest_code()
    page = http.get("/register/code").get_data(as_text=True)
    resent = post_form(http, "/register/resend", page)
    assert resent.status_code == 200
    second = _latest_code()
    assert len(_texts()) == 2
    if first != second:
        assert _enter(http, first).status_code == 401
    assert _enter(http, second).status_code == 200
    assert find_by_id_number(WANG) is not None


def test_an_expired_code_is_told_with_a_way_to_get_a_new_one(http: Any, registry: None) -> None:
    from idp.authn.sms import codes

    _register(http)
    with http.session_transaction() as ui:
        pending = ui["registration"]
    codes.forget(transaction=f"register:{pending}")  # as when its 5 minutes are over
    expired = _enter(http, _latest_code())
    assert expired.status_code == 400
    assert 'action="/register/resend"' in expired.get_data(as_text=True)
    assert find_by_id_number(WANG) is None


def test_another_browser_cannot_finish_the_registration(
    app: Any, http: Any, registry: None
) -> None:
    _register(http)
    code = _latest_code()
    other = app.test_client()
    assert path_of(other.get("/register/code").headers["Location"]) == "/register"
    page = other.get("/register").get_data(as_text=True)
    assert WANG not in page
    assert post_form(other, "/register/code", page, code=code).status_code == 400
    assert find_by_id_number(WANG) is None
    assert _enter(http, code).status_code == 200


def test_the_store_holds_no_number_name_phone_or_password(
    app: Any, http: Any, registry: None
) -> None:
    class Recorder:
        def __init__(self) -> None:
            self.sent: list[tuple[str, str]] = []

        def send(self, *, phone: str, text: str) -> None:
            self.sent.append((phone, text))

    recorder = Recorder()
    app.extensions["idp.sms_gateway"] = recorder
    _register(http)
    ((phone, _text),) = recorder.sent
    assert phone == WANG_PHONE
    store = app.extensions["idp.store"]
    if hasattr(store, "_data"):
        dumped = repr(store._data)
    else:
        dumped = repr(
            [(k, store._redis.dump(k)) for k in store._redis.scan_iter(f"{store._prefix}*")]
        )
    escaped = json.dumps("王小明")[1:-1]  # as JSON writes it
    for secret in (WANG, "王小明", escaped, WANG_PHONE, WANG_PHONE[3:], PASSWORD):
        assert secret not in dumped


def test_the_registry_changing_meanwhile_refuses_with_the_form_filled(
    http: Any, registry: None
) -> None:
    _register(http)
    code = _latest_code()
    assert import_registry(data=f"id_number,name,phone\n{WANG},王小明,13800138555\n".encode())
    refused = _enter(http, code)
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert f'value="{WANG}"' in page and 'value="王小明"' in page
    assert find_by_id_number(WANG) is None


def test_rules_broken_by_the_input_itself_are_named_and_input_kept(
    http: Any, registry: None
) -> None:
    response = _register(http, id_number=WANG[:-1] + ("0" if WANG[-1] != "0" else "1"))
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "check digit" in page or "校验码" in page
    assert 'value="王小明"' in page and 'value="13800138001"' in page
    assert PASSWORD not in page


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short1", ("at least 10", "至少 10")),
        ("1234567890", ("too common", "太常见")),
        ("qwertyuiop", ("too common", "太常见")),
        ("abcabcabcabc", ("too common", "太常见")),
        (f"my id {WANG}", ("ID number", "证件号码")),
    ],
)
def test_weak_passwords_are_refused_with_the_rule(
    http: Any, registry: None, password: str, rule: tuple[str, str]
) -> None:
    response = _register(http, password=password, password_repeat=password)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert any(text in page for text in rule)
    assert 'id="password"' in page
    assert re.search(r'type="password"[^>]*value=', page) is None  # never echoed
    assert find_by_id_number(WANG) is None


def test_the_two_passwords_must_match(http: Any, registry: None) -> None:
    response = _register(http, password_repeat=PASSWORD + "!")
    assert response.status_code == 400
    assert find_by_id_number(WANG) is None


def test_password_rules_are_explained_on_the_page(http: Any) -> None:
    page = http.get("/register").get_data(as_text=True)
    assert "10" in page
    assert "1234567890" in page  # the example of a run


def test_policy_accepts_a_plain_long_passphrase() -> None:
    password_policy.check(password="correct horse battery staple")
    with pytest.raises(InvalidInput):
        password_policy.check(password="13800138001xyz", phone="+8613800138001")


def test_registration_attempts_are_limited(app: Any, http: Any, registry: None) -> None:
    app.config.update(IDP_LOGIN_FREE_ATTEMPTS=1, IDP_LOGIN_LOCK_AFTER=2, IDP_SMS_RESEND_SECONDS=0)
    # A mismatch looks like a match (the code page) but counts as a failed guess.
    assert _register(http, name="错").status_code == 303
    assert _register(http, name="错").status_code == 303
    refused = _register(http)  # now right, but locked
    assert refused.status_code == 429
    assert 'value="王小明"' in refused.get_data(as_text=True)
    assert _texts() == []


def test_wrong_codes_count_against_the_number(http: Any, registry: None) -> None:
    """Wrong codes are failed guesses for the number (``ratelimit``), on top of the
    code's own cap: delays, then a lock."""
    _register(http)
    code = _latest_code()
    wrong = "000000" if code != "000000" else "111111"
    answers = [_enter(http, wrong) for _ in range(5)]
    statuses = [a.status_code for a in answers]
    assert statuses[:3] == [401, 401, 401] and 429 in statuses, statuses
    assert answers[statuses.index(429)].headers["Retry-After"]
    assert find_by_id_number(WANG) is None


def test_never_a_500_for_odd_input(http: Any, registry: None) -> None:
    page = http.get("/register").get_data(as_text=True)
    for data in (
        {},
        {"id_number": "x" * 10000},
        {"id_number": WANG, "name": "\x00", "phone": "abc"},
        {"id_number": WANG, "name": "王小明", "phone": "1" * 40, "password": "p" * 5000},
    ):
        response = http.post("/register", data={"csrf_token": csrf_from(page), **data})
        assert 400 <= response.status_code < 500


def test_register_link_carries_the_interaction(http: Any) -> None:
    response = http.get("/login")
    login_path = path_of(response.headers["Location"])
    page = http.get(login_path).get_data(as_text=True)
    uid = login_path.rsplit("/", 1)[1]
    assert f'href="/register?uid={uid}"' in page


class TestFeatureOff:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"IDP_FEATURE_SELF_REGISTRATION": False}

    def test_no_route_and_no_link(self, http: Any) -> None:
        assert http.get("/register").status_code == 404
        assert http.get("/register/code").status_code == 404
        response = http.get("/login")
        page = http.get(path_of(response.headers["Location"])).get_data(as_text=True)
        assert "/register" not in page
