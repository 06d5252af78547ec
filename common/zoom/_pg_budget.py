"""`RateBudget` kept in PostgreSQL, so every replica and process spends one account-wide budget.

Pacing: one row per (account, category) in `zoom_rate_slots` holds the theoretical arrival time
`tat`. A round trip reserves n consecutive slots with one atomic upsert,
`tat = greatest(tat, clock_timestamp()) + n * interval`, and answers how far the new `tat` lies
ahead of the database's clock; slot i (0-based) is then `(n - i) * interval` before it. Using the
database's clock for `tat` keeps replicas' clock skew out of the schedule; each process only
measures a delay from the moment the answer arrived (later than the database's now, so the
slots land slightly late: the safe side).

Bursts (see `burst_size`): a reservation is made in whole bursts of `burst` slots, and the callers
of one burst all get its first slot's time, so burst starts stay `burst * interval` apart however
the replicas' reservations interleave. A burst short of callers leaves its other slots unused.

Round trips: per process and category one dispatcher serves the waiting callers, reserving
slots for up to `horizon_seconds` of sending at a time (whole bursts, at least one); callers that
arrive meanwhile join the next reservation, made when the slots reserved run out within the
horizon. A lone caller costs one round trip; under load (where the limit binds) one round trip
serves about `horizon_seconds / interval` requests (Light at 28.6/s in bursts of 10, 0.5 s: 20).
The horizon is also how long granted slots still go out after a 429 made `hold_off` push the
pace back (at most about twice the horizon): a longer one would save round trips but send more
requests into Zoom's refusal when another app of the account spends its budget.

Daily counters: `zoom_daily_usage` rows keyed (account, scope, subject hash, UTC day), spent
with an increment-if-below-limit upsert; several counters (a batch) go in one transaction, all or
none. A counter found spent is remembered in-process until the day changes: counts only grow.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from common.zoom._ratelimit import DailyCounter, RateCategory, Slot
from common.zoom.errors import DailyLimitScope, ZoomUnavailable

__all__ = ["PostgresRateBudget"]

_metadata = sa.MetaData()
# Mirrors migration 0002_zoom_rate_budget; the migration, not this, creates the tables.
_daily_usage = sa.Table(
    "zoom_daily_usage",
    _metadata,
    sa.Column("account_id", sa.Text, primary_key=True),
    sa.Column("scope", sa.Text, primary_key=True),
    sa.Column("subject_hash", sa.Text, primary_key=True),
    sa.Column("usage_day", sa.Date, primary_key=True),
    sa.Column("used", sa.Integer, nullable=False),
    sa.Column("daily_limit", sa.Integer, nullable=False),
)

_RESERVE = sa.text(
    """
    INSERT INTO zoom_rate_slots AS s (account_id, category, tat)
    VALUES (:account_id, :category, clock_timestamp() + make_interval(secs => :span))
    ON CONFLICT (account_id, category) DO UPDATE
       SET tat = greatest(s.tat, clock_timestamp()) + make_interval(secs => :span)
    RETURNING extract(epoch FROM s.tat - clock_timestamp())::float8
    """
)
_DAILY_COLUMNS = ("account_id", "scope", "subject_hash", "usage_day", "used", "daily_limit")
# Adds each row's `used` unless that passes its limit; one statement for many callers' counters.
_INCREMENT_MANY = sa.text(
    """
    INSERT INTO zoom_daily_usage AS u (account_id, scope, subject_hash, usage_day, used, daily_limit)
    SELECT * FROM unnest(CAST(:account_id AS text[]), CAST(:scope AS text[]), CAST(:subject_hash AS text[]),
                         CAST(:usage_day AS date[]), CAST(:used AS int[]), CAST(:daily_limit AS int[]))
    ON CONFLICT (account_id, scope, subject_hash, usage_day) DO UPDATE
       SET used = u.used + EXCLUDED.used, daily_limit = EXCLUDED.daily_limit
     WHERE u.used + EXCLUDED.used <= EXCLUDED.daily_limit
    RETURNING u.account_id, u.scope, u.subject_hash, u.usage_day
    """
)
_HOLD_OFF = sa.text(
    """
    INSERT INTO zoom_rate_slots AS s (account_id, category, tat)
    VALUES (:account_id, :category, clock_timestamp() + make_interval(secs => :span))
    ON CONFLICT (account_id, category) DO UPDATE SET tat = greatest(s.tat, EXCLUDED.tat)
    """
)

_CounterKey = tuple[str, DailyLimitScope, str, date]


@dataclass(eq=False)
class _Waiter:
    send_at: asyncio.Future[float]
    deadline: float


@dataclass(eq=False)
class _Lane:
    """Callers waiting for slots of one (account, category) in this process."""

    interval: float
    burst: int = 1
    waiters: deque[_Waiter] = field(default_factory=deque)
    last_slot: float = -math.inf  # when the last burst reserved leaves
    dispatcher: asyncio.Task[None] | None = None

    @property
    def step(self) -> float:
        """Seconds from one burst to the next."""
        return self.interval * self.burst


class PostgresRateBudget:
    """`RateBudget` shared through PostgreSQL tables `zoom_rate_slots` and `zoom_daily_usage`."""

    def __init__(self, engine: AsyncEngine, *, horizon_seconds: float = 0.5) -> None:
        self._engine = engine
        # Single statements run in autocommit: one round trip, no BEGIN/COMMIT.
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._horizon = horizon_seconds
        self._lanes: dict[tuple[str, RateCategory], _Lane] = {}
        self._spent: set[_CounterKey] = set()
        self._increments: deque[tuple[dict[str, object], asyncio.Future[bool]]] = deque()
        self._incrementer: asyncio.Task[None] | None = None
        self._day: date | None = None
        self._purged_day: date | None = None

    async def reserve(
        self, account_id: str, category: RateCategory, interval_seconds: float, max_wait_seconds: float, burst: int = 1
    ) -> Slot:
        loop = asyncio.get_running_loop()
        lane = self._lanes.setdefault((account_id, category), _Lane(interval_seconds))
        lane.interval, lane.burst = interval_seconds, burst
        now = loop.time()
        # Other replicas can only push the slot later than this local estimate.
        earliest = max(lane.last_slot + lane.step, now)
        if earliest - now > max_wait_seconds:
            return Slot(wait_seconds=earliest - now, granted=False)
        waiter = _Waiter(loop.create_future(), deadline=now + max_wait_seconds)
        lane.waiters.append(waiter)
        if lane.dispatcher is None or lane.dispatcher.done():
            lane.dispatcher = asyncio.create_task(self._dispatch(account_id, category, lane))
        send_at = await waiter.send_at
        wait = send_at - loop.time()
        return Slot(wait_seconds=max(0.0, wait), granted=send_at <= waiter.deadline)

    async def _dispatch(self, account_id: str, category: RateCategory, lane: _Lane) -> None:
        """Serves the lane's waiters in order, one reservation round trip per batch."""
        loop = asyncio.get_running_loop()
        while lane.waiters:
            ahead = lane.last_slot - loop.time()
            if ahead > self._horizon:
                await asyncio.sleep(ahead - self._horizon)
                continue
            batch = self._next_batch(lane, loop.time())
            if not batch:
                continue
            bursts = math.ceil(len(batch) / lane.burst)
            try:
                span = bursts * lane.step
                async with self._autocommit.connect() as conn:
                    result = await conn.execute(
                        _RESERVE, {"account_id": account_id, "category": category.value, "span": span}
                    )
                    tat_ahead = float(result.scalar_one())
            except (OperationalError, InterfaceError) as exc:
                _fail(batch, _store_down(exc))
                continue
            except Exception as exc:  # noqa: BLE001 - not swallowed: re-raised in every waiting caller
                # Not ours to handle, but the callers must hear of it rather than wait forever.
                _fail(batch, exc)
                continue
            first = loop.time() + tat_ahead - bursts * lane.step
            lane.last_slot = first + (bursts - 1) * lane.step
            for i, waiter in enumerate(batch):
                if not waiter.send_at.done():
                    waiter.send_at.set_result(first + (i // lane.burst) * lane.step)

    def _next_batch(self, lane: _Lane, now: float) -> list[_Waiter]:
        """Takes up to one horizon of waiters; answers at once those whose deadline is too near."""
        cap = lane.burst * max(1, math.ceil(self._horizon / lane.step))
        first = max(lane.last_slot + lane.step, now)
        batch: list[_Waiter] = []
        while lane.waiters and len(batch) < cap:
            waiter = lane.waiters.popleft()
            if waiter.send_at.done():  # the caller was cancelled
                continue
            expected = first + (len(batch) // lane.burst) * lane.step
            if expected > waiter.deadline:
                waiter.send_at.set_result(expected)  # not granted; no slot spent
                continue
            batch.append(waiter)
        return batch

    async def hold_off(self, account_id: str, category: RateCategory, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        lane = self._lanes.get((account_id, category))
        if lane is not None:
            lane.last_slot = max(lane.last_slot, loop.time() + seconds)
        params = {"account_id": account_id, "category": category.value, "span": seconds}
        try:
            async with self._autocommit.connect() as conn:
                await conn.execute(_HOLD_OFF, params)
        except (OperationalError, InterfaceError) as exc:
            raise _store_down(exc) from exc

    async def consume_daily(self, account_id: str, counters: Sequence[DailyCounter], day: date) -> tuple[int, ...]:
        self._forget_before(day)
        await self._purge_before(day)
        keys = [(account_id, c.scope, c.subject, day) for c in counters]
        known_spent = tuple(i for i, key in enumerate(keys) if key in self._spent)
        if known_spent or not counters:
            return known_spent
        wanted: dict[_CounterKey, int] = {}
        limits: dict[_CounterKey, int] = {}
        for key, counter in zip(keys, counters, strict=True):
            wanted[key] = wanted.get(key, 0) + 1
            limits[key] = counter.limit
        too_many = {key for key, n in wanted.items() if n > limits[key]}
        if too_many:
            return tuple(i for i, key in enumerate(keys) if key in too_many)
        rows = [
            {
                "account_id": k[0],
                "scope": k[1],
                "subject_hash": k[2],
                "usage_day": k[3],
                "used": n,
                "daily_limit": limits[k],
            }
            for k, n in wanted.items()
        ]
        try:
            if len(rows) == 1:
                granted: set[tuple[object, ...]] = set(wanted) if await self._increment_one(rows[0]) else set()
            else:
                async with self._engine.connect() as conn, conn.begin() as tx:
                    granted = await _increment(conn, rows)
                    if len(granted) < len(rows):
                        await tx.rollback()
        except (OperationalError, InterfaceError) as exc:
            raise _store_down(exc) from exc
        spent = {key for key in wanted if key not in granted}
        self._spent |= spent
        return tuple(i for i, key in enumerate(keys) if key in spent)

    async def _increment_one(self, row: dict[str, object]) -> bool:
        """Spends one counter; concurrent callers share one statement (a lone one costs one round trip)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._increments.append((row, future))
        if self._incrementer is None or self._incrementer.done():
            self._incrementer = asyncio.create_task(self._increment_pending())
        return await future

    async def _increment_pending(self) -> None:
        """Serves waiting single-counter spends, one multi-row upsert per round. A counter wanted
        twice waits for the next round, so each caller's grant stays all-or-nothing."""
        while self._increments:
            await asyncio.sleep(0)  # callers scheduled in this same tick join the round
            batch: list[tuple[dict[str, object], asyncio.Future[bool]]] = []
            later: deque[tuple[dict[str, object], asyncio.Future[bool]]] = deque()
            keys: set[tuple[object, ...]] = set()
            while self._increments:
                row, future = self._increments.popleft()
                key = _key(row)
                if future.done():
                    continue
                if key in keys:
                    later.append((row, future))
                    continue
                keys.add(key)
                batch.append((row, future))
            self._increments = later
            if not batch:
                continue
            try:
                async with self._autocommit.connect() as conn:
                    granted = await _increment(conn, [row for row, _ in batch])
            except (OperationalError, InterfaceError) as exc:
                _settle(batch, exception=_store_down(exc))
                continue
            except Exception as exc:  # noqa: BLE001 - not swallowed: re-raised in every waiting caller
                _settle(batch, exception=exc)
                continue
            for row, future in batch:
                if not future.done():
                    future.set_result(_key(row) in granted)

    async def release_daily(self, account_id: str, counters: Sequence[DailyCounter], day: date) -> None:
        given_back: dict[_CounterKey, int] = {}
        for c in counters:
            key = (account_id, c.scope, c.subject, day)
            given_back[key] = given_back.get(key, 0) + 1
        u = _daily_usage.c
        try:
            async with self._engine.connect() as conn, conn.begin():
                for (account, scope, subject, usage_day), n in given_back.items():
                    await conn.execute(
                        sa.update(_daily_usage)
                        .where(u.account_id == account, u.scope == scope, u.subject_hash == subject)
                        .where(u.usage_day == usage_day)
                        .values(used=sa.func.greatest(u.used - n, 0))
                    )
        except (OperationalError, InterfaceError) as exc:
            raise _store_down(exc) from exc
        self._spent -= set(given_back)

    async def exhaust_daily(self, account_id: str, counter: DailyCounter, day: date) -> None:
        await self.record_daily_used(account_id, counter, day, counter.limit)

    async def record_daily_used(self, account_id: str, counter: DailyCounter, day: date, used: int) -> None:
        self._forget_before(day)
        stmt = pg_insert(_daily_usage).values(
            account_id=account_id,
            scope=counter.scope,
            subject_hash=counter.subject,
            usage_day=day,
            used=used,
            daily_limit=counter.limit,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=list(_daily_usage.primary_key.columns),
            set_={"used": sa.func.greatest(_daily_usage.c.used, stmt.excluded.used)},
        )
        try:
            async with self._autocommit.connect() as conn:
                await conn.execute(stmt)
        except (OperationalError, InterfaceError) as exc:
            raise _store_down(exc) from exc
        if used >= counter.limit:
            self._spent.add((account_id, counter.scope, counter.subject, day))

    async def _purge_before(self, day: date) -> None:
        """Once per process and day, deletes counters older than yesterday (kept for inspection)."""
        if self._purged_day == day:
            return
        self._purged_day = day
        try:
            async with self._autocommit.connect() as conn:
                await conn.execute(sa.delete(_daily_usage).where(_daily_usage.c.usage_day < day - timedelta(days=1)))
        except (OperationalError, InterfaceError) as exc:
            self._purged_day = None
            raise _store_down(exc) from exc

    def _forget_before(self, day: date) -> None:
        if self._day != day:
            self._spent = {key for key in self._spent if key[3] >= day}
            self._day = day


def _key(row: dict[str, object]) -> tuple[object, ...]:
    return (row["account_id"], row["scope"], row["subject_hash"], row["usage_day"])


async def _increment(conn: AsyncConnection, rows: list[dict[str, object]]) -> set[tuple[object, ...]]:
    """Adds each row's `used` unless that passes its limit; returns the keys (`_key`) granted.
    One prepared statement over arrays, whatever the number of rows (a batch call spends 31)."""
    result = await conn.execute(_INCREMENT_MANY, {column: [row[column] for row in rows] for column in _DAILY_COLUMNS})
    return {tuple(row) for row in result}


def _settle(batch: list[tuple[dict[str, object], asyncio.Future[bool]]], *, exception: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(exception)


def _fail(batch: list[_Waiter], exc: BaseException) -> None:
    """Hands `exc` to every caller of a failed reservation."""
    for waiter in batch:
        if not waiter.send_at.done():
            waiter.send_at.set_exception(exc)


def _store_down(exc: Exception) -> ZoomUnavailable:
    """The budget store is unreachable: no slot can be proven safe, so no request may go."""
    return ZoomUnavailable(f"Zoom rate budget store unavailable: {type(exc).__name__}")
