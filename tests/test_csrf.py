"""Every form is CSRF-protected: a POST without a valid token is refused with 400 and a
message that says what to do, and the sign-in form keeps what was typed."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import CITIZEN_ID_NUMBER
from conftest import CITIZEN_PASSWORD
from webforms import csrf_from
from webforms import open_login
from webforms import prepare

from idp.authn import sessions

MESSAGE = ("did not come from this site", "不是从本网站提交")


@pytest.fixture(autouse=True)
def _pages(app: Any) -> None:
    prepare(app)


def _clear_message(response: Any) -> bool:
    page = response.get_data(as_text=True)
    return any(text in page for text in MESSAGE)


def test_sign_in_without_a_token_is_refused_and_the_number_kept(http: Any, citizen: Any) -> None:
    path, _html = open_login(http)
    response = http.post(path, data={"id_number": CITIZEN_ID_NUMBER, "password": CITIZEN_PASSWORD})
    assert response.status_code == 400
    assert _clear_message(response)
    page = response.get_data(as_text=True)
    assert f'value="{CITIZEN_ID_NUMBER}"' in page
    assert CITIZEN_PASSWORD not in page
    # The page carries a fresh token, so submitting again works.
    again = http.post(
        path,
        data={
            "csrf_token": csrf_from(page),
            "id_number": CITIZEN_ID_NUMBER,
            "password": CITIZEN_PASSWORD,
        },
    )
    assert again.status_code == 303


def test_a_token_from_another_browser_is_refused(app: Any, http: Any, citizen: Any) -> None:
    _path, theirs = open_login(app.test_client())
    path, _html = open_login(http)
    response = http.post(
        path,
        data={
            "csrf_token": csrf_from(theirs),
            "id_number": CITIZEN_ID_NUMBER,
            "password": CITIZEN_PASSWORD,
        },
    )
    assert response.status_code == 400
    assert _clear_message(response)


def test_a_forged_token_is_refused(http: Any, citizen: Any) -> None:
    path, _html = open_login(http)
    response = http.post(
        path, data={"csrf_token": "forged", "id_number": CITIZEN_ID_NUMBER, "password": "x"}
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/account/logout",
        "/account/sessions/end-all",
        "/account/sessions/end",
        "/account/totp/start",
        "/account/totp/confirm",
        "/account/totp/remove",
        "/account/recovery-codes",
        "/locale",
        "/register",
        "/register/code",
        "/register/resend",
    ],
)
def test_every_form_endpoint_refuses_a_post_without_a_token(
    app: Any, http: Any, login: Any, path: str
) -> None:
    planted = login()
    response = http.post(path, data={"password": CITIZEN_PASSWORD, "locale": "en"})
    assert response.status_code == 400
    assert _clear_message(response)
    assert sessions.get_by_sid(app.extensions["idp.store"], planted.sid) is not None


def test_the_second_factor_form_is_protected(http: Any, citizen: Any) -> None:
    path, _html = open_login(http)
    response = http.post(path + "/code", data={"step": "totp", "code": "123456"})
    assert response.status_code == 400
    assert _clear_message(response)
