"""acr_values (OIDC Core 3.1.2.1), max_age and prompt=login per level, prompt=none with
a session below the level, and levels lapsing after their own lifetimes."""

from __future__ import annotations

import time
from typing import Any

import pytest
from assurance_helpers import UNMET
from assurance_helpers import Flow
from assurance_helpers import age_level
from assurance_helpers import enrol_totp
from assurance_helpers import next_code
from assurance_helpers import plant
from assurance_helpers import post_page
from oidc_helpers import ISSUER
from oidc_helpers import grant_consent
from webforms import prepare

from idp.authn.interaction import Reason
from idp.authn.result import Acr
from idp.store import current_store

LOW = Acr.LOW.value
SUBSTANTIAL = Acr.SUBSTANTIAL.value
HIGH = Acr.HIGH.value
HOUR = 3600


@pytest.fixture(autouse=True)
def _pages(app: Any) -> None:
    prepare(app)


@pytest.fixture
def portal(citizen: Any, rp: Any) -> Any:
    grant_consent(citizen, rp)
    return rp


def _stored(uid: str) -> dict[str, Any]:
    return dict(current_store().get("interaction", uid))


# --- which level a request asks for ---------------------------------------------------------


def test_no_acr_values_uses_the_session_as_it_stands(app, http, citizen, portal, login):
    login(amr=("pwd",))
    flow = Flow(http, portal)
    claims = flow.id_token(flow.redirected(flow.response))
    assert claims["acr"] == LOW and claims["amr"] == ["pwd"]


def test_a_session_at_the_level_gets_a_code_at_once(app, http, citizen, portal, login):
    login(amr=("pwd", "otp"))
    flow = Flow(http, portal, acr_values=SUBSTANTIAL)
    claims = flow.id_token(flow.redirected(flow.response))
    assert claims["acr"] == SUBSTANTIAL and claims["amr"] == ["pwd", "otp", "mfa"]


def test_the_first_reachable_value_in_order_of_preference_is_chosen(
    app, http, citizen, portal, login
):
    """``high substantial`` with only a TOTP to add: high cannot be reached, substantial
    can, so the step-up aims at substantial."""
    enrol_totp(citizen)
    login(amr=("pwd",))
    uid = Flow(http, portal, acr_values=f"{HIGH} {SUBSTANTIAL}").parked()
    assert _stored(uid)["required_acr"] == SUBSTANTIAL
    assert _stored(uid)["reasons"] == [Reason.ACR_TOO_LOW]


def test_a_session_at_a_later_value_is_accepted_when_the_first_cannot_be_reached(
    app, http, citizen, portal, login
):
    enrol_totp(citizen)
    login(amr=("pwd", "otp"))
    flow = Flow(http, portal, acr_values=f"{HIGH} {SUBSTANTIAL}")
    assert flow.id_token(flow.redirected(flow.response))["acr"] == SUBSTANTIAL


def test_values_we_do_not_define_are_ignored(app, http, citizen, portal, login):
    login(amr=("pwd",))
    flow = Flow(http, portal, acr_values="urn:other:loa:4 0")
    assert flow.id_token(flow.redirected(flow.response))["acr"] == LOW
    enrol_totp(citizen)
    uid = Flow(http, portal, acr_values=f"urn:other:loa:4 {SUBSTANTIAL}").parked()
    assert _stored(uid)["required_acr"] == SUBSTANTIAL


def test_acr_values_too_long_is_invalid_request(app, http, citizen, portal):
    flow = Flow(http, portal, acr_values="x" * 513)
    params = flow.redirected(flow.response)
    assert params["error"] == "invalid_request" and params["iss"] == ISSUER


# --- prompt=none ------------------------------------------------------------------------------


def test_prompt_none_with_a_session_below_the_level_is_login_required(
    app, http, citizen, portal, login
):
    """OIDC Core 3.1.2.6: login_required "MAY be returned when the prompt parameter value
    in the Authentication Request is none, but the Authentication Request cannot be
    completed without displaying a user interface for End-User authentication"."""
    enrol_totp(citizen)
    login(amr=("pwd",))
    flow = Flow(http, portal, acr_values=SUBSTANTIAL, prompt="none")
    params = flow.redirected(flow.response)
    assert params["error"] == "login_required"
    assert params["state"] == "state-123" and params["iss"] == ISSUER


