"""Bounded, low-priority argon2id hashing: a sign-in flood cannot starve token requests.

argon2id is slow on purpose (about 0.2 CPU-seconds and 64 MiB per verification with the
RFC 9106 low-memory profile). Run on the request threads, a burst of sign-ins would take
every core and every thread of the process, and each token, introspection or UserInfo
request would wait behind the hashes (issue 7 measured the token endpoint's p99 at
6 s beside a sign-in flood).

So hashes run in one small thread pool per process:

- at most ``IDP_PASSWORD_HASH_CONCURRENCY`` at once (default 1; memory is bounded too:
  that many times 64 MiB);
- its threads may run at a lower CPU priority (``nice`` + ``IDP_PASSWORD_HASH_NICENESS``;
  Linux applies it per thread, and argon2's lane threads inherit it), so when the CPU
  is short the scheduler serves protocol requests first and hashing takes what is
  left. Default 0 (the same priority), by measurement (bench/RESULTS.md sections 2.1
  and 3b): on a host shared with other busy work, +10 starved the sign-ins (every other
  process outranks them) and did not lower the token endpoint's p99;
- a caller waits at most ``IDP_PASSWORD_HASH_WAIT`` seconds for a slot, then gets
  ``HashingBusy`` (the sign-in page answers 503 with Retry-After);
- at most ``IDP_PASSWORD_HASH_QUEUE`` sign-ins per process hash or wait at once (2 by
  default; 0 = no bound); the next one gets ``HashingBusy`` at once. A waiting sign-in
  holds a request thread, so a flood can park every thread of a worker behind the
  hashes; with the queue below the threads per worker (``IDP_THREADS``) some always
  serve token requests. In a sign-in flood the bound took the token endpoint's p99 from
  1.6 s to 0.25-0.35 s (bench/RESULTS.md section 5); the price is that a burst of
  parallel sign-ins meets "busy" pages sooner (the benchmark's set-up retries them).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from flask import current_app
from flask import has_app_context

from ...errors import TooManyAttempts

HASH_NICENESS = 0
HASH_QUEUE = 2  # sign-ins hashing or waiting per process (0: no bound but the wait)
RETRY_AFTER = 2
T = TypeVar("T")


class HashingBusy(TooManyAttempts):
    """Every hashing slot stayed busy for the whole wait: try again in a moment."""

    public = "The service is busy. Please try again in a moment."

    def __init__(self) -> None:
        super().__init__(resets_in=RETRY_AFTER)
        self.public = HashingBusy.public


def _lower_priority(niceness: int) -> None:
    if niceness <= 0:
        return
    try:
        # On Linux, setpriority(PRIO_PROCESS, 0) changes the calling thread only.
        os.setpriority(os.PRIO_PROCESS, 0, os.getpriority(os.PRIO_PROCESS, 0) + niceness)
    except (AttributeError, OSError):  # not Linux, or not permitted: bounded all the same
        pass


class HashingPool:
    def __init__(
        self,
        concurrency: int,
        wait: float,
        niceness: int = HASH_NICENESS,
        queue: int | None = None,
    ) -> None:
        self.concurrency = max(1, int(concurrency))
        self.wait = float(wait)
        self.niceness = int(niceness)
        # Callers hashing or waiting at once (0: no bound); never fewer than can hash.
        wanted = int(queue if queue is not None else HASH_QUEUE)
        self.queue = max(self.concurrency, wanted) if wanted > 0 else 0
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._admitted = threading.BoundedSemaphore(self.queue) if self.queue else None

    def _pool(self) -> ThreadPoolExecutor:
        # Created lazily and again after a fork: threads never survive a fork.
        with self._lock:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._slots = threading.BoundedSemaphore(self.concurrency)
                self._admitted = threading.BoundedSemaphore(self.queue) if self.queue else None
                self._executor = None
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.concurrency,
                    thread_name_prefix="argon2",
                    initializer=_lower_priority,
                    initargs=(self.niceness,),
                )
            return self._executor

    def run(self, fn: Callable[[], T]) -> T:
        pool = self._pool()
        admitted = self._admitted
        if admitted is not None and not admitted.acquire(blocking=False):
            raise HashingBusy()  # the queue is full: answer now, keep the thread free
        try:
            if not self._slots.acquire(timeout=self.wait):
                raise HashingBusy()
            try:
                # A slot is held, so the pool (as many threads as slots) starts it at once.
                return pool.submit(fn).result()
            finally:
                self._slots.release()
        finally:
            if admitted is not None:
                admitted.release()


_FALLBACK = HashingPool(1, 10)
EXTENSION_KEY = "idp.hashing_pool"


def current_pool() -> HashingPool:
    """The application's pool (sized from its configuration); outside an application
    (scripts), one of a single slot."""
    if not has_app_context():
        return _FALLBACK
    pool: HashingPool | None = current_app.extensions.get(EXTENSION_KEY)
    if pool is None:
        cfg = current_app.config
        pool = current_app.extensions.setdefault(
            EXTENSION_KEY,
            HashingPool(
                int(cfg.get("IDP_PASSWORD_HASH_CONCURRENCY", 1)),
                float(cfg.get("IDP_PASSWORD_HASH_WAIT", 10)),
                int(cfg.get("IDP_PASSWORD_HASH_NICENESS", HASH_NICENESS)),
                int(cfg.get("IDP_PASSWORD_HASH_QUEUE", HASH_QUEUE)),
            ),
        )
    return pool


def bounded(fn: Callable[[], T]) -> T:
    """Run one argon2 computation in the process's bounded, low-priority pool."""
    return current_pool().run(fn)
