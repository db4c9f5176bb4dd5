"""Per-authenticator failure limits (NIST SP 800-63B 5.2.2): growing delays well before
the cap, at most 100 consecutive failures then the authenticator is disabled durably,
a success forgives, an operator re-enables; wired into password and TOTP checks."""

from __future__ import annotations

import time
from typing import Any

import pytest
from conftest import CITIZEN_ID_NUMBER
from conftest import CITIZEN_PASSWORD
from webforms import path_of
from webforms import post_form
from webforms import prepare
from webforms import resident
from webforms import sign_in

from idp.authn import authenticator_limits as limits
from idp.authn.methods import totp
from idp.errors import AuthenticatorDisabled
from idp.errors import TooManyAttempts
from idp.extensions import db
from idp.models import AuthenticatorLockout

KEY = "totp:3f1c2d7e-0000-4000-8000-000000000001"


def _fail(times: int, key: str = KEY) -> None:
    """Record failures directly (the waits are the caller's to honour)."""
    for _ in range(times):
        limits.record_failure(authenticator=key)


def _clear_wait(store: Any, key: str = KEY) -> None:
    store.delete("al-wait", limits.authenticator_key(key))


# --- the policy --------------------------------------------------------------------------------


def test_delays_start_after_the_free_failures_and_double_up_to_an_hour() -> None:
    policy = limits.Policy(max_failures=100, free_failures=5, max_delay=3600, window=86400)
    delays = [policy.delay_after(n) for n in range(1, 14)]
    assert delays == [0, 0, 0, 0, 0, 30, 60, 120, 240, 480, 960, 1920, 3600]
    assert policy.delay_after(99) == 3600


def test_default_policy_is_nist_100(app: Any) -> None:
    policy = limits.policy_from_config(app.config)
    assert policy.max_failures == 100
    # "well before the cap": delays start long before the 100th failure.
    assert policy.delay_after(10) > 0


# --- the service ---------------------------------------------------------------------------------


def test_free_failures_cost_nothing_then_the_next_attempt_waits(app: Any) -> None:
    _fail(5)
    limits.before_attempt(authenticator=KEY)  # no wait yet
    limits.record_failure(authenticator=KEY)  # the 6th: 30 s
    with pytest.raises(TooManyAttempts) as refused:
        limits.before_attempt(authenticator=KEY)
    assert 25 <= refused.value.resets_in <= 30


def test_a_success_forgives_every_failure(app: Any, store: Any) -> None:
    _fail(7)
    _clear_wait(store)
    limits.before_attempt(authenticator=KEY)
    limits.record_success(authenticator=KEY)
    _fail(5)
    limits.before_attempt(authenticator=KEY)  # five free failures again


def test_the_100th_consecutive_failure_disables_durably(app: Any, store: Any) -> None:
    _fail(99)
    assert not limits.is_disabled(authenticator=KEY)
    _clear_wait(store)
    limits.before_attempt(authenticator=KEY)
    limits.record_failure(authenticator=KEY)
    assert limits.is_disabled(authenticator=KEY)
    row = db.session.get(AuthenticatorLockout, KEY)
    assert row is not None and row.failures == 100 and row.disabled_at is not None
    with pytest.raises(AuthenticatorDisabled) as refused:
        limits.before_attempt(authenticator=KEY)
    assert "service hall" in refused.value.public
    # The ephemeral store may be flushed (a Redis restart): the lock stays.
    store.clear()
    with pytest.raises(AuthenticatorDisabled):
        limits.before_attempt(authenticator=KEY)
    with pytest.raises(AuthenticatorDisabled):
        limits.check(authenticator=KEY)


def test_an_operator_reenables_it_with_a_fresh_budget(app: Any, store: Any) -> None:
    _fail(100)
    assert limits.reenable(authenticator=KEY) is True
    assert not limits.is_disabled(authenticator=KEY)
    _fail(5)
    limits.before_attempt(authenticator=KEY)
    assert limits.reenable(authenticator=KEY) is False  # nothing to re-enable


