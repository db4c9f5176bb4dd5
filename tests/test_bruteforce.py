"""Brute-force defence: growing delays, a temporary lock, per-IP limits, reset on success,
and counters shared by every process through the ephemeral store."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from conftest import CITIZEN_ID_NUMBER
from conftest import CITIZEN_PASSWORD
from conftest import make_app
from webforms import prepare
from webforms import resident
from webforms import sign_in

from idp.authn import ratelimit
from idp.errors import TooManyAttempts
from idp.store.memory_store import MemoryStore

LIMITS = {
    "IDP_LOGIN_FREE_ATTEMPTS": 2,
    "IDP_LOGIN_LOCK_AFTER": 4,
    "IDP_LOGIN_LOCK_SECONDS": 2,
    "IDP_LOGIN_IP_LOCK_AFTER": 6,
}
WRONG = "definitely not it"


@pytest.fixture
def app_config() -> dict[str, Any]:
    return dict(LIMITS)


@pytest.fixture(autouse=True)
def _pages(app: Any) -> None:
    prepare(app)


def _when_allowed(http: Any, number: str, password: str) -> Any:
    """Sign in, waiting out refusals (a refused attempt does not count)."""
    deadline = time.monotonic() + 10
    while True:
        response = sign_in(http, number, password)
        if response.status_code != 429 or time.monotonic() > deadline:
            return response
        time.sleep(0.25)


def _refused_for(response: Any) -> int:
    assert response.status_code == 429
    return int(response.headers["Retry-After"])


# --- the policy itself, on the memory store ---------------------------------------------------


POLICY = ratelimit.Policy(free_attempts=2, lock_after=5, lock_seconds=60, ip_lock_after=100)


def test_delays_grow_after_the_free_attempts() -> None:
    assert [POLICY.delay_after(n) for n in range(1, 5)] == [0, 0, 2, 4]


def test_failures_lead_to_waits_then_a_lock() -> None:
    limiter = ratelimit.Throttle(MemoryStore(), POLICY, scope="login")
    waits = []
    for _ in range(5):
        store_wait = limiter.failed(limiter.begin(subject="s", ip=None))
        waits.append(store_wait)
        limiter._store.delete("rl-wait", "login:sub:s")  # type: ignore[attr-defined]
    assert waits == [0, 0, 2, 4, 60]
    with pytest.raises(TooManyAttempts) as refused:
        limiter.begin(subject="s", ip=None)
    assert 55 <= refused.value.resets_in <= 60


def test_after_a_lock_one_more_failure_locks_again() -> None:
    store = MemoryStore()
    limiter = ratelimit.Throttle(store, POLICY, scope="login")
    for _ in range(5):
        limiter.failed(limiter.begin(subject="s", ip=None))
        store.delete("rl-wait", "login:sub:s")
    store.delete("rl-lock", "login:sub:s")  # the lock ran out
    assert limiter.failed(limiter.begin(subject="s", ip=None)) == 60


def test_attempts_in_flight_are_capped_before_any_password_check() -> None:
    """Attempts count up front, so a parallel burst cannot outrun the lock."""
    limiter = ratelimit.Throttle(MemoryStore(), POLICY, scope="login")
    started = [limiter.begin(subject="s", ip=None) for _ in range(5)]
    assert [a.count for a in started] == [1, 2, 3, 4, 5]
    with pytest.raises(TooManyAttempts):
        limiter.begin(subject="s", ip=None)


def test_keys_hold_no_clear_address() -> None:
    store = MemoryStore()
    limiter = ratelimit.Throttle(store, POLICY, scope="login")
    limiter.failed(limiter.begin(subject="s", ip="203.0.113.9"))
    assert not any("203.0.113.9" in key for key in store._data)


# --- through the sign-in page -----------------------------------------------------------------


def test_delay_refuses_even_the_right_password_then_lets_it_through(
    http: Any, citizen: Any
) -> None:
    for _ in range(2):
        assert sign_in(http, CITIZEN_ID_NUMBER, WRONG).status_code == 401
    assert sign_in(http, CITIZEN_ID_NUMBER, WRONG).status_code == 401  # third: 2 s wait set
    refused = sign_in(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD)
    assert 1 <= _refused_for(refused) <= 2
    page = refused.get_data(as_text=True)
    assert re.search(r"(Try again in \d+ seconds|请在 ?\d+ ?秒后重试)", page)
    assert f'value="{CITIZEN_ID_NUMBER}"' in page  # input kept
    assert _when_allowed(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD).status_code == 303


def test_lock_after_repeated_failures_then_it_expires(http: Any, citizen: Any) -> None:
    for _ in range(4):
        assert _when_allowed(http, CITIZEN_ID_NUMBER, WRONG).status_code == 401
    assert _refused_for(sign_in(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD)) <= 2
    assert _when_allowed(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD).status_code == 303


def test_unknown_numbers_are_limited_exactly_like_known_ones(http: Any, citizen: Any) -> None:
    unknown = resident("44030619900101123")
    answers = {}
    for number in (CITIZEN_ID_NUMBER, unknown):
        answers[number] = [sign_in(http, number, WRONG).status_code for _ in range(4)]
    assert answers[CITIZEN_ID_NUMBER] == answers[unknown] == [401, 401, 401, 429]


def test_success_resets_the_number_counter(http: Any, citizen: Any) -> None:
    for _ in range(2):
        assert sign_in(http, CITIZEN_ID_NUMBER, WRONG).status_code == 401
    assert sign_in(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD).status_code == 303
    # Two free failures again, no delay.
    for _ in range(2):
        assert sign_in(http, CITIZEN_ID_NUMBER, WRONG).status_code == 401
    assert sign_in(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD).status_code == 303


def test_one_address_guessing_many_numbers_is_locked(app: Any, citizen: Any) -> None:
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    for i in range(6):
        response = sign_in(attacker, resident(f"44030619900101{i:03d}"), WRONG)
        assert response.status_code == 401
    assert sign_in(attacker, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD).status_code == 429
    # Another address is not affected.
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.1"
    assert sign_in(other, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD).status_code == 303


def _locks() -> list[Any]:
    from idp import audit

    found = audit.search(events=["login.failure"], limit=100)
    return [r for r in found if r.details.get("reason") == "rate_limit_lock"]


def test_each_lock_is_on_the_audit_trail_once(app: Any, http: Any, citizen: Any) -> None:
    """A lock is an auditable event; the refusals during it are not (a flood must not
    fill the trail), and the record names neither the number nor its holder."""
    for _ in range(3):
        assert _when_allowed(http, CITIZEN_ID_NUMBER, WRONG).status_code == 401
    assert _locks() == []  # delays are not locks
    assert _when_allowed(http, CITIZEN_ID_NUMBER, WRONG).status_code == 401  # the 4th: locked
    for _ in range(5):
        assert sign_in(http, CITIZEN_ID_NUMBER, WRONG).status_code == 429
    locks = _locks()
    assert len(locks) == 1
    record = locks[0]
    assert record.outcome == "failure" and record.actor_type == "anonymous"
    assert record.citizen_id is None
    assert record.details["locked"] == "subject" and record.details["method"] == "login"
    assert record.details["seconds"] > 0
    assert CITIZEN_ID_NUMBER not in str(record.as_dict())


def test_an_address_lock_is_on_the_audit_trail_once(app: Any, citizen: Any) -> None:
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "198.51.100.9"
    for i in range(6):
        assert sign_in(attacker, resident(f"44030619900102{i:03d}"), WRONG).status_code == 401
    for i in range(3):
        assert sign_in(attacker, resident(f"44030619900103{i:03d}"), WRONG).status_code == 429
    locks = [r for r in _locks() if r.details["locked"] == "ip"]
    assert len(locks) == 1
    assert locks[0].ip == "198.51.100.9"


def test_limits_are_shared_by_two_processes_on_redis(backend: Any, app: Any, citizen: Any) -> None:
    """Two app instances (two worker processes) see one set of counters in Redis."""
    if backend[0] != "postgres":
        pytest.skip("the embedded store serves one process by design")
    other_app = make_app(backend, **LIMITS)
    prepare(other_app)
    first, second = app.test_client(), other_app.test_client()
    for client in (first, second, first):
        assert sign_in(client, CITIZEN_ID_NUMBER, WRONG).status_code == 401
    with other_app.app_context():
        assert _refused_for(sign_in(second, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD)) >= 1


def test_one_address_has_one_budget_across_forms() -> None:
    store = MemoryStore()
    policy = ratelimit.Policy(free_attempts=5, lock_after=9, lock_seconds=60, ip_lock_after=4)
    login = ratelimit.Throttle(store, policy, scope="login")
    codes = ratelimit.Throttle(store, policy, scope="second-factor")
    for i in range(2):
        login.failed(login.begin(subject=f"n{i}", ip="198.51.100.7"))
        codes.failed(codes.begin(subject=f"c{i}", ip="198.51.100.7"))
    with pytest.raises(TooManyAttempts):
        login.begin(subject="another", ip="198.51.100.7")
