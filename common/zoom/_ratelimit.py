"""Zoom's rate limits as numbers, the `RateBudget` port that enforces them, and its in-memory form.

Pacing is GCRA (virtual scheduling) per (account, category): the budget holds the theoretical
arrival time `tat` of the next send; a send goes at `max(tat, now)` and moves `tat` on. A send is
a burst of up to `burst_size` requests that leave together, and moves `tat` that many intervals:
the same average rate, but one wake-up of the sender (and of Zoom's answers) serves several
requests, which is most of a paced single add's CPU. The budget only does this bookkeeping; the
client owns the numbers below.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Protocol

from common.zoom._clock import Clock, SystemClock
from common.zoom.config import ZoomPlan
from common.zoom.errors import DailyLimitScope

__all__ = [
    "ARRIVAL_DRIFT_SECONDS",
    "DailyCounter",
    "InMemoryRateBudget",
    "RateBudget",
    "RateCategory",
    "Slot",
    "burst_size",
    "daily_limit_resume_at",
    "heavy_daily_limit",
    "send_interval_seconds",
    "subject_hash",
]


class RateCategory(StrEnum):
    """Zoom's rate-limit categories, spelled as in the `X-RateLimit-Category` header."""

    LIGHT = "Light"
    MEDIUM = "Medium"
    HEAVY = "Heavy"
    RESOURCE_INTENSIVE = "Resource-intensive"


# Requests per second, account-wide, from Zoom's rate-limits page (see /work/shared/zoom-api.md).
# Resource-intensive is per minute at Zoom (Pro 10/min, Business+ 20/min); no call of ours is in it.
_PER_SECOND_LIMITS: dict[ZoomPlan, dict[RateCategory, float]] = {
    "pro": {
        RateCategory.LIGHT: 30.0,
        RateCategory.MEDIUM: 20.0,
        RateCategory.HEAVY: 10.0,
        RateCategory.RESOURCE_INTENSIVE: 10.0 / 60.0,
    },
    "business": {
        RateCategory.LIGHT: 80.0,
        RateCategory.MEDIUM: 60.0,
        RateCategory.HEAVY: 40.0,
        RateCategory.RESOURCE_INTENSIVE: 20.0 / 60.0,
    },
}
# Heavy and Resource-intensive share one daily quota per account.
_HEAVY_DAILY_LIMITS: dict[ZoomPlan, int] = {"pro": 30_000, "business": 60_000}

# Zoom counts requests as they arrive; we schedule them as they leave. Arrivals drift from the
# schedule by connection set-up and event-loop delays, so the pace keeps room for this much drift
# in any one-second window: at most limit / (1 + 0.05) requests per second (Light Pro: 28.6/s).
ARRIVAL_DRIFT_SECONDS = 0.05

REGISTRANT_ADDS_PER_DAY = 3
"""Zoom: at most 3 add-registrant calls per registrant per day, reset 00:00 UTC."""
HOST_MEETING_WRITES_PER_DAY = 100
"""Zoom: at most 100 meeting create/update calls per host user per day, reset 00:00 UTC."""


def send_interval_seconds(plan: ZoomPlan, category: RateCategory, reserved_share: float) -> float:
    """Seconds between two sends of `category` so the whole account stays under Zoom's limit.

    The reserved share is left to the account's other apps; the drift allowance keeps a burst of
    late arrivals from crossing the limit within one second.
    """
    limit = _PER_SECOND_LIMITS[plan][category]
    rate = min(limit * (1.0 - reserved_share), limit / (1.0 + ARRIVAL_DRIFT_SECONDS))
    return 1.0 / rate


MAX_BURST = 10
"""Requests that may leave together: past ten, a bare sender's CPU per request no longer falls."""


def burst_size(plan: ZoomPlan, category: RateCategory, reserved_share: float) -> int:
    """How many requests of `category` may leave at once, bursts `burst` intervals apart.

    Even spacing puts at most ceil(w * rate) requests into any window of w seconds. Bursts of b
    put up to b * ceil(w * rate / b): more, unless b divides the window's count. The largest
    b <= MAX_BURST is taken that keeps both counts that even spacing keeps: Zoom's limit in any
    second of arrivals (a window of 1 s + ARRIVAL_DRIFT_SECONDS of sends), and this app's share,
    rounded to whole requests, in any second of sends. Pro Light with nothing reserved: 10
    (28.6/s, 30 per 1.05 s either way); with 10 % reserved: 3 (27/s, 27 a second either way).
    """
    limit = _PER_SECOND_LIMITS[plan][category]
    rate = 1.0 / send_interval_seconds(plan, category, reserved_share)
    share = max(math.ceil(rate - 1e-9), math.floor(limit * (1.0 - reserved_share) + 1e-9))

    def worst(window_count: float, b: int) -> int:
        return b * math.ceil(window_count / b - 1e-9)  # the epsilon keeps 30.000000001 at 30

    for b in range(MAX_BURST, 1, -1):
        if worst(rate * (1.0 + ARRIVAL_DRIFT_SECONDS), b) <= limit and worst(rate, b) <= share:
            return b
    return 1


def heavy_daily_limit(plan: ZoomPlan, reserved_share: float) -> int:
    """The account's Heavy + Resource-intensive requests per day this app may spend."""
    # The epsilon keeps 30_000 * 0.9 == 26999.999... from losing a request to float rounding.
    return math.floor(_HEAVY_DAILY_LIMITS[plan] * (1.0 - reserved_share) + 1e-6)


