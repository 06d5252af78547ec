"""The JSON of recent large answers, keyed by their protobuf bytes.

A teacher's screen asks for the same meeting's participants again and again, and the attendance
service answers with the same bytes while the roster is unchanged (it holds its own views). Turning
a 300-segment answer into JSON costs the gateway several milliseconds of Python; hashing its bytes
costs microseconds. JSON is a pure function of (message type, bytes), so an answer seen before gets
its JSON back without being parsed. Nothing crosses between callers: a caller only gets the JSON of
bytes the service has just sent to that caller.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable

from prometheus_client import Counter

__all__ = ["JSON_CACHE_LOOKUPS", "JsonCache"]

JSON_CACHE_LOOKUPS = Counter(
    "rollcall_gateway_json_cache_lookups", "Large JSON answers found converted already (hit) or not (miss)", ["result"]
)

MIN_BYTES = 4096  # smaller answers are cheap to convert; caching them would only churn the entries


class JsonCache:
    """At most `budget_bytes` of JSON, least recently used dropped first; 0 keeps nothing."""

    def __init__(self, budget_bytes: int) -> None:
        if budget_bytes < 0:
            raise ValueError("budget_bytes must not be negative")
        self._budget = budget_bytes
        self._used = 0
        self._entries: OrderedDict[tuple[str, bytes], bytes] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def json_of(self, kind: str, raw: bytes, convert: Callable[[bytes], bytes]) -> bytes:
        """The JSON of `raw`, an answer of message type `kind`; `convert` makes it when not held."""
        if self._budget == 0 or len(raw) < MIN_BYTES:
            return convert(raw)
        key = (kind, hashlib.blake2b(raw, digest_size=20).digest())
        held = self._entries.get(key)
        if held is not None:
            self._entries.move_to_end(key)
            self.hits += 1
            JSON_CACHE_LOOKUPS.labels("hit").inc()
            return held
        self.misses += 1
        JSON_CACHE_LOOKUPS.labels("miss").inc()
        made = convert(raw)
        if len(made) <= self._budget // 4:  # one answer never pushes out most of the others
            self._entries[key] = made
            self._used += len(made)
            while self._used > self._budget:
                _, dropped = self._entries.popitem(last=False)
                self._used -= len(dropped)
        return made

    @property
    def used_bytes(self) -> int:
        return self._used

    def __len__(self) -> int:
        return len(self._entries)
