"""In-process ephemeral store: the embedded default for one process (and a developer laptop).

It refuses to serve a second process: sessions kept in one process's memory would silently
split between workers. A lock file held for the life of the process catches a second
process started on the same instance; a pid check catches a forked worker.
"""

from __future__ import annotations

import copy
import fcntl
import json
import math
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .base import TOMBSTONE
from .base import TOMBSTONE_TTL


class SingleProcessViolation(RuntimeError):
    pass


# Locks held, by (pid, path): several apps in one process (tests) share one, and a forked
# child, which inherits this dict but not the right to the lock, does not.
_HELD_LOCKS: dict[tuple[int, str], object] = {}


class MemoryStore:
    def __init__(self, lock_path: str | None = None) -> None:
        self._data: dict[str, tuple[float, Any]] = {}
        self._mutex = threading.Lock()
        self._owner_pid = os.getpid()
        if lock_path is not None:
            self._hold_process_lock(Path(lock_path))

    def _hold_process_lock(self, path: Path) -> None:
        if (os.getpid(), str(path)) in _HELD_LOCKS:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "w")  # noqa: SIM115 - held open for the life of the process
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise SingleProcessViolation(
                "the in-process ephemeral store serves one process only, and another process "
                "already runs on this instance; set REDIS_URL to run several workers"
            ) from None
        _HELD_LOCKS[(os.getpid(), str(path))] = handle

    def _check_process(self) -> None:
        if os.getpid() != self._owner_pid:
            raise SingleProcessViolation(
                "the in-process ephemeral store was forked into a second process; "
                "set REDIS_URL to run several workers"
            )

    def _live(self, key: str) -> Any | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            del self._data[key]
            return None
        return entry[1]

    @staticmethod
    def _key(kind: str, id: str) -> str:
        return f"{kind}:{id}"

    def put(self, kind: str, id: str, value: dict[str, Any], ttl: int) -> None:
        self._check_process()
        with self._mutex:
            self._data[self._key(kind, id)] = (time.monotonic() + ttl, copy.deepcopy(value))

    def put_if_absent(self, kind: str, id: str, value: dict[str, Any], ttl: int) -> bool:
        self._check_process()
        with self._mutex:
            key = self._key(kind, id)
            if self._live(key) is not None:
                return False
            self._data[key] = (time.monotonic() + ttl, copy.deepcopy(value))
            return True

    def get(self, kind: str, id: str) -> dict[str, Any] | None:
        self._check_process()
        with self._mutex:
            value = self._live(self._key(kind, id))
            return copy.deepcopy(value) if isinstance(value, dict) else None

    def get_many(self, keys: Sequence[tuple[str, str]]) -> list[dict[str, Any] | None]:
        self._check_process()
        with self._mutex:
            values = [self._live(self._key(kind, id)) for kind, id in keys]
            return [copy.deepcopy(v) if isinstance(v, dict) else None for v in values]

    def consume(self, kind: str, id: str) -> dict[str, Any] | None:
        self._check_process()
        with self._mutex:
            key = self._key(kind, id)
            value = self._live(key)
            self._data.pop(key, None)
            return value if isinstance(value, dict) else None

    def take(
        self, kind: str, id: str, *, owner_field: str, owner: str, tombstone_kind: str
    ) -> tuple[str, dict[str, Any] | None]:
        self._check_process()
        with self._mutex:
            key = self._key(kind, id)
            value = self._live(key)
            if not isinstance(value, dict):
                tombstone = self._live(self._key(tombstone_kind, id))
                return "gone", copy.deepcopy(tombstone) if isinstance(tombstone, dict) else None
            if value.get(owner_field) != owner:
                return "other", None
            self._data[self._key(tombstone_kind, id)] = (
                time.monotonic() + int(value[TOMBSTONE_TTL]),
                json.loads(value[TOMBSTONE]),
            )
            del self._data[key]
            return "taken", copy.deepcopy(value)

    def delete(self, kind: str, id: str) -> None:
        self._check_process()
        with self._mutex:
            self._data.pop(self._key(kind, id), None)

    def incr(self, kind: str, id: str, ttl: int, amount: int = 1) -> int:
        self._check_process()
        with self._mutex:
            key = self._key(kind, id)
            current = self._live(key)
            if current is None:
                self._data[key] = (time.monotonic() + ttl, amount)
                return amount
            expires = self._data[key][0]
            self._data[key] = (expires, int(current) + amount)
            return int(current) + amount

    def ttl(self, kind: str, id: str) -> int:
        self._check_process()
        with self._mutex:
            key = self._key(kind, id)
            if self._live(key) is None:
                return 0
            return max(1, math.ceil(self._data[key][0] - time.monotonic()))

    def index_add(self, kind: str, id: str, member: str, ttl: int) -> None:
        self._check_process()
        with self._mutex:
            key = self._key(kind, id)
            members = self._live(key) or set()
            members = set(members) | {member}
            self._data[key] = (time.monotonic() + ttl, members)

    def index_remove(self, kind: str, id: str, member: str) -> None:
        self._check_process()
        with self._mutex:
            key = self._key(kind, id)
            members = self._live(key)
            if members:
                members.discard(member)

    def index_members(self, kind: str, id: str) -> set[str]:
        self._check_process()
        with self._mutex:
            return set(self._live(self._key(kind, id)) or set())

    def ping(self) -> bool:
        self._check_process()
        return True

    def clear(self) -> None:
        with self._mutex:
            self._data.clear()
