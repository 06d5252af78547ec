"""Zoom's rate limits: per-category token buckets (burst = one second's worth) and daily counters.

A token bucket with capacity equal to the per-second limit accepts a client that paces at exactly
the limit even when network jitter bunches a few requests; it refuses sustained excess at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Decision", "TokenBuckets"]


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    remaining: int
    reset_after_seconds: float


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


@dataclass(slots=True)
class TokenBuckets:
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def take(self, category: str, limit: int, now: float) -> Decision:
        bucket = self._buckets.get(category)
        if bucket is None:
            bucket = self._buckets[category] = _Bucket(float(limit), now)
        bucket.tokens = min(float(limit), bucket.tokens + (now - bucket.updated) * limit)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return Decision(True, int(bucket.tokens), 0.0)
        return Decision(False, 0, (1.0 - bucket.tokens) / limit)

    def clear(self) -> None:
        self._buckets.clear()
