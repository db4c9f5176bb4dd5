"""The citizen's account page: profile, factors, sign-ins, sign-out."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from conftest import CITIZEN_ID_NUMBER
from conftest import CITIZEN_PASSWORD
from webforms import path_of
from webforms import post_form
from webforms import prepare
from webforms import sign_in

from idp.authn import sessions
from idp.authn.methods import totp


@pytest.fixture(autouse=True)
def _pages(app: Any) -> None:
    prepare(app)


def _account(http: Any) -> str:
    response = http.get("/account")
    assert response.status_code == 200
    return str(response.get_data(as_text=True))


def _store(app: Any) -> Any:
    return app.extensions["idp.store"]


def test_signed_out_visit_goes_through_sign_in_and_back(http: Any, citizen: Any) -> None:
    response = http.get("/account")
    assert response.status_code == 303
    login_path = path_of(response.headers["Location"])
    assert login_path.startswith("/login/")
    page = http.get(login_path).get_data(as_text=True)
    signed_in = post_form(
        http, login_path, page, id_number=CITIZEN_ID_NUMBER, password=CITIZEN_PASSWORD
    )
    resumed = http.get(path_of(signed_in.headers["Location"]))
    assert path_of(resumed.headers["Location"]) == "/account"
    assert "张三" in _account(http)


def test_profile_shows_the_number_redacted_only(http: Any, login: Any) -> None:
    login()
    page = _account(http)
    assert "张三" in page
    assert "11**************2X" in page
    assert CITIZEN_ID_NUMBER not in page
    assert "13800138000" not in page and "8000" in page


def test_pages_have_no_inline_script_or_style(http: Any, login: Any) -> None:
    login()
    page = _account(http)
    assert "<script" not in page and "style=" not in page and "<style" not in page


def test_factors_are_listed(http: Any, login: Any, citizen: Any) -> None:
    login()
    assert "/account/totp/start" in _account(http)
    enrolment = totp.provision(citizen_id=citizen.id, account_name="x", issuer="idp")
    totp.confirm(
        citizen_id=citizen.id, code=totp.code_at(secret=enrolment.secret, when=time.time())
    )
    totp.new_recovery_codes(citizen_id=citizen.id)
    page = _account(http)
    assert "/account/totp/start" not in page
    assert "/account/totp/remove" in page and "/account/recovery-codes" in page
    assert ">10<" in page


def test_removing_totp_needs_the_password(app: Any, http: Any, login: Any, citizen: Any) -> None:
    enrolment = totp.provision(citizen_id=citizen.id, account_name="x", issuer="idp")
    totp.confirm(
        citizen_id=citizen.id, code=totp.code_at(secret=enrolment.secret, when=time.time())
    )
    login(amr=("pwd", "otp"))
    page = _account(http)
    refused = post_form(http, "/account/totp/remove", page, password="not my password")
    assert refused.status_code == 401
    assert totp.has_confirmed(citizen_id=citizen.id)
    assert "<details open>" in refused.get_data(as_text=True)
    removed = post_form(http, "/account/totp/remove", page, password=CITIZEN_PASSWORD)
    assert removed.status_code == 303
    assert not totp.has_confirmed(citizen_id=citizen.id)
    assert "/account/totp/start" in _account(http)


def test_new_recovery_codes_need_the_password(http: Any, login: Any, citizen: Any) -> None:
    enrolment = totp.provision(citizen_id=citizen.id, account_name="x", issuer="idp")
    totp.confirm(
        citizen_id=citizen.id, code=totp.code_at(secret=enrolment.secret, when=time.time())
    )
    old = totp.new_recovery_codes(citizen_id=citizen.id)
    login(amr=("pwd", "otp"))
    page = _account(http)
    assert post_form(http, "/account/recovery-codes", page, password="nope").status_code == 401
    response = post_form(http, "/account/recovery-codes", page, password=CITIZEN_PASSWORD)
    codes = re.findall(r"<li><code>([A-Z0-9-]+)</code></li>", response.get_data(as_text=True))
    assert len(codes) == 10 and not set(codes) & set(old)
    assert not totp.use_recovery_code(citizen_id=citizen.id, code=old[0])


def test_lists_where_the_citizen_is_signed_in(app: Any, http: Any, citizen: Any) -> None:
    phone = app.test_client()
    phone_ua = (
        "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36"
    )
    phone.environ_base["HTTP_USER_AGENT"] = phone_ua
    assert sign_in(phone, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD).status_code == 303
    desktop_ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/128.0"
    http.environ_base["HTTP_USER_AGENT"] = desktop_ua
    assert sign_in(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD).status_code == 303
    page = _account(http)
    assert "Chrome / Android" in page and "Firefox / Windows" in page
    assert page.count('name="sid"') == 2
    assert re.search(r"Firefox / Windows <strong>\(", page)  # this browser is marked


def test_sign_out_another_session(app: Any, http: Any, citizen: Any) -> None:
    other = app.test_client()
    sign_in(other, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD)
    sign_in(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD)
    assert len(sessions.list_for(_store(app), citizen.id)) == 2
    page = _account(http)
    this_sid = _current_sid(app, http)
    target = next(s for s in re.findall(r'name="sid" value="([^"]+)"', page) if s != this_sid)
    response = post_form(http, "/account/sessions/end", page, sid=target)
    assert response.status_code == 303
    assert sessions.get_by_sid(_store(app), target) is None
    assert sessions.get_by_sid(_store(app), this_sid) is not None
    assert other.get("/account").status_code == 303  # signed out there


def _current_sid(app: Any, http: Any) -> str:
    cookie = http.get_cookie(app.config["IDP_SESSION_COOKIE"], domain="localhost")
    return str(cookie.value.split(".", 1)[0])


def test_a_foreign_sid_is_ignored(app: Any, http: Any, citizen: Any, login: Any) -> None:
    from webforms import resident

    from idp.authn.citizens import create_citizen

    someone = create_citizen(
        id_number=resident("44030619900101123"), name="李四", password="another passphrase"
    )
    theirs = login(who=someone)
    login()  # now this browser is 张三
    page = _account(http)
    post_form(http, "/account/sessions/end", page, sid=theirs.sid)
    assert sessions.get_by_sid(_store(app), theirs.sid) is not None


def test_sign_out_everywhere(app: Any, http: Any, citizen: Any) -> None:
    other = app.test_client()
    sign_in(other, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD)
    sign_in(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD)
    page = _account(http)
    response = post_form(http, "/account/sessions/end-all", page)
    assert response.status_code == 200
    assert sessions.list_for(_store(app), citizen.id) == []
    assert any(
        h.startswith(app.config["IDP_SESSION_COOKIE"] + "=;")
        for h in response.headers.getlist("Set-Cookie")
    )
    assert http.get("/account").status_code == 303
    assert other.get("/account").status_code == 303


def test_sign_out(app: Any, http: Any, login: Any, citizen: Any) -> None:
    planted = login()
    page = _account(http)
    response = post_form(http, "/account/logout", page)
    assert response.status_code == 200
    assert sessions.get_by_sid(_store(app), planted.sid) is None
    assert http.get("/account").status_code == 303


def test_changes_need_a_session(http: Any, citizen: Any) -> None:
    # A CSRF token from a signed-out page, then a POST without any SSO session.
    response = http.get("/login")
    page = http.get(path_of(response.headers["Location"])).get_data(as_text=True)
    for path in ("/account/totp/start", "/account/sessions/end-all", "/account/recovery-codes"):
        refused = post_form(http, path, page, password=CITIZEN_PASSWORD)
        assert refused.status_code == 303
        assert path_of(refused.headers["Location"]).startswith("/login/")


def test_a_pending_enrolment_can_be_continued(http: Any, login: Any, citizen: Any) -> None:
    login()
    first = totp.provision(citizen_id=citizen.id, account_name="x", issuer="idp")
    page = _account(http)
    assert 'href="/account/totp"' in page
    shown = http.get("/account/totp").get_data(as_text=True)
    grouped = " ".join(first.secret[i : i + 4] for i in range(0, len(first.secret), 4))
    assert grouped in shown  # the same key, not a new one


def test_sessions_show_their_level(http: Any, login: Any) -> None:
    login(amr=("pwd", "otp"))
    page = _account(http)
    assert "较高（双因素）" in page or "Substantial (two factors)" in page
