"""The job worker: claims items with leases (FOR UPDATE SKIP LOCKED), registers them at Zoom and
records outcomes. Runs in every replica; a killed replica's items are claimed again when their
lease expires, and Zoom's same-email answer makes the repeat find the first registrant.

Item states: pending → in_progress (leased) → registered | already_registered | not_eligible |
failed | cancelled; a retryable failure goes back to pending with a not-before time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from prometheus_client import Counter

from common.audit import record_audits
from registration_service.domain import MAX_ITEM_ATTEMPTS, Outcome, retry_delay
from registration_service.read_models import StoredRegistration
from registration_service.registrar import BATCH_LIMIT, Attempt, Person, Registrar, TargetMeeting
from registration_service.repository import ClaimedItem, Database, ItemResult

__all__ = ["RegistrationWorker", "WorkerConfig"]

_log = logging.getLogger(__name__)

# Single adds a worker takes at once. Each claim and each record is a transaction, so a larger
# group spends less CPU per add (bench.registration: 4.9 ms per add with 5, 3.9 ms with 30). The
# shared Light pacing decides when each is sent: 4 workers x 30 in flight wait at most about 4 s
# at Pro's 28.6/s (3 replicas x 6 workers at Business+'s 72/s: about 8 s), well inside the Zoom
# deadline (half the 60 s lease), so no add is sent after its item could have been claimed again.
SINGLE_CLAIM = 30
# Zoom's rate limits are capacity, not faults: an item refused by pacing waits its turn longer.
MAX_PACED_ATTEMPTS = 50

ITEMS = Counter("rollcall_registration_items_total", "Job items finished, by outcome", ["outcome"])


class WorkerConfig:
    def __init__(
        self,
        *,
        owner: str,
        concurrency: int = 4,
        lease: timedelta = timedelta(seconds=60),
        idle_poll_seconds: float = 1.0,
    ) -> None:
        self.owner = owner
        self.concurrency = concurrency
        self.lease = lease
        self.idle_poll_seconds = idle_poll_seconds

    @property
    def zoom_timeout_seconds(self) -> float:
        """A Zoom operation must give up well before the lease ends, or a second worker could
        claim the item while the first is still sending it."""
        return max(self.lease.total_seconds() * 0.5, 1.0)


class RegistrationWorker:
    def __init__(self, db: Database, registrar: Registrar, config: WorkerConfig, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._registrar = registrar
        self._config = config
        self._clock = clock
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def wake(self) -> None:
        self._wakeup.set()

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._loop(poller=i == 0), name=f"registration-worker-{i}")
            for i in range(self._config.concurrency)
        ]

    async def stop(self) -> None:
        """Stops the workers and hands their items back, so another replica need not wait for the
        leases to run out."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        try:
            async with self._db.as_system() as repo:
                released = await repo.release_items(self._config.owner)
        except Exception:  # noqa: BLE001 -- stopping must finish; the leases hand the items back later
            _log.warning("registration.release_failed", extra={"event": "registration.release_failed"}, exc_info=True)
            return
        _log.info("registration.items_released", extra={"event": "registration.items_released", "count": released})

    async def _loop(self, *, poller: bool) -> None:
        """While there is nothing to do only the poller looks for work (a new job elsewhere, a
        lease run out, a deferred item due); any worker that claims some wakes the others. An
        idle replica costs one claim a second, not one per worker."""
        while True:
            try:
                worked = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 -- a database blip must not kill the worker; leases protect items
                _log.exception("registration worker round failed")
                worked = False
            if not worked:
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self._config.idle_poll_seconds if poller else None)

    async def run_once(self) -> bool:
        """Claims and processes one group of items; False when there was nothing to do."""
        async with self._db.as_system_statement() as repo:
            items = await repo.claim(self._config.owner, self._config.lease, BATCH_LIMIT, SINGLE_CLAIM)
            if not items:
                return False
        self._wakeup.set()  # there may be more: idle workers join in
        settled = [i for i in items if i.registered]
        to_send = [i for i in items if not i.registered]
        attempts: dict[uuid.UUID, Attempt] = {}
        if to_send:
            first = to_send[0]
            meeting = TargetMeeting(first.meeting_id, first.meeting_type, first.approval_type)
            people = [Person(i.student_id, i.email, i.display_name) for i in to_send]
            attempts = await self._registrar.register(
                meeting, people, batch=True, timeout_seconds=self._config.zoom_timeout_seconds
            )
        await self._record(items[0].job_id, settled, to_send, attempts)
        return True

    async def _record(
        self,
        job_id: uuid.UUID,
        settled: Sequence[ClaimedItem],
        sent: Sequence[ClaimedItem],
        attempts: dict[uuid.UUID, Attempt],
    ) -> None:
        owner = self._config.owner
        finished = [ItemResult(i.item_id, Outcome.ALREADY_REGISTERED.value) for i in settled]
        rows: list[StoredRegistration] = []
        deferred: dict[datetime, list[int]] = {}
        reasons: dict[datetime, str] = {}
        quota_resume: datetime | None = None
        for item in sent:
            attempt = attempts[item.student_id]
            result = attempt.result
            if result.outcome is Outcome.REGISTERED and result.registrant_id:
                status = TargetMeeting(item.meeting_id, item.meeting_type, item.approval_type).status
                rows.append(
                    StoredRegistration(item.meeting_id, item.student_id, result.registrant_id, result.join_url, status)
                )
                finished.append(ItemResult(item.item_id, Outcome.REGISTERED.value))
            elif result.retryable and (
                attempt.resume_at is not None
                or item.attempts < MAX_ITEM_ATTEMPTS
                or (attempt.paced and item.attempts < MAX_PACED_ATTEMPTS)
            ):
                until = attempt.resume_at or self._clock() + retry_delay(item.attempts, attempt.retry_after_seconds)
                if attempt.resume_at is not None:
                    quota_resume = min(quota_resume or until, until)
                deferred.setdefault(until, []).append(item.item_id)
                reasons[until] = result.reason
            else:
                finished.append(
                    ItemResult(item.item_id, result.outcome.value, result.reason or None, result.zoom_error_code)
                )
        async with self._db.as_system() as repo:
            await repo.lock_jobs([job_id])
            await repo.store_registrations(rows)
            await repo.finish_items(owner, finished)
            for until, ids in deferred.items():
                await repo.defer_items(owner, ids, until, reasons[until])
            if quota_resume is not None:
                await repo.wait_for_quota(job_id, quota_resume)
            await record_audits(
                repo.session,
                None,
                "registration.register_student",
                target_type="meeting_registrant",
                target_ids=[f"{r.meeting_id}:{r.student_id}" for r in rows],
                detail=f"job {job_id}",
            )
            await repo.complete_finished_jobs([job_id])
        for done in finished:
            ITEMS.labels(done.state).inc()
