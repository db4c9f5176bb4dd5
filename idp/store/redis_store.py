"""Redis ephemeral store: shared by every worker process, TTL on every write."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import redis

from .base import TOMBSTONE
from .base import TOMBSTONE_TTL

# ``take``: one atomic round trip (a script runs alone in Redis). KEYS: the value, its
# tombstone; ARGV: owner field, owner, the value's tombstone and TTL members.
_TAKE = """
local raw = redis.call('GET', KEYS[1])
if not raw then
  return {'gone', redis.call('GET', KEYS[2])}
end
local value = cjson.decode(raw)
if value[ARGV[1]] ~= ARGV[2] then
  return {'other', false}
end
redis.call('SET', KEYS[2], value[ARGV[3]], 'EX', tonumber(value[ARGV[4]]))
redis.call('DEL', KEYS[1])
return {'taken', raw}
"""


class RedisStore:
    def __init__(self, url: str, prefix: str = "idp:") -> None:
        self._redis = redis.Redis.from_url(url, decode_responses=True, health_check_interval=30)
        self._prefix = prefix
        # EVALSHA after the first call (redis-py loads the script when it is missing).
        self._take = self._redis.register_script(_TAKE)

    def _key(self, kind: str, id: str) -> str:
        return f"{self._prefix}{kind}:{id}"

    def put(self, kind: str, id: str, value: dict[str, Any], ttl: int) -> None:
        self._redis.set(self._key(kind, id), json.dumps(value), ex=max(1, int(ttl)))

    def put_if_absent(self, kind: str, id: str, value: dict[str, Any], ttl: int) -> bool:
        return bool(
            self._redis.set(self._key(kind, id), json.dumps(value), ex=max(1, int(ttl)), nx=True)
        )

    def get(self, kind: str, id: str) -> dict[str, Any] | None:
        raw = self._redis.get(self._key(kind, id))
        return json.loads(raw) if raw else None

    def get_many(self, keys: Sequence[tuple[str, str]]) -> list[dict[str, Any] | None]:
        if not keys:
            return []
        raws = self._redis.mget([self._key(kind, id) for kind, id in keys])
        return [json.loads(raw) if raw else None for raw in raws]

    def consume(self, kind: str, id: str) -> dict[str, Any] | None:
        raw = self._redis.getdel(self._key(kind, id))
        return json.loads(raw) if raw else None

    def take(
        self, kind: str, id: str, *, owner_field: str, owner: str, tombstone_kind: str
    ) -> tuple[str, dict[str, Any] | None]:
        outcome, raw = self._take(
            keys=[self._key(kind, id), self._key(tombstone_kind, id)],
            args=[owner_field, owner, TOMBSTONE, TOMBSTONE_TTL],
        )
        return str(outcome), json.loads(raw) if raw else None

    def delete(self, kind: str, id: str) -> None:
        self._redis.delete(self._key(kind, id))

    def incr(self, kind: str, id: str, ttl: int, amount: int = 1) -> int:
        key = self._key(kind, id)
        pipe = self._redis.pipeline()
        pipe.incrby(key, amount)
        pipe.expire(key, max(1, int(ttl)), nx=True)
        count, _ = pipe.execute()
        return int(count)

    def ttl(self, kind: str, id: str) -> int:
        # PTTL, not TTL: TTL rounds to the nearest second, which can end a pause early.
        remaining = int(self._redis.pttl(self._key(kind, id)))
        return max(0, -(-remaining // 1000))

    def index_add(self, kind: str, id: str, member: str, ttl: int) -> None:
        key = self._key(kind, id)
        pipe = self._redis.pipeline()
        pipe.sadd(key, member)
        pipe.expire(key, max(1, int(ttl)), gt=True)
        pipe.expire(key, max(1, int(ttl)), nx=True)
        pipe.execute()

    def index_remove(self, kind: str, id: str, member: str) -> None:
        self._redis.srem(self._key(kind, id), member)

    def index_members(self, kind: str, id: str) -> set[str]:
        return set(self._redis.smembers(self._key(kind, id)))

    def ping(self) -> bool:
        return bool(self._redis.ping())

    def clear(self) -> None:
        """Tests only: remove every key under this store's prefix."""
        for key in self._redis.scan_iter(match=f"{self._prefix}*", count=500):
            self._redis.delete(key)
