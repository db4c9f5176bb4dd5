"""The website channel's sign-in pages, driven through the test client with real CSRF tokens."""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime
from typing import Any

import pytest
from conftest import CITIZEN_ID_NUMBER
from conftest import CITIZEN_PASSWORD
from webforms import csrf_from
from webforms import open_login
from webforms import path_of
from webforms import post_form
from webforms import prepare
from webforms import resident
from webforms import sign_in

from adapters import base
from adapters import website
from idp.authn import interaction as interactions
from idp.authn import sessions
from idp.authn.interaction import Prompt
from idp.authn.result import Acr


@pytest.fixture(autouse=True)
def _pages(app: Any) -> None:
    prepare(app)


def _normalised(html: str) -> str:
    """The page without what legitimately differs between two requests."""
    html = re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token" value=""', html)
    html = re.sub(r"/login/[A-Za-z0-9_-]+", "/login/UID", html)
    html = re.sub(r"uid=[A-Za-z0-9_-]+", "uid=UID", html)
    return re.sub(r'name="id_number" value="[^"]*"', 'name="id_number" value=""', html)


def _sso(app: Any, response: Any) -> sessions.SsoSession:
    cookie = _set_cookie(response, app.config["IDP_SESSION_COOKIE"])
    value = cookie.split(";", 1)[0].split("=", 1)[1]
    session = sessions.load(app.extensions["idp.store"], value, idle=3600)
    assert session is not None
    return session


def _set_cookie(response: Any, name: str) -> str:
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(name + "="):
            return str(header)
    raise AssertionError(f"no Set-Cookie for {name}")


def test_adapter_conforms_to_the_channel_interface() -> None:
    """STYLE.md 7.15: every adapter exposes NAME, bp and authenticate(*, interaction, form)."""
    adapter: base.ChannelAdapter = website  # type: ignore[assignment]
    assert adapter.NAME == "website"
    assert adapter.bp.name == "website"
    assert callable(adapter.authenticate)


def test_sign_in_with_password_reaches_low_with_pwd(app: Any, http: Any, citizen: Any) -> None:
    response = sign_in(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD)
    assert response.status_code == 303
    uid = path_of(response.headers["Location"]).split("/")[2]
    assert response.headers["Location"].endswith(f"/interaction/{uid}/resume")
    sso = _sso(app, response)
    assert sso.citizen_id == citizen.id
    assert sso.acr == Acr.LOW
    assert sso.amr == ["pwd"]
    assert sso.channel == "website"


def test_direct_visit_returns_to_the_account_page(http: Any, citizen: Any) -> None:
    response = sign_in(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD)
    resumed = http.get(path_of(response.headers["Location"]))
    assert resumed.status_code in (302, 303)
    assert path_of(resumed.headers["Location"]) == "/account"
    assert http.get("/account").status_code == 200


@pytest.mark.parametrize(
    "typed",
    [
        "11010519491231002x",  # lowercase x
        "110105 19491231 002X",  # grouped as printed
        "１１０１０５１９４９１２３１００２Ｘ",  # full-width
        "110105491231002",  # the 15-digit legacy form of the same number
    ],
)
def test_any_accepted_form_of_the_number_signs_in(http: Any, citizen: Any, typed: str) -> None:
    assert sign_in(http, typed, CITIZEN_PASSWORD).status_code == 303