def test_prompt_none_with_a_level_that_cannot_be_reached_is_unmet(
    app, http, citizen, portal, login
):
    """Unmet Authentication Requirements 1.0 section 2: "SHALL be used" when the OP is
    unable to meet the requirement, prompt=none or not."""
    login(amr=("pwd",))
    flow = Flow(http, portal, acr_values=SUBSTANTIAL, prompt="none")
    assert flow.redirected(flow.response)["error"] == UNMET


def test_prompt_none_with_a_session_at_the_level_issues_a_code(app, http, citizen, portal, login):
    login(amr=("pwd", "otp"))
    flow = Flow(http, portal, acr_values=SUBSTANTIAL, prompt="none")
    assert flow.id_token(flow.redirected(flow.response))["acr"] == SUBSTANTIAL


# --- max_age and prompt=login, per level -----------------------------------------------------


def test_max_age_applies_to_the_auth_time_of_the_level_asked_for(app, http, citizen, portal):
    """Substantial was reached two hours ago, the password again a minute ago."""
    enrol_totp(citizen)
    session = plant(app, http, citizen, (("pwd", "otp"), None, 2 * HOUR), (("pwd",), None, 60))
    # A low request within an hour: the recent password is enough, and the ID token
    # says what that sign-in was (substantial was not proved within max_age).
    flow = Flow(http, portal, max_age="3600")
    claims = flow.id_token(flow.redirected(flow.response))
    assert claims["acr"] == LOW and claims["amr"] == ["pwd"]
    assert claims["auth_time"] == session.auth_time
    # Substantial within three hours: the earlier proof counts.
    flow = Flow(http, portal, acr_values=SUBSTANTIAL, max_age=str(3 * HOUR))
    claims = flow.id_token(flow.redirected(flow.response))
    assert claims["acr"] == SUBSTANTIAL
    assert time.time() - claims["auth_time"] >= 2 * HOUR - 5


def test_max_age_too_old_for_the_level_steps_up_on_the_fresh_password(app, http, citizen, portal):
    secret = enrol_totp(citizen)
    plant(app, http, citizen, (("pwd", "otp"), None, 2 * HOUR), (("pwd",), None, 60))
    started = int(time.time())
    flow = Flow(http, portal, acr_values=SUBSTANTIAL, max_age="3600")
    uid, _, page = flow.page()
    assert set(_stored(uid)["reasons"]) == {Reason.MAX_AGE, Reason.ACR_TOO_LOW}
    # The password of a minute ago is within max_age: only the code is asked.
    html = page.get_data(as_text=True)
    assert f'action="/login/{uid}/step-up"' in html and 'name="id_number"' not in html
    done = post_page(http, f"/login/{uid}/step-up", page, step="totp", code=next_code(secret))
    claims = flow.id_token(flow.follow(done))
    assert claims["acr"] == SUBSTANTIAL and claims["auth_time"] >= started
    assert claims["amr"] == ["pwd", "otp", "mfa"]


def test_max_age_older_than_every_proof_asks_for_a_full_sign_in(app, http, citizen, portal):
    enrol_totp(citizen)
    plant(app, http, citizen, (("pwd",), None, 2 * HOUR))
    flow = Flow(http, portal, acr_values=SUBSTANTIAL, max_age="600")
    _, _, page = flow.page()
    html = page.get_data(as_text=True)
    assert 'name="id_number"' in html  # nothing recent to build on