def test_a_burst_in_flight_cannot_exceed_the_cap(app: Any) -> None:
    """Attempts count up front: 100 unsettled attempts, then no more verification."""
    for _ in range(100):
        limits.before_attempt(authenticator=KEY)
    with pytest.raises(AuthenticatorDisabled):
        limits.before_attempt(authenticator=KEY)
    assert limits.is_disabled(authenticator=KEY)


def test_authenticators_are_independent(app: Any) -> None:
    _fail(100)
    limits.before_attempt(authenticator="password:3f1c2d7e-0000-4000-8000-000000000001")


def test_long_ids_are_hashed_and_keys_hold_no_secrets(app: Any, store: Any) -> None:
    credential_id = "A" * 700  # WebAuthn credential ids may be up to 1023 bytes
    key = f"webauthn:{credential_id}"
    _fail(100, key)
    assert limits.is_disabled(authenticator=key)
    stored = limits.authenticator_key(key)
    assert stored.startswith("webauthn:sha256:") and len(stored) < 100
    assert db.session.get(AuthenticatorLockout, stored) is not None
    with pytest.raises(ValueError):
        limits.authenticator_key("no-kind")


# --- wired into the website sign-in ----------------------------------------------------------


SMALL = {
    "IDP_AUTHENTICATOR_MAX_FAILURES": 4,
    "IDP_AUTHENTICATOR_FREE_FAILURES": 10,  # no delays: the cap alone is under test
    "IDP_LOGIN_LOCK_AFTER": 50,
    "IDP_LOGIN_FREE_ATTEMPTS": 50,
}


@pytest.fixture
def small_limits(app: Any) -> None:
    app.config.update(SMALL)
    prepare(app)


def test_password_is_disabled_after_the_cap_and_the_page_says_so(
    app: Any, http: Any, citizen: Any, small_limits: None
) -> None:
    for _ in range(4):
        assert sign_in(http, CITIZEN_ID_NUMBER, "wrong password").status_code == 401
    refused = sign_in(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD)
    assert refused.status_code == 403
    page = refused.get_data(as_text=True)
    assert "service hall" in page or "服务大厅" in page
    assert limits.is_disabled(authenticator=f"password:{citizen.id}")
    assert limits.reenable(authenticator=f"password:{citizen.id}")
    assert sign_in(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD).status_code == 303


def test_unknown_numbers_are_disabled_alike(
    app: Any, http: Any, citizen: Any, small_limits: None
) -> None:
    """The same answers, so the cap reveals nothing about who has an account."""
    unknown = resident("44030619900101123")
    answers = {}
    for number in (CITIZEN_ID_NUMBER, unknown):
        answers[number] = [sign_in(http, number, "wrong password").status_code for _ in range(5)]
    assert answers[CITIZEN_ID_NUMBER] == answers[unknown] == [401, 401, 401, 401, 403]


def test_totp_is_disabled_after_the_cap(
    app: Any, http: Any, citizen: Any, small_limits: None
) -> None:
    enrolment = totp.provision(citizen_id=citizen.id, account_name="x", issuer="idp")
    assert totp.confirm(
        citizen_id=citizen.id, code=totp.code_at(secret=enrolment.secret, when=time.time())
    )
    response = sign_in(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD)
    code_path = path_of(response.headers["Location"])
    html = http.get(code_path).get_data(as_text=True)
    statuses = [
        post_form(http, code_path, html, step="totp", code="000000").status_code for _ in range(5)
    ]
    # The fifth is refused before any code is checked, on the code form itself, which
    # still offers the recovery codes.
    assert statuses == [401, 401, 401, 401, 403]
    blocked = http.get(code_path)
    assert blocked.status_code == 200
    page = post_form(http, code_path, blocked.get_data(as_text=True), step="totp", code="000000")
    assert page.status_code == 403
    assert 'name="step" value="recovery"' in page.get_data(as_text=True)
    assert limits.is_disabled(authenticator=f"totp:{citizen.id}")
    # The recovery codes are an authenticator of their own.
    assert not limits.is_disabled(authenticator=f"recovery:{citizen.id}")
