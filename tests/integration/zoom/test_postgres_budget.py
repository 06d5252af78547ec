"""`PostgresRateBudget` on a real PostgreSQL: one account-wide budget across independent budgets
(as separate replicas would hold), few round trips, atomic daily counters."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from common.zoom import DailyCounter, PostgresRateBudget, RateCategory, ZoomUnavailable
from common.zoom._ratelimit import ARRIVAL_DRIFT_SECONDS, subject_hash

DAY = date(2026, 11, 24)


def _account() -> str:
    return f"acc-{uuid.uuid4().hex[:8]}"  # each test its own account: tests share the database


async def _send_times(budget: PostgresRateBudget, account: str, interval: float, n: int, burst: int = 1) -> list[float]:
    loop = asyncio.get_running_loop()

    async def one() -> float:
        slot = await budget.reserve(account, RateCategory.LIGHT, interval, 30, burst)
        assert slot.granted
        return loop.time() + slot.wait_seconds

    return list(await asyncio.gather(*(one() for _ in range(n))))


async def test_two_replicas_share_one_pace(engine_factory: Callable[[], AsyncEngine]) -> None:
    account, interval = _account(), 0.02
    first, second = PostgresRateBudget(engine_factory()), PostgresRateBudget(engine_factory())

    times = sorted(
        t
        for batch in await asyncio.gather(
            _send_times(first, account, interval, 40), _send_times(second, account, interval, 40)
        )
        for t in batch
    )

    # Slots are exactly one interval apart in the database; each replica measures its delay from
    # when the answer arrived, so only local wake-up jitter shows: on a busy machine a late answer
    # can bring sends closer by up to the drift the pace keeps room for, never more. Two replicas
    # pacing apart would fit ten sends in about 4.5 intervals, and all 80 in about 40.
    windows = [b - a for a, b in zip(times, times[9:], strict=False)]
    assert min(windows) > 9 * interval - ARRIVAL_DRIFT_SECONDS
    assert times[-1] - times[0] >= 79 * interval - ARRIVAL_DRIFT_SECONDS


async def test_two_replicas_sending_in_bursts_keep_bursts_apart(engine_factory: Callable[[], AsyncEngine]) -> None:
    account, interval, burst = _account(), 0.02, 5
    first, second = PostgresRateBudget(engine_factory()), PostgresRateBudget(engine_factory())

    times = sorted(
        t
        for batch in await asyncio.gather(
            _send_times(first, account, interval, 37, burst), _send_times(second, account, interval, 43, burst)
        )
        for t in batch
    )

    # Callers of one burst share its send time (each reads the clock itself: microseconds apart);
    # bursts lie `burst` intervals apart in the database, less local jitter of at most the drift
    # the pace keeps room for.
    starts = [t for before, t in itertools.pairwise([-1.0, *times]) if t - before > interval / 2]
    sizes = [sum(1 for t in times if start <= t < start + interval / 2) for start in starts]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert max(sizes) == burst
    assert sum(sizes) == 80
    assert min(gaps) > burst * interval - ARRIVAL_DRIFT_SECONDS
    assert starts[-1] - starts[0] >= (len(starts) - 1) * burst * interval - ARRIVAL_DRIFT_SECONDS
    assert len(starts) <= 80 / burst + 2  # each replica leaves at most its last burst short


async def test_waiting_callers_are_served_with_few_round_trips(engine_factory: Callable[[], AsyncEngine]) -> None:
    engine = engine_factory()
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    budget = PostgresRateBudget(engine)

    await _send_times(budget, _account(), 1 / 300, 300)  # 300 requests a second, all waiting at once

    reservations = [s for s in statements if "zoom_rate_slots" in s]
    assert len(reservations) <= 300 / 10


async def test_hold_off_by_one_replica_delays_the_other(engine_factory: Callable[[], AsyncEngine]) -> None:
    account = _account()
    first, second = PostgresRateBudget(engine_factory()), PostgresRateBudget(engine_factory())

    await first.hold_off(account, RateCategory.HEAVY, 0.5)
    slot = await second.reserve(account, RateCategory.HEAVY, 0.1, 5)

    assert 0.4 < slot.wait_seconds <= 0.5


async def test_slot_past_the_deadline_is_not_granted(engine_factory: Callable[[], AsyncEngine]) -> None:
    account = _account()
    budget = PostgresRateBudget(engine_factory())
    await budget.hold_off(account, RateCategory.MEDIUM, 2.0)

    slot = await budget.reserve(account, RateCategory.MEDIUM, 0.05, 0.5)

    assert not slot.granted


async def test_daily_counter_grants_exactly_the_limit_under_contention(
    engine_factory: Callable[[], AsyncEngine],
) -> None:
    account = _account()
    counter = DailyCounter("registrant", subject_hash("85746065432", "ana@school.example"), 3)
    budgets = [PostgresRateBudget(engine_factory()) for _ in range(3)]

    results = await asyncio.gather(*(budgets[i % 3].consume_daily(account, [counter], DAY) for i in range(12)))

    assert sum(1 for spent in results if spent == ()) == 3
    assert all(spent in ((), (0,)) for spent in results)


async def test_concurrent_single_counters_share_round_trips(engine_factory: Callable[[], AsyncEngine]) -> None:
    engine = engine_factory()
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    budget = PostgresRateBudget(engine)
    account = _account()
    counters = [DailyCounter("registrant", subject_hash("85746065432", f"s{i}@school.example"), 3) for i in range(40)]

    results = await asyncio.gather(*(budget.consume_daily(account, [c], DAY) for c in counters))

    assert results == [()] * 40
    assert len([s for s in statements if "zoom_daily_usage" in s and "INSERT" in s]) <= 4


async def test_batch_of_counters_is_all_or_nothing(engine_factory: Callable[[], AsyncEngine]) -> None:
    account = _account()
    budget = PostgresRateBudget(engine_factory())
    full = DailyCounter("registrant", subject_hash("full@school.example"), 1)
    fresh = DailyCounter("registrant", subject_hash("fresh@school.example"), 3)
    heavy = DailyCounter("account-heavy", "", 27_000)
    assert await budget.consume_daily(account, [full], DAY) == ()

    assert await budget.consume_daily(account, [fresh, full, heavy], DAY) == (1,)

    other = PostgresRateBudget(engine_factory())  # no in-process memory: reads the table
    assert await other.consume_daily(account, [fresh, fresh, fresh], DAY) == ()  # fresh untouched before
    assert await other.consume_daily(account, [heavy], DAY) == ()


async def test_exhausted_counter_is_refused_until_the_next_day(engine_factory: Callable[[], AsyncEngine]) -> None:
    account = _account()
    counter = DailyCounter("account-heavy", "", 27_000)
    await PostgresRateBudget(engine_factory()).exhaust_daily(account, counter, DAY)
    budget = PostgresRateBudget(engine_factory())

    assert await budget.consume_daily(account, [counter], DAY) == (0,)
    assert await budget.consume_daily(account, [counter], DAY + timedelta(days=1)) == ()


async def test_released_use_can_be_spent_again(engine_factory: Callable[[], AsyncEngine]) -> None:
    account = _account()
    counter = DailyCounter("registrant", subject_hash("1", "ben@school.example"), 1)
    budget = PostgresRateBudget(engine_factory())
    assert await budget.consume_daily(account, [counter], DAY) == ()
    assert await budget.consume_daily(account, [counter], DAY) == (0,)

    await budget.release_daily(account, [counter], DAY)

    assert await PostgresRateBudget(engine_factory()).consume_daily(account, [counter], DAY) == ()


async def test_daily_usage_holds_no_email(
    engine_factory: Callable[[], AsyncEngine], zoom_budget_database_url: str
) -> None:
    account = _account()
    engine = engine_factory()
    await PostgresRateBudget(engine).consume_daily(
        account, [DailyCounter("registrant", subject_hash("1", "ana@school.example"), 3)], DAY
    )

    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM zoom_daily_usage WHERE account_id = :a"), {"a": account})).all()

    assert len(rows) == 1
    assert "ana" not in str(rows)


async def test_unreachable_store_is_zoom_unavailable() -> None:
    engine = create_async_engine("postgresql+psycopg://postgres@127.0.0.1:1/none", connect_args={"connect_timeout": 2})
    budget = PostgresRateBudget(engine)
    try:
        with pytest.raises(ZoomUnavailable):
            await budget.reserve("ACC", RateCategory.LIGHT, 0.1, 5)
        with pytest.raises(ZoomUnavailable):
            await budget.consume_daily("ACC", [DailyCounter("account-heavy", "", 1)], DAY)
    finally:
        await engine.dispose()
