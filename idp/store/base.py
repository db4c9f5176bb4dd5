"""The ephemeral store: everything that may expire (sessions, codes, counters, replay caches).

Every write carries a TTL. Keys are ``<prefix><kind>:<id>``; callers pass ``kind`` and ``id``
and never build raw keys, so the Redis and memory implementations stay interchangeable.
Values are JSON objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from typing import Protocol

# The members of a value given to ``take`` that say what to leave behind.
TOMBSTONE = "_tombstone"
TOMBSTONE_TTL = "_tombstone_ttl"


class EphemeralStore(Protocol):
    def put(self, kind: str, id: str, value: dict[str, Any], ttl: int) -> None:
        """Store ``value`` for ``ttl`` seconds, replacing any previous value."""

    def put_if_absent(self, kind: str, id: str, value: dict[str, Any], ttl: int) -> bool:
        """Store only if nothing is there; True if stored. Replay caches use this."""

    def get(self, kind: str, id: str) -> dict[str, Any] | None: ...

    def get_many(self, keys: Sequence[tuple[str, str]]) -> list[dict[str, Any] | None]:
        """``get`` of each ``(kind, id)`` in one round trip (Redis ``MGET``), in order."""

    def consume(self, kind: str, id: str) -> dict[str, Any] | None:
        """Atomically read and delete: of two concurrent callers only one gets the value."""

    def take(
        self, kind: str, id: str, *, owner_field: str, owner: str, tombstone_kind: str
    ) -> tuple[str, dict[str, Any] | None]:
        """Consume a single-use value for its owner, leaving a tombstone, atomically (one
        round trip). The value carries its tombstone: ``TOMBSTONE`` (a JSON object,
        serialised) and ``TOMBSTONE_TTL`` (seconds). Returns

        - ``("taken", value)``: ``value[owner_field] == owner``; the value is gone and its
          tombstone stored under ``(tombstone_kind, id)``;
        - ``("other", None)``: another owner's value, left where it is;
        - ``("gone", tombstone or None)``: no value (used, expired or never issued)."""

    def delete(self, kind: str, id: str) -> None: ...

    def incr(self, kind: str, id: str, ttl: int, amount: int = 1) -> int:
        """Add ``amount`` (may be negative) to a counter; the TTL starts with the first
        change."""

    def ttl(self, kind: str, id: str) -> int:
        """Seconds until the key expires, rounded up (a ``Retry-After`` or a mark copied
        from it never ends before the key does), 0 if it does not exist."""

    def index_add(self, kind: str, id: str, member: str, ttl: int) -> None:
        """Add ``member`` to a set (e.g. a citizen's session ids); the set's TTL is extended."""

    def index_remove(self, kind: str, id: str, member: str) -> None: ...

    def index_members(self, kind: str, id: str) -> set[str]: ...

    def ping(self) -> bool: ...
