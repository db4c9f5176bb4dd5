"""The ephemeral store's Protocol holds for both implementations (in-process and Redis)."""

from __future__ import annotations

from typing import Any


def test_get_many_answers_each_key_in_order_none_when_absent(store: Any) -> None:
    store.put("client-generation", "all", {"v": "c1"}, 60)
    store.put("key-generation", "all", {"v": "k1"}, 60)

    answers = store.get_many(
        [("key-generation", "all"), ("nothing", "here"), ("client-generation", "all")]
    )

    assert answers == [{"v": "k1"}, None, {"v": "c1"}]
    assert store.get_many([]) == []
