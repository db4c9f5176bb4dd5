"""Self-registration against the population registry: what is told, what is never told."""

from __future__ import annotations

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
from idp.citizens_import import import_registry
from idp.errors import InvalidInput

WANG = resident("44030619900101123")
LI = resident("31010419850505246")
NOPHONE = resident("11010219700101357")
PASSWORD = "a sunny day in Shenzhen"


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


def _normalised(html: str) -> str:
    html = re.sub(r'name="csrf_token" value="[^"]+"', "", html)
    return re.sub(r'(name="(id_number|name|phone)"[^>]*value=)"[^"]*"', r'\1""', html)


def test_registration_creates_a_registry_proofed_account(http: Any, registry: None) -> None:
    response = _register(http)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    # Straight on to sign in, the number already filled in (in the page, not a URL).
    assert f'value="{WANG}"' in page
    assert 'name="password"' in page
    citizen = find_by_id_number(WANG)
    assert citizen is not None
    assert citizen.proofing == "registry"
    assert citizen.phone == "+8613800138001"
    action = re.search(r'<form method="post" action="(/login/[^"]+)"', page).group(1)  # type: ignore[union-attr]
    signed_in = post_form(http, action, page, id_number=WANG, password=PASSWORD)
    assert signed_in.status_code == 303
    resumed = http.get(path_of(signed_in.headers["Location"]))
    assert path_of(resumed.headers["Location"]) == "/account"


def test_the_name_is_compared_leniently(http: Any, registry: None) -> None:
    response = _register(http, id_number=LI, name="李 华", phone="139-0013-9002")
    assert response.status_code == 200
    assert find_by_id_number(LI) is not None


def test_refusals_are_indistinguishable(http: Any, registry: None, citizen: Any) -> None:
    """Wrong name, wrong phone, not in the registry, no phone on record and an existing
    account all give the same status and page: nothing says which fact failed."""
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
    assert set(statuses.values()) == {400}, statuses
    pages = {_normalised(r.get_data(as_text=True)) for r in cases.values()}
    assert len(pages) == 1
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
    app.config.update(IDP_LOGIN_FREE_ATTEMPTS=1, IDP_LOGIN_LOCK_AFTER=2)
    assert _register(http, name="错").status_code == 400
    assert _register(http, name="错").status_code == 400
    refused = _register(http)  # now right, but locked
    assert refused.status_code == 429
    assert 'value="王小明"' in refused.get_data(as_text=True)


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
        response = http.get("/login")
        page = http.get(path_of(response.headers["Location"])).get_data(as_text=True)
        assert "/register" not in page
