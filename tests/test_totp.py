"""TOTP (RFC 6238): enrolment from the account page, sign-in reaching substantial with
pwd+otp, no code accepted twice, recovery codes each working once, attempts limited."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from conftest import CITIZEN_ID_NUMBER
from conftest import CITIZEN_PASSWORD
from webforms import csrf_from
from webforms import path_of
from webforms import post_form
from webforms import prepare
from webforms import sign_in

from adapters import website
from idp.authn import sessions
from idp.authn.methods import totp
from idp.authn.result import Acr
from idp.extensions import db
from idp.models import RecoveryCode
from idp.models import TotpCredential


@pytest.fixture(autouse=True)
def _pages(app: Any) -> None:
    prepare(app)


def _enrol(citizen: Any) -> str:
    """Enrol directly through the service; returns the secret."""
    enrolment = totp.provision(citizen_id=citizen.id, account_name="x", issuer="idp")
    now = time.time()
    assert totp.confirm(citizen_id=citizen.id, code=totp.code_at(secret=enrolment.secret, when=now))
    return enrolment.secret


def _next_code(secret: str) -> str:
    """A code of the next step: inside the valid window, and never used yet."""
    return totp.code_at(secret=secret, when=time.time() + totp.INTERVAL)


def _sso(app: Any, response: Any) -> sessions.SsoSession:
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(app.config["IDP_SESSION_COOKIE"] + "="):
            value = header.split(";", 1)[0].split("=", 1)[1]
            found = sessions.load(app.extensions["idp.store"], value, idle=3600)
            assert found is not None
            return found
    raise AssertionError("no SSO cookie set")


def _to_code_page(http: Any) -> tuple[str, str]:
    response = sign_in(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD)
    assert response.status_code == 303
    path = path_of(response.headers["Location"])
    assert path.endswith("/code")
    page = http.get(path)
    assert page.status_code == 200
    return path, page.get_data(as_text=True)


# --- the wrapper --------------------------------------------------------------------------------


def test_secret_is_stored_sealed_and_unusable_until_confirmed(app: Any, citizen: Any) -> None:
    enrolment = totp.provision(citizen_id=citizen.id, account_name="Zhang San", issuer="idp")
    stored = db.session.get(TotpCredential, citizen.id)
    assert enrolment.secret.encode() not in stored.secret_enc
    assert enrolment.uri.startswith("otpauth://totp/")
    assert "secret=" + enrolment.secret in enrolment.uri
    assert not totp.has_confirmed(citizen_id=citizen.id)
    code = totp.code_at(secret=enrolment.secret, when=time.time())
    assert not totp.verify(citizen_id=citizen.id, code=code)  # not confirmed yet


def test_valid_window_is_one_step_each_side(app: Any, citizen: Any) -> None:
    secret = _enrol(citizen)
    now = time.time()
    assert not totp.verify(citizen_id=citizen.id, code=totp.code_at(secret=secret, when=now - 90))
    assert totp.verify(citizen_id=citizen.id, code=totp.code_at(secret=secret, when=now + 30))
    assert not totp.verify(citizen_id=citizen.id, code=totp.code_at(secret=secret, when=now + 90))


def test_a_code_is_never_accepted_twice(app: Any, citizen: Any) -> None:
    """RFC 6238 5.2: the verifier MUST NOT accept the second attempt of the same OTP."""
    secret = _enrol(citizen)
    code = _next_code(secret)
    assert totp.verify(citizen_id=citizen.id, code=code)
    assert not totp.verify(citizen_id=citizen.id, code=code)
    # Nor an older step's code once a later one was used.
    older = totp.code_at(secret=secret, when=time.time())
    assert not totp.verify(citizen_id=citizen.id, code=older)


def test_the_confirmation_code_cannot_be_replayed_to_sign_in(app: Any, citizen: Any) -> None:
    enrolment = totp.provision(citizen_id=citizen.id, account_name="x", issuer="idp")
    code = totp.code_at(secret=enrolment.secret, when=time.time())
    assert totp.confirm(citizen_id=citizen.id, code=code)
    assert not totp.verify(citizen_id=citizen.id, code=code)


def test_recovery_codes_are_ten_hashed_and_single_use(app: Any, citizen: Any) -> None:
    _enrol(citizen)
    codes = totp.new_recovery_codes(citizen_id=citizen.id)
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = db.session.query(RecoveryCode).filter_by(citizen_id=citizen.id).all()
    assert all(code not in row.code_hash for row in stored for code in codes)
    assert totp.use_recovery_code(citizen_id=citizen.id, code=codes[0].lower())
    assert not totp.use_recovery_code(citizen_id=citizen.id, code=codes[0])
    assert totp.status(citizen_id=citizen.id).recovery_codes_left == 9
    # New codes replace the old ones.
    fresh = totp.new_recovery_codes(citizen_id=citizen.id)
    assert not totp.use_recovery_code(citizen_id=citizen.id, code=codes[1])
    assert totp.use_recovery_code(citizen_id=citizen.id, code=fresh[1])


# --- enrolment through the account page -------------------------------------------------------


def test_enrolment_from_the_account_page(app: Any, http: Any, citizen: Any) -> None:
    response = sign_in(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD)
    http.get(path_of(response.headers["Location"]))
    account = http.get("/account").get_data(as_text=True)
    started = post_form(http, "/account/totp/start", account)
    assert started.status_code == 303
    page = http.get(path_of(started.headers["Location"])).get_data(as_text=True)
    assert re.search(r'<img class="qr" src="data:image/svg\+xml;base64,[A-Za-z0-9+/=]+"', page)
    assert "<script" not in page and "style=" not in page  # CSP: no inline script/style
    secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page).group(1)  # type: ignore[union-attr]
    secret = secret.replace(" ", "")
    # A wrong code keeps the enrolment open and says so.
    wrong = post_form(http, "/account/totp/confirm", page, code="000000")
    assert wrong.status_code == 400
    assert "data:image/svg+xml" in wrong.get_data(as_text=True)
    confirmed = post_form(
        http, "/account/totp/confirm", page, code=totp.code_at(secret=secret, when=time.time())
    )
    assert confirmed.status_code == 200
    codes = re.findall(r"<li><code>([A-Z0-9-]+)</code></li>", confirmed.get_data(as_text=True))
    assert len(codes) == 10
    assert totp.has_confirmed(citizen_id=citizen.id)
    # Shown once: the account page lists only how many are left.
    again = http.get("/account").get_data(as_text=True)
    assert codes[0] not in again
    assert ">10<" in again


# --- sign-in with the second factor -----------------------------------------------------------


def test_sign_in_with_totp_reaches_substantial_with_pwd_and_otp(
    app: Any, http: Any, citizen: Any
) -> None:
    secret = _enrol(citizen)
    path, page = _to_code_page(http)
    response = post_form(http, path, page, step="totp", code=_next_code(secret))
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/resume")
    sso = _sso(app, response)
    assert sso.acr == Acr.SUBSTANTIAL
    assert sso.amr == ["pwd", "otp", "mfa"]


def test_the_password_alone_gives_no_session_when_totp_is_on(
    app: Any, http: Any, citizen: Any
) -> None:
    _enrol(citizen)
    response = sign_in(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD)
    assert not any(
        h.startswith(app.config["IDP_SESSION_COOKIE"] + "=")
        for h in response.headers.getlist("Set-Cookie")
    )
    # The half-done login lives in the signed UI cookie, not in the URL.
    assert "pwd" not in response.headers["Location"]
    assert citizen.id not in response.headers["Location"]


def test_a_replayed_code_is_refused_at_sign_in(app: Any, http: Any, citizen: Any) -> None:
    secret = _enrol(citizen)
    code = _next_code(secret)
    assert totp.verify(citizen_id=citizen.id, code=code)  # used once elsewhere
    path, page = _to_code_page(http)
    response = post_form(http, path, page, step="totp", code=code)
    assert response.status_code == 401
    assert "step" in response.get_data(as_text=True)  # the form is shown again


def test_recovery_code_signs_in_once(app: Any, http: Any, citizen: Any) -> None:
    _enrol(citizen)
    codes = totp.new_recovery_codes(citizen_id=citizen.id)
    path, page = _to_code_page(http)
    response = post_form(http, path, page, step="recovery", code=codes[3])
    assert response.status_code == 303
    sso = _sso(app, response)
    assert sso.acr == Acr.SUBSTANTIAL
    assert sso.amr == ["pwd", "otp", "mfa"]
    other = app.test_client()
    path, page = _to_code_page(other)
    again = post_form(other, path, page, step="recovery", code=codes[3])
    assert again.status_code == 401
    assert "<details open>" in again.get_data(as_text=True)  # the recovery form stays open


def test_code_page_without_a_password_step_goes_back_to_the_password(
    http: Any, citizen: Any
) -> None:
    response = http.get("/login")
    login_path = path_of(response.headers["Location"])
    page = http.get(login_path + "/code").get_data(as_text=True)
    assert 'name="password"' in page
    posted = http.post(login_path + "/code", data={"csrf_token": csrf_from(page), "code": "1"})
    assert posted.status_code == 400
    assert 'name="password"' in posted.get_data(as_text=True)


def test_the_half_done_login_expires(
    http: Any, citizen: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = _enrol(citizen)
    monkeypatch.setattr(website, "PENDING_TTL", 0)
    path, page = _to_code_page_expired(http)
    response = post_form(http, path, page, step="totp", code=_next_code(secret))
    assert response.status_code == 400
    assert 'name="password"' in response.get_data(as_text=True)


def _to_code_page_expired(http: Any) -> tuple[str, str]:
    response = sign_in(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD)
    path = path_of(response.headers["Location"])
    return path, http.get(path).get_data(as_text=True)


class TestTotpAttemptsAreLimited:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"IDP_LOGIN_FREE_ATTEMPTS": 2, "IDP_LOGIN_LOCK_AFTER": 3}

    def test_wrong_codes_lead_to_a_refusal(self, app: Any, http: Any, citizen: Any) -> None:
        secret = _enrol(citizen)
        path, page = _to_code_page(http)
        statuses = [
            post_form(http, path, page, step="totp", code="000000").status_code for _ in range(4)
        ]
        assert statuses[:2] == [401, 401]
        assert 429 in statuses
        refused = post_form(http, path, page, step="totp", code=_next_code(secret))
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