def test_unknown_number_and_wrong_password_get_identical_answers(
    http: Any, citizen: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OWASP: one generic message whether the ID or the password was wrong; and the
    unknown number costs an argon2 verification too (similar timing)."""
    from idp.authn.methods import password as passwords

    dummy_calls: list[int] = []
    real_dummy = passwords.dummy_verify
    monkeypatch.setattr(
        passwords, "dummy_verify", lambda **kw: (dummy_calls.append(1), real_dummy(**kw))[1]
    )
    wrong = sign_in(http, CITIZEN_ID_NUMBER, "not the password at all")
    assert dummy_calls == []
    unknown = sign_in(http, resident("44030619900101123"), "not the password at all")
    assert dummy_calls == [1]
    assert wrong.status_code == unknown.status_code == 401
    assert _normalised(wrong.get_data(as_text=True)) == _normalised(unknown.get_data(as_text=True))
    assert sorted(k for k, _ in wrong.headers) == sorted(k for k, _ in unknown.headers)
    assert "The ID number or password is incorrect." in wrong.get_data(as_text=True) or (
        "证件号码或密码不正确" in wrong.get_data(as_text=True)
    )


def test_a_citizen_without_a_password_answers_like_a_wrong_password(http: Any, app: Any) -> None:
    from idp.authn.citizens import create_citizen

    create_citizen(id_number=resident("44030619900101123"), name="李四")
    wrong = sign_in(http, resident("44030619900101123"), "some password here")
    assert wrong.status_code == 401


def test_input_is_kept_and_the_rule_named_on_error(http: Any, citizen: Any) -> None:
    path, html = open_login(http)
    bad = CITIZEN_ID_NUMBER[:-1] + "1"  # wrong check digit
    response = post_form(http, path, html, id_number=bad, password="secret-password")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'value="{bad}"' in page
    assert "secret-password" not in page
    assert "check digit" in page or "校验码" in page
    assert 'aria-invalid="true"' in page


def test_wrong_password_keeps_the_number_but_never_the_password(http: Any, citizen: Any) -> None:
    response = sign_in(http, CITIZEN_ID_NUMBER, "wrong-password-123")
    page = response.get_data(as_text=True)
    assert f'value="{CITIZEN_ID_NUMBER}"' in page
    assert "wrong-password-123" not in page


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"id_number": ""},
        {"id_number": "x" * 5000, "password": "p"},
        {"id_number": "\x00\x01<script>", "password": "p" * 5000},
        {"id_number": CITIZEN_ID_NUMBER, "password": ""},
        {"id_number": CITIZEN_ID_NUMBER, "password": "p" * 5000},
    ],
)
def test_hostile_input_never_gives_a_500(http: Any, citizen: Any, fields: dict[str, str]) -> None:
    path, html = open_login(http)
    response = post_form(http, path, html, **fields)
    assert 400 <= response.status_code < 500
    assert "<script>" not in response.get_data(as_text=True)


def test_no_id_number_in_any_url_or_location(http: Any, citizen: Any) -> None:
    seen: list[str] = []
    response = http.get("/login")
    seen.append(response.headers["Location"])
    page = http.get(path_of(response.headers["Location"])).get_data(as_text=True)
    seen += re.findall(r'(?:action|href)="([^"]+)"', page)
    response = post_form(
        http, path_of(seen[0]), page, id_number=CITIZEN_ID_NUMBER, password="wrong one!!"
    )
    seen += re.findall(r'(?:action|href)="([^"]+)"', response.get_data(as_text=True))
    response = post_form(
        http, path_of(seen[0]), page, id_number=CITIZEN_ID_NUMBER, password=CITIZEN_PASSWORD
    )
    seen.append(response.headers["Location"])
    response = http.get(path_of(response.headers["Location"]))
    seen.append(response.headers["Location"])
    account = http.get("/account").get_data(as_text=True)
    seen += re.findall(r'(?:action|href|src)="([^"]+)"', account)
    for url in seen:
        for form in (CITIZEN_ID_NUMBER, CITIZEN_ID_NUMBER.lower(), "110105491231002"):
            assert form not in url
    assert CITIZEN_ID_NUMBER not in account


def test_login_hint_prefills_the_number_field(app: Any, http: Any) -> None:
    http.get("/login")  # gives the browser its id
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
    page = http.get(f"/login/{parked.uid}").get_data(as_text=True)
    assert f'value="{CITIZEN_ID_NUMBER}"' in page


def test_an_expired_interaction_gives_a_friendly_400(http: Any) -> None:
    response = http.get("/login/no-such-interaction")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "expired" in page or "已过期" in page


def test_an_interaction_from_another_browser_is_refused(app: Any, http: Any) -> None:
    path, _html = open_login(http)
    other = app.test_client()
    assert other.get(path).status_code == 400


def test_locked_citizen_is_told_after_the_right_password(app: Any, http: Any, citizen: Any) -> None:
    from idp.extensions import db
    from idp.models._types import utcnow

    citizen.locked_at = utcnow()
    db.session.commit()
    response = sign_in(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD)
    assert response.status_code == 403
    assert _set_cookie_or_none(response, app.config["IDP_SESSION_COOKIE"]) is None
    wrong = sign_in(http, CITIZEN_ID_NUMBER, "wrong password 123")
    assert wrong.status_code == 401  # a guesser learns nothing about the lock


def _set_cookie_or_none(response: Any, name: str) -> str | None:
    try:
        return _set_cookie(response, name)
    except AssertionError:
        return None


def test_session_id_is_renewed_at_sign_in(app: Any, http: Any, citizen: Any, login: Any) -> None:
    planted = login()
    response = sign_in(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD)
    renewed = _sso(app, response)
    assert renewed.sid != planted.sid
    assert sessions.get_by_sid(app.extensions["idp.store"], planted.sid) is None
    assert renewed.created_at == planted.created_at  # same sign-in carried over, new id


def test_cookies_are_httponly_samesite_lax_and_not_secure_on_local_http(
    app: Any, http: Any, citizen: Any
) -> None:
    response = sign_in(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD)
    for name in (app.config["IDP_SESSION_COOKIE"], app.config["SESSION_COOKIE_NAME"]):
        cookie = _set_cookie(response, name)
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        assert "Secure" not in cookie  # conftest turns IDP_COOKIE_SECURE off for http


class TestSecureCookies:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"IDP_COOKIE_SECURE": True, "PREFERRED_URL_SCHEME": "https"}

    def test_cookies_are_secure_when_configured(self, app: Any, citizen: Any) -> None:
        http = app.test_client()
        http.environ_base["wsgi.url_scheme"] = "https"
        response = http.get("/login", base_url="https://localhost")
        page = http.get(path_of(response.headers["Location"]), base_url="https://localhost")
        # Over HTTPS Flask-WTF also wants a same-origin Referer, which browsers send
        # because every page's Referrer-Policy is same-origin.
        login_url = "https://localhost" + path_of(response.headers["Location"])
        response = http.post(
            path_of(response.headers["Location"]),
            base_url="https://localhost",
            headers={"Referer": login_url},
            data={
                "csrf_token": csrf_from(page.get_data(as_text=True)),
                "id_number": CITIZEN_ID_NUMBER,
                "password": CITIZEN_PASSWORD,
            },
        )
        assert response.status_code == 303
        for name in (app.config["IDP_SESSION_COOKIE"], app.config["SESSION_COOKIE_NAME"]):
            cookie = _set_cookie(response, name)
            assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_pages_carry_the_security_headers(http: Any) -> None:
    path, _ = open_login(http)
    response = http.get(path)
    # Flask-WTF needs a same-origin Referer on HTTPS form posts; nothing leaves the origin.
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


def test_auth_time_is_now(app: Any, http: Any, citizen: Any) -> None:
    before = int(datetime.now(UTC).timestamp())
    sso = _sso(app, sign_in(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD))
    assert before - 1 <= sso.auth_time <= before + 5


def test_a_double_submit_carries_on_instead_of_failing(http: Any, citizen: Any) -> None:
    path, html = open_login(http)
    first = post_form(http, path, html, id_number=CITIZEN_ID_NUMBER, password=CITIZEN_PASSWORD)
    second = post_form(http, path, html, id_number=CITIZEN_ID_NUMBER, password=CITIZEN_PASSWORD)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
