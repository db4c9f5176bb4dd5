"""Pages in Simplified Chinese (default) or English: ui_locales, the on-page switch,
Accept-Language; and catalogs that cover every message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from babel.support import Translations
from conftest import CITIZEN_ID_NUMBER
from webforms import open_login
from webforms import path_of
from webforms import post_form
from webforms import prepare

ROOT = Path(__file__).resolve().parent.parent
ZH_PO = ROOT / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"

ZH_SIGN_IN = "<h1>登录</h1>"
EN_SIGN_IN = "<h1>Sign in</h1>"


@pytest.fixture(autouse=True)
def _pages(app: Any) -> None:
    prepare(app)


def _login_page(http: Any, **kwargs: Any) -> str:
    response = http.get("/login")
    page = http.get(path_of(response.headers["Location"]), **kwargs)
    assert page.status_code == 200
    return str(page.get_data(as_text=True))


def test_simplified_chinese_by_default(http: Any) -> None:
    page = _login_page(http)
    assert ZH_SIGN_IN in page
    assert '<html lang="zh-CN">' in page


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("en-US,en;q=0.9", EN_SIGN_IN),
        ("en-GB", EN_SIGN_IN),
        ("zh-CN,zh;q=0.9,en;q=0.8", ZH_SIGN_IN),
        ("zh-TW", ZH_SIGN_IN),
        ("fr-FR", ZH_SIGN_IN),  # not offered: the default
        ("de,en;q=0.5", EN_SIGN_IN),
    ],
)
def test_accept_language(http: Any, header: str, expected: str) -> None:
    assert expected in _login_page(http, headers={"Accept-Language": header})


def test_ui_locales_parameter_wins_over_accept_language(http: Any) -> None:
    response = http.get("/login")
    path = path_of(response.headers["Location"])
    page = http.get(path + "?ui_locales=en", headers={"Accept-Language": "zh-CN"})
    assert EN_SIGN_IN in page.get_data(as_text=True)
    page = http.get(path + "?ui_locales=fr%20zh-CN", headers={"Accept-Language": "en"})
    assert ZH_SIGN_IN in page.get_data(as_text=True)


def test_ui_locales_remembered_by_the_authorize_request(http: Any) -> None:
    """The OIDC layer keeps ui_locales in the UI session; every later page follows it."""
    http.get("/login")
    with http.session_transaction() as ui:
        ui["locale"] = "en"
    assert EN_SIGN_IN in _login_page(http, headers={"Accept-Language": "zh-CN"})


def test_the_switch_changes_the_language_and_comes_back(http: Any) -> None:
    path, page = open_login(http)
    assert 'action="/locale"' in page
    assert f'name="next" value="{path}"' in page
    switched = post_form(http, "/locale", page, locale="en", next=path)
    assert switched.status_code == 303
    assert path_of(switched.headers["Location"]) == path
    english = http.get(path).get_data(as_text=True)
    assert EN_SIGN_IN in english
    assert 'value="zh_Hans_CN" lang="zh-CN">中文</button>' in english
    back = post_form(http, "/locale", english, locale="zh_Hans_CN", next=path)
    assert ZH_SIGN_IN in http.get(path_of(back.headers["Location"])).get_data(as_text=True)


@pytest.mark.parametrize(
    ("next_value", "expected"),
    [
        ("//evil.example/x", "/account"),
        ("https://evil.example/", "/account"),
        ("/\\evil.example", "/account"),
        ("", "/account"),
        ("/login/abc?ui_locales=zh&x=1", "/login/abc?x=1"),
    ],
)
def test_the_switch_goes_back_only_to_local_pages(
    http: Any, next_value: str, expected: str
) -> None:
    _path, page = open_login(http)
    response = post_form(http, "/locale", page, locale="en", next=next_value)
    assert path_of(response.headers["Location"]) == expected


def test_an_unknown_locale_is_ignored(http: Any) -> None:
    path, page = open_login(http)
    post_form(http, "/locale", page, locale="xx", next=path)
    assert ZH_SIGN_IN in http.get(path).get_data(as_text=True)


def test_error_messages_are_translated(http: Any, citizen: Any) -> None:
    path, page = open_login(http)
    bad = CITIZEN_ID_NUMBER[:-1] + "1"
    zh = post_form(http, path, page, id_number=bad, password="x" * 12).get_data(as_text=True)
    assert "证件号码无效：校验码不符。" in zh
    en = http.post(
        path,
        data={
            "csrf_token": page.split('name="csrf_token" value="')[1].split('"')[0],
            "id_number": bad,
            "password": "x" * 12,
        },
        headers={"Accept-Language": "en"},
    ).get_data(as_text=True)
    assert "The ID number is not valid: check digit does not match." in en
    wrong = post_form(http, path, page, id_number=CITIZEN_ID_NUMBER, password="x" * 12)
    assert "证件号码或密码不正确。" in wrong.get_data(as_text=True)


def test_error_page_is_translated(http: Any) -> None:
    assert "登录页面已过期" in http.get("/login/unknown").get_data(as_text=True)
    english = http.get("/login/unknown", headers={"Accept-Language": "en"})
    assert "This sign-in page has expired." in english.get_data(as_text=True)


# --- the catalogs -------------------------------------------------------------------------------


def test_every_message_has_a_chinese_translation() -> None:
    with ZH_PO.open("rb") as handle:
        catalog = read_po(handle)
    untranslated = [m.id for m in catalog if m.id and (not m.string or m.fuzzy)]
    assert untranslated == []


def test_the_compiled_catalog_matches_the_po_file() -> None:
    with ZH_PO.open("rb") as handle:
        catalog = read_po(handle)
    compiled = Translations.load(str(ROOT / "translations"), ["zh_Hans_CN"])
    for message in catalog:
        if message.id and isinstance(message.id, str):
            assert compiled.gettext(message.id) == message.string, message.id


def test_the_catalog_covers_every_message_in_the_sources(tmp_path: Path) -> None:
    """Re-extract (as scripts/i18n.sh does) and find nothing the catalog lacks: run
    scripts/i18n.sh and translate when this fails."""
    pot = tmp_path / "messages.pot"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts")}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "lazy_gettext",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as handle:
        extracted = {m.id for m in read_po(handle) if m.id}
    with ZH_PO.open("rb") as handle:
        known = {m.id for m in read_po(handle) if m.id and m.string}
    assert sorted(map(str, extracted - known)) == []


def test_id_number_rules_and_domain_errors_are_in_the_catalog() -> None:
    from idp import errors
    from idp.ids import Rule

    with ZH_PO.open("rb") as handle:
        known = {m.id for m in read_po(handle) if m.id and m.string}
    publics = {
        cls.public
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.IdpError)
    }
    assert {rule.value for rule in Rule} <= known
    assert publics <= known
