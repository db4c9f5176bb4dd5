"""argon2id runs in a bounded, low-priority pool per process (issue 7): a flood of
sign-ins cannot take every core and thread from the token endpoint."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest
from conftest import CITIZEN_ID_NUMBER
from conftest import CITIZEN_PASSWORD
from webforms import prepare
from webforms import sign_in

from idp.authn.methods import hashing_pool
from idp.authn.methods.hashing_pool import HashingBusy
from idp.authn.methods.hashing_pool import HashingPool


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"IDP_PASSWORD_HASH_CONCURRENCY": 2, "IDP_PASSWORD_HASH_WAIT": 0.2}


def test_no_more_hashes_run_at_once_than_configured(app: Any) -> None:
    assert hashing_pool.current_pool().concurrency == 2  # from the configuration
    pool = HashingPool(2, 5)
    running, peak, lock = [0], [0], threading.Lock()

    def work() -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1

    threads = [threading.Thread(target=lambda: pool.run(work)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak[0] == 2


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="POSIX priorities")
def test_hashes_run_at_a_lower_cpu_priority(app: Any) -> None:
    here = os.getpriority(os.PRIO_PROCESS, 0)
    lowered = HashingPool(1, 5, niceness=10).run(lambda: os.getpriority(os.PRIO_PROCESS, 0))
    assert lowered == min(19, here + 10)
    assert hashing_pool.current_pool().niceness == 0  # the default: the same priority
    same = hashing_pool.current_pool().run(lambda: os.getpriority(os.PRIO_PROCESS, 0))
    assert same == here


def test_a_sign_in_that_finds_no_slot_in_time_is_a_503_then_works(
    app: Any, http: Any, citizen: Any
) -> None:
    prepare(app)
    pool = hashing_pool.current_pool()
    held = [pool._slots.acquire(timeout=1) for _ in range(pool.concurrency)]
    assert all(held)
    try:
        busy = sign_in(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD)
    finally:
        for _ in held:
            pool._slots.release()
    assert busy.status_code == 503
    assert busy.headers["Retry-After"] == str(hashing_pool.RETRY_AFTER)
    assert "busy" in busy.get_data(as_text=True) or "繁忙" in busy.get_data(as_text=True)
    assert sign_in(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD).status_code == 303


def test_busy_is_not_a_wrong_password(app: Any) -> None:
    """HashingBusy says nothing about the password: it is raised before any hash."""
    pool = HashingPool(1, 0.01)
    assert pool._slots.acquire(timeout=1)
    with pytest.raises(HashingBusy):
        pool.run(lambda: True)


def test_a_full_queue_is_answered_busy_at_once(app: Any) -> None:
    """Beyond IDP_PASSWORD_HASH_QUEUE sign-ins per process, the next is refused without
    waiting: a waiting sign-in holds a request thread that token requests need."""
    pool = HashingPool(1, 5, niceness=0, queue=2)
    release = threading.Event()
    started = threading.Event()

    def slow() -> None:
        started.set()
        release.wait(5)

    hashing = threading.Thread(target=lambda: pool.run(slow))
    waiting = threading.Thread(target=lambda: pool.run(lambda: None))
    hashing.start()
    assert started.wait(5)
    waiting.start()
    time.sleep(0.1)  # the second one now waits for the slot
    try:
        began = time.monotonic()
        with pytest.raises(HashingBusy):
            pool.run(lambda: True)
        assert time.monotonic() - began < 1  # not after IDP_PASSWORD_HASH_WAIT (5 s)
    finally:
        release.set()
        hashing.join()
        waiting.join()
    assert pool.run(lambda: "free again") == "free again"


def test_the_queue_is_two_by_default_and_never_below_the_slots(app: Any) -> None:
    assert hashing_pool.current_pool().queue == 2  # below the 4 threads per worker
    assert HashingPool(1, 1, queue=0).queue == 0  # 0: no bound
    assert HashingPool(3, 1, queue=1).queue == 3


def test_busy_answers_do_not_count_as_attempts(app: Any, http: Any, citizen: Any) -> None:
    """A sign-in answered "busy" checked no password: more of them than the lock allows
    (IDP_LOGIN_LOCK_AFTER) or the password's own cap (IDP_AUTHENTICATOR_MAX_FAILURES)
    neither lock the account, nor disable the password, nor slow the next sign-in."""
    app.config["IDP_AUTHENTICATOR_MAX_FAILURES"] = 3
    prepare(app)
    pool = hashing_pool.current_pool()
    held = [pool._slots.acquire(timeout=1) for _ in range(pool.concurrency)]
    assert all(held)
    try:
        for _ in range(int(app.config["IDP_LOGIN_LOCK_AFTER"]) + 2):
            assert sign_in(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD).status_code == 503
    finally:
        for _ in held:
            pool._slots.release()
    assert sign_in(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD).status_code == 303
