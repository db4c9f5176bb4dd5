"""Step-up (issue 3 "Step-up"): a citizen signed in below the level a portal asks for is
asked only for the missing factor; the session's level, auth_time, acr and amr then
reflect the new proof, its id is renewed, other portals keep their tokens, and a
logout with an ID token from before the step-up still ends it. Full OIDC flows through
the test client; ID tokens validated as a portal would."""

from __future__ import annotations

import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
from assurance_helpers import UNMET
from assurance_helpers import Flow
from assurance_helpers import enrol_totp
from assurance_helpers import next_code
from assurance_helpers import post_page
from assurance_helpers import sso
from assurance_helpers import sso_cookie
from oidc_helpers import ISSUER
from oidc_helpers import bearer
from oidc_helpers import grant_consent
from oidc_helpers import register
from oidc_helpers import sign_in
from webforms import path_of
from webforms import prepare

from idp.authn import sessions
from idp.authn.interaction import Reason
from idp.authn.result import Acr
from idp.store import current_store

SUBSTANTIAL = Acr.SUBSTANTIAL.value
HIGH = Acr.HIGH.value


@pytest.fixture(autouse=True)
def _pages(app: Any) -> None:
    prepare(app)


@pytest.fixture
def portal(citizen: Any, rp: Any) -> Any:
    grant_consent(citizen, rp)
    return rp


def test_password_session_steps_up_to_substantial_with_only_the_totp_code(
    app: Any, http: Any, citizen: Any, portal: Any, login: Any
) -> None:
    secret = enrol_totp(citizen)
    before = login(amr=("pwd",), auth_time=datetime.now(UTC) - timedelta(minutes=5))
    old_cookie = sso_cookie(app, http)
    started = int(time.time())

    flow = Flow(http, portal, acr_values=SUBSTANTIAL)
    uid, path, page = flow.page()
    stored = current_store().get("interaction", uid)
    assert stored["reasons"] == [Reason.ACR_TOO_LOW] and stored["required_acr"] == SUBSTANTIAL
    html = page.get_data(as_text=True)
    # The step-up page: only the missing factor, not the ID number and password again.
    assert page.status_code == 200
    assert f'action="/login/{uid}/step-up"' in html
    assert 'name="id_number"' not in html and 'name="password"' not in html
    assert f"/login/{uid}/passkey" not in html  # no passkey enrolled

    done = post_page(http, f"/login/{uid}/step-up", page, step="totp", code=next_code(secret))
    assert done.status_code == 303 and path_of(done.headers["Location"]).endswith("/resume")
    # The session id is renewed (cookie rotated) and the old id is remembered.
    new_cookie = sso_cookie(app, http)
    assert new_cookie and new_cookie != old_cookie
    after = sso(app, http)
    assert after.sid != before.sid and before.sid in after.previous_sids
    assert sessions.get_by_sid(current_store(), before.sid) is None

    claims = flow.id_token(flow.follow(done))
    assert claims["acr"] == SUBSTANTIAL
    assert claims["amr"] == ["pwd", "otp", "mfa"]  # the chain: earlier password + new code
    assert claims["auth_time"] >= started  # the time of the new proof
    assert claims["sid"] == after.sid


def test_recovery_code_also_completes_the_step_up(
    app: Any, http: Any, citizen: Any, portal: Any, login: Any
) -> None:
    from idp.authn.methods import totp

    enrol_totp(citizen)
    codes = totp.new_recovery_codes(citizen_id=citizen.id)
    login(amr=("pwd",))
    flow = Flow(http, portal, acr_values=SUBSTANTIAL)
    uid, _, page = flow.page()
    done = post_page(http, f"/login/{uid}/step-up", page, step="recovery", code=codes[0])
    claims = flow.id_token(flow.follow(done))
    assert claims["acr"] == SUBSTANTIAL and claims["amr"] == ["pwd", "otp", "mfa"]


def test_a_wrong_code_shows_the_step_up_page_again(
    app: Any, http: Any, citizen: Any, portal: Any, login: Any
) -> None:
    enrol_totp(citizen)
    login(amr=("pwd",))
    flow = Flow(http, portal, acr_values=SUBSTANTIAL)
    uid, _, page = flow.page()
    cookie = sso_cookie(app, http)
    wrong = post_page(http, f"/login/{uid}/step-up", page, step="totp", code="000000")
    assert wrong.status_code == 401
    assert f'action="/login/{uid}/step-up"' in wrong.get_data(as_text=True)
    assert sso_cookie(app, http) == cookie and sso(app, http).acr == Acr.LOW