def subject_hash(*parts: str) -> str:
    """A counter key for a subject (e-mail, host) that keeps the subject out of the store.

    sha256 of the parts joined by newlines; e-mails are lower-cased by the caller because Zoom
    treats them case-insensitively. A counter key, not a pseudonym: no salt is needed.
    """
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def daily_limit_resume_at(day: date) -> datetime:
    """When a daily limit counted on `day` resets: the next 00:00 UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DailyCounter:
    """One daily allowance: `limit` uses per UTC day for (scope, subject) of an account.

    `subject` is "" for the account's Heavy quota, else a `subject_hash`.
    """

    scope: DailyLimitScope
    subject: str
    limit: int


@dataclass(frozen=True, slots=True)
class Slot:
    """The answer to a pacing request: wait `wait_seconds`, then send, if `granted`.

    Not granted means the slot lies beyond the caller's patience: do not send. (The in-memory
    budget then reserves nothing; the shared one may lose that one slot, erring on the safe side.)
    """

    wait_seconds: float
    granted: bool


class RateBudget(Protocol):
    """The account-wide pacing state and daily counters, shared by everything that calls Zoom.

    Implementations: `InMemoryRateBudget` (one process) and `PostgresRateBudget` (all replicas).
    """

    async def reserve(
        self, account_id: str, category: RateCategory, interval_seconds: float, max_wait_seconds: float, burst: int = 1
    ) -> Slot:
        """Reserves a send slot of `category`. Up to `burst` callers share one send time (a burst
        not yet sent takes more); consecutive bursts lie `burst * interval_seconds` apart."""
        ...

    async def hold_off(self, account_id: str, category: RateCategory, seconds: float) -> None:
        """Moves the category's next slot at least `seconds` from now (Zoom said "slow down")."""
        ...

    async def consume_daily(self, account_id: str, counters: Sequence[DailyCounter], day: date) -> tuple[int, ...]:
        """Spends one use of each counter, all or none; returns the indexes already spent."""
        ...

    async def release_daily(self, account_id: str, counters: Sequence[DailyCounter], day: date) -> None:
        """Gives back one use of each counter: the attempt surely did not count at Zoom."""
        ...

    async def exhaust_daily(self, account_id: str, counter: DailyCounter, day: date) -> None:
        """Marks a counter spent for `day` (Zoom answered with a daily-limit 429)."""
        ...

    async def record_daily_used(self, account_id: str, counter: DailyCounter, day: date, used: int) -> None:
        """Raises a counter to `used` if Zoom reports more use than counted here (other apps)."""
        ...


class InMemoryRateBudget:
    """`RateBudget` for a single process: unit tests and development.

    Hand-written GCRA rather than aiolimiter: aiolimiter's leaky bucket admits a burst of the
    full capacity at once, while the bursts here are bounded by `burst_size` (no second holds
    more than Zoom's limit or this app's share), and the same arithmetic must match
    `PostgresRateBudget`.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._tat: dict[tuple[str, RateCategory], float] = {}
        self._open: dict[tuple[str, RateCategory], tuple[float, int]] = {}  # burst not yet sent: (at, size)
        self._used: dict[tuple[str, DailyLimitScope, str, date], int] = {}
        self._day: date | None = None

    async def reserve(
        self, account_id: str, category: RateCategory, interval_seconds: float, max_wait_seconds: float, burst: int = 1
    ) -> Slot:
        key, now = (account_id, category), self._clock.monotonic()
        at, size = self._open.get(key, (-math.inf, burst))
        if size < burst and at >= now:  # join the burst that has not left yet
            if at - now > max_wait_seconds:
                return Slot(wait_seconds=at - now, granted=False)
            self._open[key] = (at, size + 1)
            return Slot(wait_seconds=at - now, granted=True)
        slot = max(self._tat.get(key, now), now)
        wait = slot - now
        if wait > max_wait_seconds:
            return Slot(wait_seconds=wait, granted=False)
        self._tat[key] = slot + burst * interval_seconds
        self._open[key] = (slot, 1)
        return Slot(wait_seconds=wait, granted=True)

    async def hold_off(self, account_id: str, category: RateCategory, seconds: float) -> None:
        key = (account_id, category)
        until = self._clock.monotonic() + seconds
        self._tat[key] = max(self._tat.get(key, until), until)
        self._open.pop(key, None)

    async def consume_daily(self, account_id: str, counters: Sequence[DailyCounter], day: date) -> tuple[int, ...]:
        self._forget_before(day)
        wanted: dict[tuple[str, DailyLimitScope, str, date], int] = {}
        for counter in counters:
            key = (account_id, counter.scope, counter.subject, day)
            wanted[key] = wanted.get(key, 0) + 1
        limits = {(account_id, c.scope, c.subject, day): c.limit for c in counters}
        full = {key for key, n in wanted.items() if self._used.get(key, 0) + n > limits[key]}
        if full:
            return tuple(i for i, c in enumerate(counters) if (account_id, c.scope, c.subject, day) in full)
        for key, n in wanted.items():
            self._used[key] = self._used.get(key, 0) + n
        return ()

    async def release_daily(self, account_id: str, counters: Sequence[DailyCounter], day: date) -> None:
        for counter in counters:
            key = (account_id, counter.scope, counter.subject, day)
            if self._used.get(key, 0) > 0:
                self._used[key] -= 1

    async def exhaust_daily(self, account_id: str, counter: DailyCounter, day: date) -> None:
        await self.record_daily_used(account_id, counter, day, counter.limit)

    async def record_daily_used(self, account_id: str, counter: DailyCounter, day: date, used: int) -> None:
        self._forget_before(day)
        key = (account_id, counter.scope, counter.subject, day)
        self._used[key] = max(self._used.get(key, 0), used)

    def _forget_before(self, day: date) -> None:
        """Drops counters of past days so a long-lived process does not grow without bound."""
        if self._day != day:
            self._used = {k: v for k, v in self._used.items() if k[3] >= day}
            self._day = day
