"""Zoom's per-second limits: send intervals, bursts and the budgets that pace requests to them."""

from __future__ import annotations

import asyncio
import bisect
import itertools
import math
from collections import Counter

import pytest

from common.zoom import InMemoryRateBudget, RateCategory, ZoomClient
from common.zoom._ratelimit import ARRIVAL_DRIFT_SECONDS, burst_size, heavy_daily_limit, send_interval_seconds
from tests.unit.zoom.conftest import FakeClock, FakeZoom


@pytest.mark.parametrize(
    ("plan", "category", "reserved", "rate"),
    [
        ("pro", RateCategory.LIGHT, 0.1, 27.0),
        ("pro", RateCategory.MEDIUM, 0.1, 18.0),
        ("pro", RateCategory.HEAVY, 0.1, 9.0),
        ("business", RateCategory.LIGHT, 0.1, 72.0),
        ("business", RateCategory.MEDIUM, 0.1, 54.0),
        ("business", RateCategory.HEAVY, 0.1, 36.0),
        # With nothing reserved, the 5 % drift allowance still keeps arrivals under the limit.
        ("pro", RateCategory.LIGHT, 0.0, 30 / 1.05),
        ("business", RateCategory.HEAVY, 0.0, 40 / 1.05),
    ],
)
def test_send_interval_follows_the_plan_minus_the_reserved_share(
    plan: str, category: RateCategory, reserved: float, rate: float
) -> None:
    assert send_interval_seconds(plan, category, reserved) == pytest.approx(1 / rate)  # type: ignore[arg-type]


def test_heavy_daily_quota_keeps_the_reserved_share() -> None:
    assert heavy_daily_limit("pro", 0.1) == 27_000
    assert heavy_daily_limit("business", 0.0) == 60_000


@pytest.mark.parametrize(
    ("plan", "category", "reserved", "burst"),
    [
        ("pro", RateCategory.LIGHT, 0.0, 10),  # 28.6/s: 30 in any 1.05 s, spaced evenly or in tens
        ("pro", RateCategory.LIGHT, 0.1, 3),  # 27/s: 27 in any second of sends, spaced evenly or in threes
        ("pro", RateCategory.HEAVY, 0.1, 1),  # 9/s: any burst would put 10 + 2 into 1.05 s
        ("business", RateCategory.LIGHT, 0.1, 8),
        ("pro", RateCategory.RESOURCE_INTENSIVE, 0.0, 1),  # a per-minute limit: never a burst
    ],
)
def test_burst_size_follows_the_plan_and_the_reserved_share(
    plan: str, category: RateCategory, reserved: float, burst: int
) -> None:
    assert burst_size(plan, category, reserved) == burst  # type: ignore[arg-type]