def test_other_portals_keep_their_tokens_and_sessions_after_a_step_up(
    app: Any, http: Any, citizen: Any, portal: Any, login: Any
) -> None:
    secret = enrol_totp(citizen)
    login(amr=("pwd",))
    other = register(name="Housing", redirect_uris=["https://housing.example.gov/cb"])
    grant_consent(citizen, other)
    tokens = sign_in(http, other)
    flow = Flow(http, portal, acr_values=SUBSTANTIAL)
    uid, _, page = flow.page()
    done = post_page(http, f"/login/{uid}/step-up", page, step="totp", code=next_code(secret))
    flow.id_token(flow.follow(done))
    # The other portal's access token still works, and the session still lists it.
    assert http.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 200
    assert other.client_id in sso(app, http).clients


def test_logout_with_an_id_token_from_before_the_step_up_ends_the_session(
    app: Any, http: Any, citizen: Any, portal: Any, login: Any
) -> None:
    secret = enrol_totp(citizen)
    login(amr=("pwd",))
    first = sign_in(http, portal)
    flow = Flow(http, portal, acr_values=SUBSTANTIAL)
    uid, _, page = flow.page()
    done = post_page(http, f"/login/{uid}/step-up", page, step="totp", code=next_code(secret))
    flow.id_token(flow.follow(done))
    stepped = sso(app, http)
    # RP-initiated logout with the old ID token: no confirmation page, the session ends.
    response = http.get(
        "/logout",
        query_string={
            "id_token_hint": first["id_token"],
            "post_logout_redirect_uri": "https://tax.example.gov/bye",
            "state": "s1",
        },
    )
    assert response.status_code == 302, response.data[:300]
    assert response.headers["Location"].startswith("https://tax.example.gov/bye")
    assert sessions.get_by_sid(current_store(), stepped.sid) is None


def test_cancelling_the_step_up_is_access_denied_with_a_description(
    app: Any, http: Any, citizen: Any, portal: Any, login: Any
) -> None:
    enrol_totp(citizen)
    login(amr=("pwd",))
    flow = Flow(http, portal, acr_values=SUBSTANTIAL)
    uid, _, page = flow.page()
    cancelled = post_page(http, f"/interaction/{uid}/abort", page)
    params = flow.redirected(cancelled)
    assert params["error"] == "access_denied"
    assert "step-up" in params["error_description"]
    assert params["state"] == "state-123" and params["iss"] == ISSUER
    assert "code" not in params
    # The citizen stays signed in at the level they had.
    assert sso(app, http).acr == Acr.LOW


def test_nothing_enrolled_reaches_the_level_is_unmet_on_the_redirect_uri(
    app: Any, http: Any, citizen: Any, portal: Any, login: Any
) -> None:
    login(amr=("pwd",))
    flow = Flow(http, portal, acr_values=SUBSTANTIAL)
    params = flow.redirected(flow.response)
    assert params["error"] == UNMET
    assert params["state"] == "state-123" and params["iss"] == ISSUER
    assert "code" not in params


def test_totp_cannot_reach_high_so_a_high_request_is_unmet(
    app: Any, http: Any, citizen: Any, portal: Any, login: Any
) -> None:
    enrol_totp(citizen)
    login(amr=("pwd",))
    flow = Flow(http, portal, acr_values=HIGH)
    params = flow.redirected(flow.response)
    assert params["error"] == UNMET and params["iss"] == ISSUER


def test_a_high_session_is_used_as_it_is(
    app: Any, http: Any, citizen: Any, portal: Any, login: Any
) -> None:
    planted = login(amr=("hwk", "mfa"), acr=HIGH)
    flow = Flow(http, portal, acr_values=HIGH)
    claims = flow.id_token(flow.redirected(flow.response))
    assert claims["acr"] == HIGH and claims["amr"] == ["hwk", "mfa"]
    assert claims["auth_time"] == planted.auth_time


def test_a_lower_request_gets_the_level_actually_reached(
    app: Any, http: Any, citizen: Any, portal: Any, login: Any
) -> None:
    """The ID token's acr is the level reached (higher levels satisfy lower ones)."""
    login(amr=("hwk", "mfa"), acr=HIGH)
    flow = Flow(http, portal, acr_values=SUBSTANTIAL)
    assert flow.id_token(flow.redirected(flow.response))["acr"] == HIGH


