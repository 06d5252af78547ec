"""Prometheus metrics of every rollcall process: one registry, named series, one endpoint each.

gRPC processes serve `/metrics` on their own small HTTP port (ROLLCALL_*_METRICS_PORT); the
gateway serves it on its HTTP port. Labels hold methods, codes and categories, never ids or PII.

Most series are counted where the work happens. Shared state (job items by state, the sync queue,
the account's Zoom budget) lives in PostgreSQL: `DatabaseGauges` reads it every few seconds with
one small indexed query each, so every replica shows the same figure (dashboards take `max`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from prometheus_client import Counter, Gauge, Histogram, start_http_server
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.pool import QueuePool

from common.db import create_session_factory
from common.db.models import ITEM_STATES
from common.db.session import system_transaction

__all__ = [
    "DB_POOL",
    "JOB_ITEMS",
    "RPC_LATENCY",
    "RPC_REQUESTS",
    "SYNCS",
    "SYNC_LAG",
    "SYNC_QUEUE",
    "ZOOM_BUDGET_WAIT",
    "ZOOM_DAILY_REMAINING",
    "ZOOM_PACING_BACKLOG",
    "ZOOM_RATE_LIMITED",
    "ZOOM_REQUESTS",
    "DatabaseGauges",
    "GaugeRefresher",
    "job_item_gauges",
    "serve_metrics",
    "sync_queue_gauges",
    "watch_pool",
    "zoom_budget_gauges",
]

_log = logging.getLogger("rollcall.metrics")

RPC_REQUESTS = Counter("rollcall_rpc_requests", "RPCs served, by method and status code", ["method", "code"])
RPC_LATENCY = Histogram(
    "rollcall_rpc_latency_seconds",
    "Time to serve an RPC (streams: until the stream ends)",
    ["method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
ZOOM_REQUESTS = Counter(
    "rollcall_zoom_requests", "Calls to Zoom's API, by rate-limit category and outcome", ["category", "outcome"]
)
ZOOM_RATE_LIMITED = Counter(
    "rollcall_zoom_rate_limited", "429 answers from Zoom, by category and limit type", ["category", "limit_type"]
)
ZOOM_BUDGET_WAIT = Histogram(
    "rollcall_zoom_budget_wait_seconds",
    "Time a Zoom call waited for its slot in the account-wide rate budget",
    ["category"],
    buckets=(0, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
ZOOM_PACING_BACKLOG = Gauge(
    "rollcall_zoom_pacing_backlog_seconds",
    "How far ahead the account-wide per-second budget is booked, by category (0: spare capacity now)",
    ["category"],
)
ZOOM_DAILY_REMAINING = Gauge(
    "rollcall_zoom_daily_remaining",
    "Requests left today (UTC) in the account's daily Zoom quota this app may spend, by scope",
    ["scope"],
)
JOB_ITEMS = Gauge(
    "rollcall_registration_job_items",
    "Items of unfinished registration jobs (queued, running, waiting), by state",
    ["state"],
)
SYNC_LAG = Histogram(
    "rollcall_attendance_sync_lag_seconds",
    "Time from a meeting's end to its completed automatic attendance sync",
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 2700, 3600, 5400, 7200, 14400),
)
SYNCS = Counter(
    "rollcall_attendance_syncs",
    "Automatic sync attempts by outcome: done, gave_up (out of attempts), retry (report not ready), lost_claim",
    ["outcome"],
)
SYNC_QUEUE = Gauge(
    "rollcall_attendance_sync_queue",
    "Ended meetings awaiting their automatic sync: pending (all), overdue (due and not claimed by a worker)",
    ["state"],
)

DB_POOL = Gauge(
    "rollcall_db_pool_connections",
    "The process's database pools (callers: work done for a caller; system: the service's own work): "
    "size (kept open once used, ROLLCALL_DB_POOL_SIZE) and in_use (checked out now; up to twice the size, "
    "the overflow closed when returned)",
    ["pool", "state"],
)

GaugeRefresher = Callable[[AsyncSession], Awaitable[None]]
"""Reads one piece of shared state in a system transaction and sets its gauges."""

_ACTIVE_JOB_ITEMS = text(
    "SELECT i.state, count(*) AS n FROM registration_jobs j JOIN registration_job_items i ON i.job_id = j.id "
    "WHERE j.state IN ('queued', 'running', 'waiting_for_quota') GROUP BY i.state"
)
_SYNC_QUEUE = text(
    "SELECT count(*) AS pending, count(*) FILTER (WHERE next_sync_at <= now()) AS overdue "
    "FROM meeting_instances WHERE sync_state = 'pending'"
)
_PACING = text(
    "SELECT category, greatest(extract(epoch FROM tat - clock_timestamp()), 0)::float8 AS backlog "
    "FROM zoom_rate_slots WHERE account_id = :account_id"
)
_DAILY_USED = text(
    "SELECT scope, used FROM zoom_daily_usage WHERE account_id = :account_id AND subject_hash = '' "
    "AND usage_day = (now() AT TIME ZONE 'UTC')::date"
)


def watch_pool(engine: AsyncEngine, name: str) -> None:
    """Reads the engine's pool at each scrape: a pool always in use at its limit is the sign to
    raise ROLLCALL_DB_POOL_SIZE (or PostgreSQL's max_connections first)."""
    pool = engine.pool
    if isinstance(pool, QueuePool):
        DB_POOL.labels(name, "size").set_function(pool.size)
        DB_POOL.labels(name, "in_use").set_function(pool.checkedout)


async def job_item_gauges(session: AsyncSession) -> None:
    """Items of unfinished jobs by state: indexed by the jobs' partial state index, so finished
    jobs' millions of items cost nothing. Finished items are counted by
    `rollcall_registration_items_total` in the workers."""
    counts = {row.state: int(row.n) for row in await session.execute(_ACTIVE_JOB_ITEMS)}
    for state in ITEM_STATES:
        JOB_ITEMS.labels(state).set(counts.get(state, 0))


async def sync_queue_gauges(session: AsyncSession) -> None:
    row = (await session.execute(_SYNC_QUEUE)).one()
    SYNC_QUEUE.labels("pending").set(int(row.pending))
    SYNC_QUEUE.labels("overdue").set(int(row.overdue))


def zoom_budget_gauges(account_id: str, daily_limits: dict[str, int]) -> GaugeRefresher:
    """The account's shared Zoom budget: per-second backlog by category, and what is left of the
    account-wide daily quotas (`daily_limits`: scope -> this app's share of Zoom's limit)."""

    async def refresh(session: AsyncSession) -> None:
        for row in await session.execute(_PACING, {"account_id": account_id}):
            ZOOM_PACING_BACKLOG.labels(row.category).set(float(row.backlog))
        used = {row.scope: int(row.used) for row in await session.execute(_DAILY_USED, {"account_id": account_id})}
        for scope, limit in daily_limits.items():
            ZOOM_DAILY_REMAINING.labels(scope).set(max(limit - used.get(scope, 0), 0))

    return refresh


class DatabaseGauges:
    """Refreshes gauges of shared state every `interval_seconds` in the background.

    A failed round is logged and retried at the next interval: a database blip must leave the
    gauges stale, not stop the process."""

    def __init__(
        self, engine: AsyncEngine, refreshers: Sequence[GaugeRefresher], interval_seconds: float = 5.0
    ) -> None:
        self._sessions = create_session_factory(engine)
        self._refreshers = tuple(refreshers)
        self._interval = interval_seconds
        self._closed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> None:
        async with system_transaction(self._sessions) as session:
            for refresher in self._refreshers:
                await refresher(session)

    def start(self) -> None:
        if self._refreshers and self._task is None:
            self._task = asyncio.create_task(self._run(), name="metrics-database-gauges")

    async def aclose(self) -> None:
        self._closed.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._closed.is_set():
            try:
                await self.refresh()
            except Exception:  # noqa: BLE001 -- metrics must never take the service down
                _log.warning("metrics.refresh_failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), timeout=self._interval)


def serve_metrics(host: str, port: int) -> None:
    """Serves the default registry on a daemon thread; port 0 turns the endpoint off."""
    if port == 0:
        return
    start_http_server(port, addr=host)
    _log.info("metrics.listening", extra={"address": f"{host}:{port}"})