@pytest.mark.parametrize("plan", ["pro", "business"])
@pytest.mark.parametrize("category", [RateCategory.LIGHT, RateCategory.MEDIUM, RateCategory.HEAVY])
@pytest.mark.parametrize("reserved", [0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.9])
def test_bursts_never_put_more_into_a_window_than_zoom_or_the_share_allow(
    plan: str, category: RateCategory, reserved: float
) -> None:
    """Simulated: sends in bursts from t = 0; every window starting at a send is counted."""
    interval = send_interval_seconds(plan, category, reserved)  # type: ignore[arg-type]
    burst = burst_size(plan, category, reserved)  # type: ignore[arg-type]
    sends = [(i // burst) * burst * interval for i in range(400)]
    limit = {"pro": {"Light": 30, "Medium": 20, "Heavy": 10}, "business": {"Light": 80, "Medium": 60, "Heavy": 40}}
    share = max(math.ceil(1 / interval - 1e-9), math.floor(limit[plan][category.value] * (1 - reserved) + 1e-9))

    def busiest(window: float) -> int:
        """Most sends in [start, start + window); one computed a hair before the end is at the end."""
        return max(
            bisect.bisect_left(sends, start + window - 1e-9) - bisect.bisect_left(sends, start) for start in sends[:200]
        )

    assert busiest(1 + ARRIVAL_DRIFT_SECONDS) <= limit[plan][category.value]
    assert busiest(1.0) <= share


async def test_callers_share_a_burst_until_it_leaves_and_bursts_are_spaced(clock: FakeClock) -> None:
    budget = InMemoryRateBudget(clock)
    waits = [(await budget.reserve("ACC", RateCategory.LIGHT, 0.1, 10, burst=3)).wait_seconds for _ in range(7)]
    assert waits == pytest.approx([0.0, 0.0, 0.0, 0.3, 0.3, 0.3, 0.6])

    clock.advance(0.65)  # the third burst has left with one caller: its slots are not handed out late
    assert (await budget.reserve("ACC", RateCategory.LIGHT, 0.1, 10, burst=3)).wait_seconds == pytest.approx(0.25)


async def test_hold_off_closes_the_burst_being_filled(clock: FakeClock) -> None:
    budget = InMemoryRateBudget(clock)
    await budget.reserve("ACC", RateCategory.LIGHT, 0.1, 10, burst=3)
    await budget.hold_off("ACC", RateCategory.LIGHT, 0.8)
    assert (await budget.reserve("ACC", RateCategory.LIGHT, 0.1, 10, burst=3)).wait_seconds == pytest.approx(0.8)


async def test_gcra_spaces_slots_one_interval_apart_and_forgets_idle_time(clock: FakeClock) -> None:
    budget = InMemoryRateBudget(clock)
    waits = [(await budget.reserve("ACC", RateCategory.LIGHT, 0.1, 10)).wait_seconds for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3])

    clock.advance(5)  # idle: no burst credit accumulates (tolerance 0)
    waits = [(await budget.reserve("ACC", RateCategory.LIGHT, 0.1, 10)).wait_seconds for _ in range(2)]
    assert waits == pytest.approx([0.0, 0.1])


async def test_slot_beyond_patience_is_refused_without_reserving(clock: FakeClock) -> None:
    budget = InMemoryRateBudget(clock)
    for _ in range(10):
        await budget.reserve("ACC", RateCategory.HEAVY, 0.1, 10)

    refused = await budget.reserve("ACC", RateCategory.HEAVY, 0.1, 0.5)
    granted = await budget.reserve("ACC", RateCategory.HEAVY, 0.1, 10)

    assert not refused.granted
    assert refused.wait_seconds == pytest.approx(1.0)
    assert granted.wait_seconds == pytest.approx(1.0)  # the refused one took nothing


async def test_categories_and_accounts_are_paced_separately(clock: FakeClock) -> None:
    budget = InMemoryRateBudget(clock)
    await budget.reserve("ACC", RateCategory.LIGHT, 1, 10)
    assert (await budget.reserve("ACC", RateCategory.MEDIUM, 1, 10)).wait_seconds == 0
    assert (await budget.reserve("OTHER", RateCategory.LIGHT, 1, 10)).wait_seconds == 0


async def test_hold_off_pushes_the_next_slot(clock: FakeClock) -> None:
    budget = InMemoryRateBudget(clock)
    await budget.hold_off("ACC", RateCategory.LIGHT, 0.8)
    assert (await budget.reserve("ACC", RateCategory.LIGHT, 0.1, 10)).wait_seconds == pytest.approx(0.8)


async def test_concurrent_calls_reach_zoom_at_most_at_the_paced_rate(
    zoom: FakeZoom, clock: FakeClock, client: ZoomClient
) -> None:
    await asyncio.gather(*(client.get_meeting(1) for _ in range(90)))

    interval = send_interval_seconds("pro", RateCategory.LIGHT, 0.1)
    burst = burst_size("pro", RateCategory.LIGHT, 0.1)
    assert burst == 3
    starts = [t for before, t in itertools.pairwise([-1.0, *zoom.sent_at]) if t - before > 1e-6]
    sizes = Counter(max(s for s in starts if s <= t) for t in zoom.sent_at)  # requests that left together
    assert max(sizes.values()) == burst
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= burst * interval - 1e-9
    # Sends land within microseconds of their slots (each sleeper wakes from its own "now").
    busiest = max(sum(1 for t in zoom.sent_at if start <= t < start + 1 - 1e-5) for start in zoom.sent_at)
    assert busiest <= 27  # 90 % of Pro's 30 a second, as evenly spaced requests would be
    assert zoom.sent_at[-1] - zoom.sent_at[0] >= (90 - burst) * interval - 1e-9