def test_step_up_to_high_with_a_passkey_through_the_portal_flow(
    app: Any, http: Any, citizen: Any, portal: Any, login: Any
) -> None:
    """acr_values=high on a password session: the step-up page offers the passkey (and
    not the TOTP, which cannot reach high); the passkey ceremony finishes the flow."""
    from test_webauthn import ORIGIN
    from test_webauthn import begin_sign_in
    from test_webauthn import finish_sign_in

    enrol_totp(citizen)
    key = _passkey_enrolled(http, login)
    login(amr=("pwd",), auth_time=datetime.now(UTC) - timedelta(minutes=1))
    flow = Flow(http, portal, acr_values=HIGH)
    uid, _, page = flow.page()
    html = page.get_data(as_text=True)
    assert f"/login/{uid}/passkey" in html
    assert 'name="code"' not in html  # TOTP does not reach high
    uid, token, options = begin_sign_in(http, uid)
    assert options["userVerification"] == "required"
    done = finish_sign_in(http, uid, token, key.get(options, origin=ORIGIN))
    claims = flow.id_token(flow.follow(done))
    assert claims["acr"] == HIGH
    assert {"hwk", "mfa"} <= set(claims["amr"])


def _passkey_enrolled(http: Any, login: Any) -> Any:
    from soft_authenticator import SoftAuthenticator
    from test_webauthn import register as register_passkey

    login()
    key = SoftAuthenticator()
    assert register_passkey(http, key).status_code == 303
    http.delete_cookie("idp_sid", domain="localhost")
    return key


def test_without_a_session_the_sign_in_continues_as_a_step_up(
    app: Any, http: Any, citizen: Any, portal: Any, login: Any
) -> None:
    """No session, acr_values=high: password and TOTP give substantial, then the same
    request continues in a new step-up interaction that offers only the passkey."""
    from conftest import CITIZEN_ID_NUMBER
    from conftest import CITIZEN_PASSWORD
    from test_webauthn import ORIGIN
    from test_webauthn import begin_sign_in
    from test_webauthn import finish_sign_in

    secret = enrol_totp(citizen)
    key = _passkey_enrolled(http, login)
    flow = Flow(http, portal, acr_values=HIGH)
    uid, path, page = flow.page()
    html = page.get_data(as_text=True)
    assert 'name="id_number"' in html
    assert "higher level of assurance" in html or "更高" in html
    password = post_page(http, path, page, id_number=CITIZEN_ID_NUMBER, password=CITIZEN_PASSWORD)
    code_path = path_of(password.headers["Location"])
    done = post_page(http, code_path, http.get(code_path), step="totp", code=next_code(secret))
    assert sso(app, http).acr == Acr.SUBSTANTIAL
    resumed = http.get(path_of(done.headers["Location"]))
    assert resumed.status_code == 303
    step_uid = path_of(resumed.headers["Location"]).split("/")[2]
    assert step_uid != uid
    stored = current_store().get("interaction", step_uid)
    assert stored["reasons"] == [Reason.ACR_TOO_LOW] and stored["required_acr"] == HIGH
    to_login = http.get(path_of(resumed.headers["Location"]))
    shown = http.get(path_of(to_login.headers["Location"]))
    html = shown.get_data(as_text=True)
    assert f"/login/{step_uid}/passkey" in html and 'name="code"' not in html
    step_uid, token, options = begin_sign_in(http, step_uid)
    passkey_done = finish_sign_in(http, step_uid, token, key.get(options, origin=ORIGIN))
    claims = flow.id_token(flow.follow(passkey_done))
    assert claims["acr"] == HIGH and {"hwk", "mfa"} <= set(claims["amr"])


def test_without_a_session_an_unreachable_level_is_unmet_after_the_sign_in(
    app: Any, http: Any, citizen: Any, portal: Any
) -> None:
    from conftest import CITIZEN_ID_NUMBER
    from conftest import CITIZEN_PASSWORD

    flow = Flow(http, portal, acr_values=SUBSTANTIAL)
    _, path, page = flow.page()
    done = post_page(http, path, page, id_number=CITIZEN_ID_NUMBER, password=CITIZEN_PASSWORD)
    params = flow.follow(done)
    assert params["error"] == UNMET
    assert params["state"] == "state-123" and params["iss"] == ISSUER
    assert "code" not in params


# --- reauthentication for our own pages --------------------------------------------------------


def _reauth(app: Any, http: Any, **kwargs: Any) -> str:
    """What an account page does: park a reauth interaction for this browser."""
    from idp.authn.service import require_reauthentication

    http.get("/login")  # a browser id in the UI cookie
    with http.session_transaction() as ui:
        browser = ui["browser"]
    parked = require_reauthentication(browser=browser, return_to="/account/passkeys", **kwargs)
    return parked.uid


