"""The least-recently-used map behind held views and messages tells what it let go of, so the
bytes kept beside a message go with it."""

from __future__ import annotations

from attendance_service.view_cache import Lru


def test_put_returns_the_replaced_value_and_the_least_recently_used_beyond_capacity() -> None:
    lru: Lru[str, str] = Lru(2)
    assert lru.put("a", "a1") == []
    assert lru.put("b", "b1") == []
    assert lru.put("a", "a2") == ["a1"]
    assert lru.get("b") == "b1"  # b is now the most recently used
    assert lru.put("c", "c1") == ["a2"]
    assert len(lru) == 2


def test_capacity_zero_holds_nothing_and_hands_the_value_back() -> None:
    lru: Lru[str, str] = Lru(0)
    assert lru.put("a", "a1") == ["a1"]
    assert lru.get("a") is None


def test_putting_the_same_value_again_lets_nothing_go() -> None:
    lru: Lru[str, str] = Lru(1)
    value = "v"
    lru.put("a", value)
    assert lru.put("a", value) == []
