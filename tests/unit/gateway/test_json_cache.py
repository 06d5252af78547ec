"""The gateway's JSON cache: an answer's bytes seen before get their JSON without a conversion,
within a byte budget, least recently used dropped first."""

from __future__ import annotations

import pytest

from gateway.json_cache import MIN_BYTES, JsonCache


class Converter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, raw: bytes) -> bytes:
        self.calls += 1
        return b'{"size":%d,"first":%d}' % (len(raw), raw[0]) + b" " * len(raw)


def _answer(tag: int, size: int = MIN_BYTES) -> bytes:
    return bytes([tag]) * size


def test_the_same_bytes_are_converted_once_and_other_bytes_again() -> None:
    cache, convert = JsonCache(2**20), Converter()
    first = cache.json_of("Participants", _answer(1), convert)
    assert cache.json_of("Participants", _answer(1), convert) == first
    assert convert.calls == 1
    assert cache.json_of("Participants", _answer(2), convert) != first
    assert convert.calls == 2
    assert (cache.hits, cache.misses) == (1, 2)


def test_the_same_bytes_of_another_message_type_are_converted_anew() -> None:
    cache, convert = JsonCache(2**20), Converter()
    cache.json_of("Participants", _answer(1), convert)
    cache.json_of("Attendance", _answer(1), convert)
    assert convert.calls == 2


def test_small_answers_are_converted_every_time_and_never_held() -> None:
    cache, convert = JsonCache(2**20), Converter()
    for _ in range(3):
        cache.json_of("Participants", _answer(1, MIN_BYTES - 1), convert)
    assert convert.calls == 3
    assert len(cache) == 0


def test_the_budget_drops_the_least_recently_used_first() -> None:
    entry = len(Converter()(_answer(1)))
    cache, convert = JsonCache(4 * entry + entry // 2), Converter()
    for tag in (1, 2, 3, 4):
        cache.json_of("P", _answer(tag), convert)
    cache.json_of("P", _answer(1), convert)  # 1 is used again: 2 is now the oldest
    cache.json_of("P", _answer(5), convert)
    assert cache.used_bytes <= 4 * entry + entry // 2
    calls = convert.calls
    cache.json_of("P", _answer(1), convert)
    assert convert.calls == calls  # still held
    cache.json_of("P", _answer(2), convert)
    assert convert.calls == calls + 1  # dropped


def test_a_zero_budget_holds_nothing_and_a_negative_one_is_refused() -> None:
    cache, convert = JsonCache(0), Converter()
    cache.json_of("P", _answer(1), convert)
    cache.json_of("P", _answer(1), convert)
    assert convert.calls == 2
    with pytest.raises(ValueError, match="negative"):
        JsonCache(-1)