def test_reauthentication_demands_a_fresh_sign_in_even_with_a_live_session(
    app: Any, http: Any, citizen: Any, login: Any
) -> None:
    from conftest import CITIZEN_ID_NUMBER
    from conftest import CITIZEN_PASSWORD

    from idp.authn.service import fresh_enough

    login(amr=("pwd",), auth_time=datetime.now(UTC) - timedelta(minutes=30))
    assert not fresh_enough(sso(app, http), within=300, acr=None)
    uid = _reauth(app, http)
    stored = current_store().get("interaction", uid)
    assert stored["reasons"] == [Reason.REAUTH] and stored["fresh_after"] >= time.time() - 5
    shown = http.get(f"/interaction/{uid}")
    page = http.get(path_of(shown.headers["Location"]))
    html = page.get_data(as_text=True)
    assert 'name="id_number"' in html  # a full sign-in, not a step-up on the old one
    done = post_page(
        http, f"/login/{uid}", page, id_number=CITIZEN_ID_NUMBER, password=CITIZEN_PASSWORD
    )
    back = http.get(path_of(done.headers["Location"]))
    assert back.status_code == 303 and path_of(back.headers["Location"]) == "/account/passkeys"
    assert fresh_enough(sso(app, http), within=300, acr=None)


def test_reauthentication_at_a_level_continues_as_a_step_up(
    app: Any, http: Any, citizen: Any, login: Any
) -> None:
    """A fresh sign-in with the password gives low; the page asked for substantial, so
    the TOTP is asked next (the code page of the sign-in itself: TOTP is always asked
    once enrolled), and the citizen comes back fresh at substantial."""
    from conftest import CITIZEN_ID_NUMBER
    from conftest import CITIZEN_PASSWORD

    from idp.authn.service import fresh_enough

    secret = enrol_totp(citizen)
    login(amr=("pwd", "otp"), auth_time=datetime.now(UTC) - timedelta(minutes=30))
    uid = _reauth(app, http, required_acr=Acr.SUBSTANTIAL)
    page = http.get(f"/login/{uid}")
    password = post_page(
        http, f"/login/{uid}", page, id_number=CITIZEN_ID_NUMBER, password=CITIZEN_PASSWORD
    )
    code_path = path_of(password.headers["Location"])
    done = post_page(http, code_path, http.get(code_path), step="totp", code=next_code(secret))
    back = http.get(path_of(done.headers["Location"]))
    assert path_of(back.headers["Location"]) == "/account/passkeys"
    assert fresh_enough(sso(app, http), within=60, acr=Acr.SUBSTANTIAL)


def test_reauthentication_at_an_unreachable_level_returns_to_the_page(
    app: Any, http: Any, citizen: Any, login: Any
) -> None:
    from conftest import CITIZEN_ID_NUMBER
    from conftest import CITIZEN_PASSWORD

    from idp.authn.service import fresh_enough

    login(amr=("pwd",))
    uid = _reauth(app, http, required_acr=Acr.HIGH)
    page = http.get(f"/login/{uid}")
    done = post_page(
        http, f"/login/{uid}", page, id_number=CITIZEN_ID_NUMBER, password=CITIZEN_PASSWORD
    )
    back = http.get(path_of(done.headers["Location"]))
    assert path_of(back.headers["Location"]) == "/account/passkeys"
    # The page sees it is still not fresh enough at high and says so itself.
    assert not fresh_enough(sso(app, http), within=60, acr=Acr.HIGH)


def test_a_level_that_lapses_on_the_consent_page_is_never_issued_lower(
    app: Any, http: Any, citizen: Any, rp: Any, login: Any
) -> None:
    from assurance_helpers import age_level

    session = login(amr=("pwd", "otp"))
    flow = Flow(http, rp, acr_values=SUBSTANTIAL)
    uid = flow.parked()
    page = http.get(f"/interaction/{uid}/resume")
    assert page.status_code == 200  # the consent page
    age_level(app, session, SUBSTANTIAL, used=2 * 3600)
    answered = post_page(http, f"/interaction/{uid}/consent", page, decision="approve")
    params = flow.redirected(answered)
    assert params["error"] == "login_required" and "code" not in params


def test_step_up_form_needs_its_csrf_token_and_a_session(
    app: Any, http: Any, citizen: Any, portal: Any, login: Any
) -> None:
    secret = enrol_totp(citizen)
    login(amr=("pwd",))
    flow = Flow(http, portal, acr_values=SUBSTANTIAL)
    uid, _, page = flow.page()
    refused = http.post(f"/login/{uid}/step-up", data={"step": "totp", "code": next_code(secret)})
    assert refused.status_code == 400
    assert f'action="/login/{uid}/step-up"' in refused.get_data(as_text=True)  # shown again
    assert sso(app, http).acr == Acr.LOW
    # Signed out in another tab: nothing to step up from, the full sign-in form instead.
    http.delete_cookie(app.config["IDP_SESSION_COOKIE"], domain="localhost")
    gone = post_page(http, f"/login/{uid}/step-up", page, step="totp", code=next_code(secret))
    assert gone.status_code == 303 and path_of(gone.headers["Location"]) == f"/login/{uid}"
