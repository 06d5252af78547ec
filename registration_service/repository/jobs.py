"""Queries on registration jobs and their items: creation, claiming with leases, outcomes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from registration_service.domain import JobCounts, JobState, JobView

__all__ = ["JOB_CHANNEL", "ClaimedItem", "ItemResult", "JobQueries", "NewItem"]

# Every transaction that changes what a job watcher sees NOTIFYs the job id here; watchers on
# any replica read the job again (registration_service.job_changes).
JOB_CHANNEL = "rollcall_registration_jobs"


@dataclass(frozen=True, slots=True)
class NewItem:
    meeting_id: int
    student_id: uuid.UUID
    state: str = "pending"
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ClaimedItem:
    """An item leased to this worker, with what Zoom needs to register the student."""

    item_id: int
    job_id: uuid.UUID
    meeting_id: int
    meeting_type: int
    approval_type: int
    student_id: uuid.UUID
    email: str = field(repr=False)
    display_name: str = field(repr=False)
    attempts: int
    created_by: uuid.UUID | None
    registered: bool = False  # the pair is stored as registered already: no Zoom call needed


@dataclass(frozen=True, slots=True)
class ItemResult:
    item_id: int
    state: str
    reason: str | None = None
    zoom_error_code: int | None = None


_ACTIVE_PAIRS = text(
    "SELECT meeting_id, student_id FROM meeting_registrants WHERE meeting_id = ANY(:ids) "
    "AND student_id = ANY(CAST(:students AS uuid[])) AND status IN ('approved', 'pending')"
)

_CLAIM = text(
    "WITH first AS MATERIALIZED ("
    "  SELECT i.job_id, i.meeting_id, "
    "    CASE WHEN m.meeting_type = 2 THEN :batch_limit ELSE :single_limit END AS size "
    "  FROM registration_job_items i "
    "  JOIN registration_jobs j ON j.id = i.job_id JOIN zoom_meetings m ON m.id = i.meeting_id "
    "  WHERE i.state IN ('pending', 'in_progress') "
    "    AND (i.lease_expires_at IS NULL OR i.lease_expires_at < now()) "
    "    AND j.state IN ('queued', 'running', 'waiting_for_quota') "
    "  ORDER BY i.id LIMIT 1 FOR UPDATE OF i SKIP LOCKED), "
    "picked AS ("
    "  SELECT i.id FROM registration_job_items i, first "
    "  WHERE i.job_id = first.job_id AND i.meeting_id = first.meeting_id "
    "    AND i.state IN ('pending', 'in_progress') "
    "    AND (i.lease_expires_at IS NULL OR i.lease_expires_at < now()) "
    "  ORDER BY i.id LIMIT (SELECT size FROM first) FOR UPDATE OF i SKIP LOCKED), "
    "leased AS ("
    "  UPDATE registration_job_items i SET state = 'in_progress', attempts = i.attempts + 1, "
    "    lease_owner = :owner, lease_expires_at = now() + make_interval(secs => :lease), "
    "    updated_at = now() "
    "  FROM picked WHERE i.id = picked.id "
    "  RETURNING i.id, i.job_id, i.meeting_id, i.student_id, i.attempts), "
    "started AS ("
    "  UPDATE registration_jobs SET state = 'running', started_at = coalesce(started_at, now()), resume_at = NULL "
    "  WHERE id = (SELECT j.id FROM registration_jobs j WHERE j.id = (SELECT job_id FROM first) "
    "    AND j.state IN ('queued', 'waiting_for_quota') AND EXISTS (SELECT 1 FROM leased) "
    "    FOR UPDATE OF j SKIP LOCKED) "
    "  RETURNING pg_notify(:channel, id::text)) "
    "SELECT l.id, l.job_id, l.meeting_id, l.student_id, l.attempts, m.meeting_type, m.approval_type, "
    "  u.email, u.display_name, j.created_by, EXISTS (SELECT 1 FROM meeting_registrants r "
    "    WHERE r.meeting_id = l.meeting_id AND r.student_id = l.student_id "
    "    AND r.status IN ('approved', 'pending')) AS registered "
    "FROM leased l JOIN zoom_meetings m ON m.id = l.meeting_id JOIN users u ON u.id = l.student_id "
    "JOIN registration_jobs j ON j.id = l.job_id ORDER BY l.id"
)


class JobQueries:
    session: AsyncSession

    async def create_job(
        self, class_id: uuid.UUID, meeting_ids: Sequence[int], created_by: uuid.UUID | None
    ) -> uuid.UUID:
        job_id = uuid.uuid4()
        await self.session.execute(
            text(
                "INSERT INTO registration_jobs (id, class_id, meeting_ids, created_by) "
                "VALUES (:id, :class_id, :meeting_ids, :created_by)"
            ),
            {"id": job_id, "class_id": class_id, "meeting_ids": list(meeting_ids), "created_by": created_by},
        )
        return job_id

    async def add_items(self, job_id: uuid.UUID, items: Sequence[NewItem]) -> None:
        if not items:
            return
        await self.session.execute(
            text(
                "INSERT INTO registration_job_items (job_id, meeting_id, student_id, state, reason) "
                "SELECT :job_id, * FROM unnest(CAST(:meeting_ids AS bigint[]), CAST(:student_ids AS uuid[]), "
                "CAST(:states AS text[]), CAST(:reasons AS text[]))"
            ),
            {
                "job_id": job_id,
                "meeting_ids": [i.meeting_id for i in items],
                "student_ids": [str(i.student_id) for i in items],
                "states": [i.state for i in items],
                "reasons": [i.reason for i in items],
            },
        )

    async def active_pairs(
        self, meeting_ids: Sequence[int], students: Sequence[uuid.UUID]
    ) -> set[tuple[int, uuid.UUID]]:
        """Pairs of these meetings and students already registered (approved or pending): job
        creation asks about the class's students, never about all of a meeting's registrants."""
        rows = await self.session.execute(
            _ACTIVE_PAIRS, {"ids": list(meeting_ids), "students": [str(s) for s in students]}
        )
        return {(row.meeting_id, row.student_id) for row in rows}

    async def job(self, job_id: uuid.UUID, rate_window: timedelta) -> JobView | None:
        row = (
            await self.session.execute(
                text(
                    "SELECT j.id, j.class_id, j.state, j.meeting_ids, j.created_at, j.started_at, j.finished_at, "
                    "j.resume_at, "
                    "count(i.id) FILTER (WHERE i.state IN ('pending', 'in_progress')) AS pending, "
                    "count(i.id) FILTER (WHERE i.state = 'registered') AS registered, "
                    "count(i.id) FILTER (WHERE i.state = 'already_registered') AS already_registered, "
                    "count(i.id) FILTER (WHERE i.state = 'not_eligible') AS not_eligible, "
                    "count(i.id) FILTER (WHERE i.state = 'failed') AS failed, "
                    "count(i.id) FILTER (WHERE i.state = 'cancelled') AS cancelled, "
                    "count(i.id) FILTER (WHERE i.state IN ('registered', 'already_registered', 'not_eligible', "
                    "'failed') AND i.attempts > 0 AND i.updated_at > now() - make_interval(secs => :window)) "
                    "AS recent_done "
                    "FROM registration_jobs j LEFT JOIN registration_job_items i ON i.job_id = j.id "
                    "WHERE j.id = :id GROUP BY j.id"
                ),
                {"id": job_id, "window": rate_window.total_seconds()},
            )
        ).first()
        if row is None:
            return None
        counts = JobCounts(
            pending=row.pending,
            registered=row.registered,
            already_registered=row.already_registered,
            not_eligible=row.not_eligible,
            failed=row.failed,
            cancelled=row.cancelled,
        )
        return JobView(
            job_id=row.id,
            class_id=row.class_id,
            state=JobState(row.state),
            counts=counts,
            meeting_ids=tuple(row.meeting_ids),
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            resume_at=row.resume_at,
            recent_done=row.recent_done,
            rate_window=rate_window,
        )

    async def cancel_job(self, job_id: uuid.UUID) -> None:
        """Cancels items not sent yet; items being sent finish and keep their outcome.

        The job row is changed first: a worker putting items back (`defer_items`, `release_items`)
        locks the job row before its items, so it either commits first, and the item update below,
        a later statement, sees its items pending and cancels them, or waits and then sees the job
        cancelled. Items first would let a worker read the job as running meanwhile and leave
        pending items in a cancelled job that nobody claims."""
        await self.session.execute(
            text(
                "UPDATE registration_jobs SET state = 'cancelled', finished_at = coalesce(finished_at, now()) "
                "WHERE id = :id AND state IN ('queued', 'running', 'waiting_for_quota') "
                "RETURNING pg_notify(:channel, id::text)"
            ),
            {"id": job_id, "channel": JOB_CHANNEL},
        )
        await self.session.execute(
            text(
                "UPDATE registration_job_items SET state = 'cancelled', updated_at = now() "
                "WHERE job_id = :id AND (state = 'pending' OR (state = 'in_progress' AND lease_expires_at < now()))"
            ),
            {"id": job_id},
        )

    # ---- workers ---------------------------------------------------------------------------------

    async def claim(self, owner: str, lease: timedelta, batch_limit: int, single_limit: int) -> list[ClaimedItem]:
        """Leases claimable items of one (job, meeting): pending ones whose time has come, and items
        whose lease expired (their worker died). SKIP LOCKED lets replicas share. A scheduled
        meeting gets up to `batch_limit` (one batch call), others `single_limit` single adds:
        a worker takes no more than Zoom's pacing lets it send before the lease ends.

        One statement: it also marks the job running and says which pairs are registered already
        (a retry of an item whose first attempt was stored), so a claim costs one round trip.
        The job row is locked with SKIP LOCKED: the statement holds item locks, so waiting for a
        job row that a cancel holds (it then wants those items) would deadlock. A job skipped so
        is being cancelled, or is in a worker's record for a moment; the next claim marks it."""
        rows = await self.session.execute(
            _CLAIM,
            {
                "owner": owner,
                "lease": lease.total_seconds(),
                "batch_limit": batch_limit,
                "single_limit": single_limit,
                "channel": JOB_CHANNEL,
            },
        )
        return [
            ClaimedItem(
                item_id=row.id,
                job_id=row.job_id,
                meeting_id=row.meeting_id,
                meeting_type=row.meeting_type,
                approval_type=row.approval_type,
                student_id=row.student_id,
                email=row.email,
                display_name=row.display_name,
                attempts=row.attempts,
                created_by=row.created_by,
                registered=row.registered,
            )
            for row in rows
        ]

    async def finish_items(self, owner: str, results: Sequence[ItemResult]) -> None:
        """Records final outcomes of items this worker still holds (a lost lease changes nothing)."""
        if not results:
            return
        await self.session.execute(
            text(
                "UPDATE registration_job_items i SET state = r.state, reason = r.reason, "
                "zoom_error_code = r.code, lease_owner = NULL, lease_expires_at = NULL, updated_at = now() "
                "FROM unnest(CAST(:ids AS bigint[]), CAST(:states AS text[]), CAST(:reasons AS text[]), "
                "CAST(:codes AS int[])) AS r(id, state, reason, code) "
                "WHERE i.id = r.id AND i.lease_owner = :owner AND i.state = 'in_progress'"
            ),
            {
                "owner": owner,
                "ids": [r.item_id for r in results],
                "states": [r.state for r in results],
                "reasons": [r.reason for r in results],
                "codes": [r.zoom_error_code for r in results],
            },
        )

    async def defer_items(self, owner: str, item_ids: Sequence[int], until: datetime, reason: str) -> None:
        """Puts items back to pending, claimable again at `until` (a retry later or after a quota reset);
        items of a job cancelled meanwhile are cancelled instead. The caller holds the job's lock
        (`lock_jobs`), so a cancel is either committed and seen here or waits for this one."""
        await self.session.execute(
            text(
                "UPDATE registration_job_items i SET reason = :reason, lease_owner = NULL, lease_expires_at = :until, "
                "updated_at = now(), state = CASE WHEN j.state = 'cancelled' THEN 'cancelled' ELSE 'pending' END "
                "FROM registration_jobs j WHERE j.id = i.job_id "
                "AND i.id = ANY(:ids) AND i.lease_owner = :owner AND i.state = 'in_progress'"
            ),
            {"owner": owner, "ids": list(item_ids), "until": until, "reason": reason},
        )

    async def release_items(self, owner: str) -> int:
        """Hands back every item `owner` still holds, claimable at once by another replica (a
        graceful stop). Zoom answers a repeat of one already sent with the same registrant. The jobs
        are locked first, as in `defer_items`, so a concurrent cancel is seen."""
        await self.session.execute(
            text(
                "SELECT id FROM registration_jobs WHERE id IN (SELECT job_id FROM registration_job_items "
                "WHERE lease_owner = :owner AND state = 'in_progress') ORDER BY id FOR UPDATE"
            ),
            {"owner": owner},
        )
        result = await self.session.execute(
            text(
                "UPDATE registration_job_items i SET lease_owner = NULL, lease_expires_at = NULL, "
                "updated_at = now(), state = CASE WHEN j.state = 'cancelled' THEN 'cancelled' ELSE 'pending' END "
                "FROM registration_jobs j WHERE j.id = i.job_id AND i.lease_owner = :owner "
                "AND i.state = 'in_progress'"
            ),
            {"owner": owner},
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def wait_for_quota(self, job_id: uuid.UUID, resume_at: datetime) -> None:
        await self.session.execute(
            text(
                "UPDATE registration_jobs SET state = 'waiting_for_quota', resume_at = :resume_at "
                "WHERE id = :id AND state IN ('queued', 'running')"
            ),
            {"id": job_id, "resume_at": resume_at},
        )

    async def lock_jobs(self, job_ids: Sequence[uuid.UUID]) -> None:
        """Locks job rows, in id order, before a transaction changes their items: every writer of
        both takes the job first (claim excepted: it skips a locked job), so concurrent workers and
        a cancel serialise per job instead of deadlocking or missing each other's changes.

        The same statement tells the jobs' watchers (JOB_CHANNEL): PostgreSQL sends the notice
        when this transaction commits, and drops it if it rolls back."""
        await self.session.execute(
            text(
                "SELECT id, pg_notify(:channel, id::text) FROM registration_jobs "
                "WHERE id = ANY(CAST(:ids AS uuid[])) ORDER BY id FOR UPDATE"
            ),
            {"ids": [str(j) for j in job_ids], "channel": JOB_CHANNEL},
        )

    async def complete_finished_jobs(self, job_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
        """Marks jobs whose every item reached an outcome as completed; returns those.

        The caller took the job locks (`lock_jobs`) at the start of its transaction. Two workers
        finishing the last items of one job in concurrent transactions would otherwise each see the
        other's items still in progress and neither complete the job (make soak found one in 200
        runs stuck so); with the lock the second waits for the first to commit, and its statements,
        newer, see those items done.
        """
        rows = await self.session.execute(
            text(
                "UPDATE registration_jobs j SET state = 'completed', finished_at = now(), resume_at = NULL "
                "WHERE j.id = ANY(CAST(:ids AS uuid[])) AND j.state IN ('queued', 'running', 'waiting_for_quota') "
                "AND NOT EXISTS (SELECT 1 FROM registration_job_items i WHERE i.job_id = j.id "
                "AND i.state IN ('pending', 'in_progress')) RETURNING j.id"
            ),
            {"ids": [str(j) for j in job_ids]},
        )
        return [row.id for row in rows]