def test_prompt_login_asks_for_a_fresh_proof_of_the_level(app, http, citizen, portal, login):
    """prompt=login with a substantial session: a new sign-in (password and code), not
    a step-up on the earlier password; the ID token's auth_time is the new one."""
    from conftest import CITIZEN_ID_NUMBER
    from conftest import CITIZEN_PASSWORD
    from webforms import path_of

    secret = enrol_totp(citizen)
    plant(app, http, citizen, (("pwd", "otp"), None, 600))
    started = int(time.time())
    flow = Flow(http, portal, acr_values=SUBSTANTIAL, prompt="login")
    uid, path, page = flow.page()
    assert _stored(uid)["fresh_after"] >= started
    assert 'name="id_number"' in page.get_data(as_text=True)
    password = post_page(http, path, page, id_number=CITIZEN_ID_NUMBER, password=CITIZEN_PASSWORD)
    code_path = path_of(password.headers["Location"])
    done = post_page(http, code_path, http.get(code_path), step="totp", code=next_code(secret))
    claims = flow.id_token(flow.follow(done))
    assert claims["acr"] == SUBSTANTIAL and claims["auth_time"] >= started


def test_prompt_login_reports_only_what_was_proved_in_this_sign_in(app, http, citizen, portal):
    """A high session, then prompt=login answered with a password: the ID token says
    low at the new time, not high at the old one."""
    from conftest import CITIZEN_ID_NUMBER
    from conftest import CITIZEN_PASSWORD

    plant(app, http, citizen, (("hwk", "mfa"), HIGH, 300))
    started = int(time.time())
    flow = Flow(http, portal, prompt="login")
    _, path, page = flow.page()
    done = post_page(http, path, page, id_number=CITIZEN_ID_NUMBER, password=CITIZEN_PASSWORD)
    claims = flow.id_token(flow.follow(done))
    assert claims["acr"] == LOW and claims["amr"] == ["pwd"]
    assert claims["auth_time"] >= started


# --- levels lapse -----------------------------------------------------------------------------


def test_high_lapses_after_its_idle_time(app, http, citizen, portal):
    session = plant(app, http, citizen, (("hwk", "mfa"), HIGH, 60))
    age_level(app, session, HIGH, used=15 * 60)
    # Without a passkey to step up with, high cannot be had again.
    flow = Flow(http, portal, acr_values=HIGH)
    assert flow.redirected(flow.response)["error"] == UNMET
    # The session still stands at substantial (same proof, its own lifetimes).
    flow = Flow(http, portal)
    claims = flow.id_token(flow.redirected(flow.response))
    assert claims["acr"] == SUBSTANTIAL and claims["amr"] == ["hwk", "mfa"]


def test_relying_on_a_level_keeps_it_alive(app, http, citizen, portal):
    session = plant(app, http, citizen, (("hwk", "mfa"), HIGH, 60))
    age_level(app, session, HIGH, used=14 * 60)
    flow = Flow(http, portal, acr_values=HIGH)
    assert flow.id_token(flow.redirected(flow.response))["acr"] == HIGH
    # Used just now: another ten minutes later it is still there.
    age_level(app, session, HIGH, used=10 * 60)
    flow = Flow(http, portal, acr_values=HIGH)
    assert flow.id_token(flow.redirected(flow.response))["acr"] == HIGH


def test_high_lapses_after_its_absolute_time(app, http, citizen, portal):
    app.config["IDP_ACR_HIGH_MAX_AGE"] = 30
    plant(app, http, citizen, (("hwk", "mfa"), HIGH, 31))
    flow = Flow(http, portal, acr_values=HIGH)
    assert flow.redirected(flow.response)["error"] == UNMET


def test_substantial_lapses_and_the_citizen_steps_up_again(app, http, citizen, portal):
    app.config.update(IDP_ACR_SUBSTANTIAL_IDLE=60)
    enrol_totp(citizen)
    session = plant(app, http, citizen, (("pwd", "otp"), None, 120))
    age_level(app, session, SUBSTANTIAL, used=61)
    uid = Flow(http, portal, acr_values=SUBSTANTIAL).parked()
    assert _stored(uid)["reasons"] == [Reason.ACR_TOO_LOW]
    # Low is what is left; a low request is served from it.
    flow = Flow(http, portal)
    assert flow.id_token(flow.redirected(flow.response))["acr"] == LOW
