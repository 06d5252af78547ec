"""The automatic sync after `meeting.ended`: durable, retried with backoff until Zoom's report is complete.

Zoom's report can lag the end by up to 30 minutes and fills in gradually. Each ended instance is a
pending row in `meeting_instances`; any replica claims the most overdue one for a lease, fetches
the report and either syncs it (complete, or last attempt) or puts the row back for the next delay.

Claiming is one UPDATE over `FOR UPDATE SKIP LOCKED` that moves `next_sync_at` to the lease's end
and counts the attempt, so two replicas never hold the same row. The attempt number is the
claim's token: putting the row back or finishing it only succeeds while it still carries this
claim's number, so a worker that outlived its lease (another replica took the row over) changes
nothing; its records write was idempotent under the meeting's lock.
The loop waits on an event (set when this process schedules a sync) with a timeout at the next
due time, so it neither spins nor misses work scheduled by another replica for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from attendance_service.ports import Clock, Transactions, system_clock
from attendance_service.reconcile import report_is_complete
from attendance_service.repository import DueSync, Instance
from attendance_service.sync import AttendanceSync, ReportNotReady
from common.metrics import SYNC_LAG, SYNCS
from common.zoom import ZoomError

__all__ = ["SyncQueue", "SyncWorker"]

_log = logging.getLogger("rollcall.attendance.sync")
# Longest wait between looks at the queue: bounds how late a sync scheduled by another replica starts.
_IDLE_SECONDS = 30.0


class SyncQueue(Protocol):
    async def claim_due_sync(self, now: datetime, lease_until: datetime) -> DueSync | None: ...

    async def next_sync_due(self) -> datetime | None: ...

    async def retry_sync_at(self, uuid: str, at: datetime, *, attempt: int) -> bool: ...

    async def finish_sync(self, uuid: str, *, attempt: int, state: str, report_row_count: int | None) -> bool: ...

    async def live_segment_count(self, uuid: str) -> int: ...

    async def instance(self, uuid: str) -> Instance | None: ...


class SyncWorker:
    """Claims due syncs and runs them; `delays` are the waits before each attempt (seconds)."""

    def __init__(
        self,
        sync: AttendanceSync,
        db: Transactions[SyncQueue],
        delays: Sequence[float],
        *,
        lease_seconds: float = 300.0,
        clock: Clock = system_clock,
    ) -> None:
        if not delays:
            raise ValueError("at least one sync attempt is needed")
        self._sync = sync
        self._db = db
        self.delays = tuple(delays)
        self._lease = timedelta(seconds=lease_seconds)
        self._clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Runs the worker in the background for the life of the event loop (asyncio.run cancels it)."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="attendance-sync-worker")

    def first_attempt_at(self, ended_at: datetime) -> datetime:
        return ended_at + timedelta(seconds=self.delays[0])

    def wake(self) -> None:
        """Look at the queue now (this process just scheduled a sync)."""
        self._wake.set()

    async def run(self) -> None:
        """Runs until cancelled; a failing round is logged and retried after a pause."""
        while True:
            try:
                while await self.run_once():
                    pass
                pause = await self._until_next_due()
            except Exception:  # noqa: BLE001 -- the loop must outlive a database or Zoom outage
                _log.exception("attendance.sync_worker_failed")
                pause = _IDLE_SECONDS
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=pause)

    async def _until_next_due(self) -> float:
        async with self._db.as_system() as queue:
            due = await queue.next_sync_due()
        if due is None:
            return _IDLE_SECONDS
        return min(_IDLE_SECONDS, max(0.0, (due - self._clock()).total_seconds()))

    async def run_once(self) -> bool:
        """Runs one due sync, if any; True when one was run."""
        now = self._clock()
        async with self._db.as_system() as queue:
            due = await queue.claim_due_sync(now, now + self._lease)
            live = 0 if due is None else await queue.live_segment_count(due.uuid)
        if due is None or self._sync.source is None:
            return False
        last = due.attempt >= len(self.delays)
        try:
            report = await self._sync.source.report(due.uuid)
        except (ReportNotReady, ZoomError) as exc:
            _log.info(
                "attendance.report_not_ready",
                extra={"meeting_id": due.meeting_id, "attempt": due.attempt, "error": type(exc).__name__},
            )
            report = None
        complete = report is not None and report_is_complete(report, live)
        if not complete and not last:
            async with self._db.as_system() as queue:
                kept = await queue.retry_sync_at(
                    due.uuid, self._clock() + timedelta(seconds=self.delays[due.attempt]), attempt=due.attempt
                )
            SYNCS.labels("retry" if kept else "lost_claim").inc()
            return True
        # Complete, or out of attempts: sync what there is (the live segments if Zoom never
        # produced a report), so the class still gets its records.
        outcome = await self._sync.apply(due.meeting_id, due.uuid, report or None, actor=None)
        state = "done" if complete else "gave_up"
        async with self._db.as_system() as queue:
            kept = await queue.finish_sync(
                due.uuid, attempt=due.attempt, state=state, report_row_count=len(report or ())
            )
            instance = await queue.instance(due.uuid)
        SYNCS.labels(state if kept else "lost_claim").inc()
        if kept and instance is not None and instance.end_time is not None:
            SYNC_LAG.observe(max((self._clock() - instance.end_time).total_seconds(), 0.0))
        _log.info(
            "attendance.synced",
            extra={
                "meeting_id": due.meeting_id,
                "attempt": due.attempt,
                "complete": complete,
                "segments_written": outcome.segments_written,
                "records_written": outcome.records_written,
            },
        )
        return True
