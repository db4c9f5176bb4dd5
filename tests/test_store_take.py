"""``EphemeralStore.take``: the single-use consumption behind authorization codes, on both
stores (in-process and Redis)."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

from idp.store.base import TOMBSTONE
from idp.store.base import TOMBSTONE_TTL


def _value(owner: str, ttl: int = 300) -> dict:
    return {"owner": owner, "n": 1, TOMBSTONE: json.dumps({"by": owner}), TOMBSTONE_TTL: ttl}


def _take(store, id: str = "x", owner: str = "a"):
    return store.take("thing", id, owner_field="owner", owner=owner, tombstone_kind="used")


def test_the_owner_takes_the_value_and_leaves_its_tombstone(store):
    store.put("thing", "x", _value("a"), 60)
    outcome, value = _take(store)
    assert outcome == "taken" and value["n"] == 1 and value["owner"] == "a"
    assert store.get("thing", "x") is None
    assert store.get("used", "x") == {"by": "a"}
    assert 250 < store.ttl("used", "x") <= 300


def test_another_owner_finds_it_and_leaves_it(store):
    store.put("thing", "x", _value("a"), 60)
    assert _take(store, owner="b") == ("other", None)
    assert store.get("thing", "x")["owner"] == "a"
    assert store.get("used", "x") is None


def test_a_taken_value_is_gone_with_its_tombstone(store):
    store.put("thing", "x", _value("a"), 60)
    _take(store)
    assert _take(store) == ("gone", {"by": "a"})
    assert _take(store, owner="b") == ("gone", {"by": "a"})


def test_a_value_never_stored_is_gone_without_tombstone(store):
    assert _take(store, id="never") == ("gone", None)


def test_of_many_takers_at_once_one_gets_it(store):
    store.put("thing", "x", _value("a"), 60)
    barrier = threading.Barrier(8)

    def attempt(_: int) -> str:
        barrier.wait()
        return str(_take(store)[0])

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(attempt, range(8)))
    assert sorted(outcomes) == ["gone"] * 7 + ["taken"]
