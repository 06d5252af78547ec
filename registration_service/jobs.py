"""Class registration as a durable job: Start, Get, Watch and Cancel.

Starting a job writes one item per (meeting, student) pair in PostgreSQL; pairs that need no Zoom
call (already registered, email domain not allowed) are settled at once. Workers in any replica
do the rest (registration_service.worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Protocol

from common.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from common.security.policy import Action, authorize
from common.security.principal import Principal
from registration_service.domain import EmailDomainPolicy, JobView, upcoming_registrable
from registration_service.register import class_facts, load_class
from registration_service.repository import Database, NewItem

__all__ = ["RATE_WINDOW", "RegistrationJobs"]

RATE_WINDOW = timedelta(seconds=10)
_DOMAIN_REASON = "the student's email domain is not allowed"


class JobChangeFeed(Protocol):
    """Tells a watcher that its job changed (registration_service.job_changes)."""

    def following(self, job_id: uuid.UUID) -> AbstractAsyncContextManager[asyncio.Event]: ...


class RegistrationJobs:
    """`watch` reads a job when the feed says it changed, at most once per `watch_interval_seconds`
    (a batch job changes ten times a second), and every `refresh_seconds` without a change, so
    its rate and time left stay current and a missed notice costs only a late update."""

    def __init__(
        self,
        db: Database,
        domains: EmailDomainPolicy,
        clock: Callable[[], datetime],
        wake_workers: Callable[[], None],
        changes: JobChangeFeed,
        *,
        watch_interval_seconds: float = 0.5,
        refresh_seconds: float = 5.0,
    ) -> None:
        self._db = db
        self._domains = domains
        self._clock = clock
        self._wake = wake_workers
        self._changes = changes
        self._watch_interval = watch_interval_seconds
        self._refresh = refresh_seconds

    async def start(self, principal: Principal, class_id: uuid.UUID, meeting_ids: Sequence[int]) -> JobView:
        async with self._db.as_caller(principal) as repo:
            await load_class(repo, principal, Action.START_CLASS_REGISTRATION, class_id)
            meetings = await repo.class_meetings(class_id)
            upcoming = [m.meeting_id for m in upcoming_registrable((m.ref for m in meetings), self._clock())]
            if meeting_ids:
                strangers = [i for i in meeting_ids if i not in upcoming]
                if strangers:
                    raise InvalidArgument(
                        FieldViolation(
                            "meeting_ids",
                            "not upcoming registration-enabled meetings of this class: "
                            + ", ".join(map(str, strangers)),
                        )
                    )
                chosen = list(dict.fromkeys(meeting_ids))
            else:
                chosen = upcoming
            if not chosen:
                raise FailedPrecondition(
                    "the class has no upcoming meeting with registration enabled", reason="NO_UPCOMING_MEETING"
                )
            students = await repo.enrolled_students(class_id)
            registered = await repo.active_pairs(chosen, [s.student_id for s in students])
            items = []
            for meeting_id in chosen:
                for student in students:
                    if (meeting_id, student.student_id) in registered:
                        items.append(NewItem(meeting_id, student.student_id, "already_registered"))
                    elif not self._domains.allows(student.email):
                        items.append(NewItem(meeting_id, student.student_id, "not_eligible", _DOMAIN_REASON))
                    else:
                        items.append(NewItem(meeting_id, student.student_id))
            job_id = await repo.create_job(class_id, chosen, principal.user_id)
            await repo.add_items(job_id, items)
            await repo.complete_finished_jobs([job_id])  # a job no one else sees yet needs no lock
            await repo.audit(
                principal,
                "registration.start_class_registration",
                target_type="registration_job",
                target_id=str(job_id),
                detail=f"class {class_id}: {len(items)} items over {len(chosen)} meetings",
            )
            view = await repo.job(job_id, RATE_WINDOW)
        self._wake()
        assert view is not None
        return view

    async def get(
        self, principal: Principal, job_id: uuid.UUID, action: Action = Action.READ_REGISTRATION_JOB
    ) -> JobView:
        async with self._db.as_caller(principal) as repo:
            view = await repo.job(job_id, RATE_WINDOW)
            school_class = await repo.school_class(view.class_id) if view else None
        authorize(principal, action, class_facts(school_class))
        if view is None:
            raise NotFound("registration job not found", reason="NOT_FOUND")
        return view

    async def cancel(self, principal: Principal, job_id: uuid.UUID) -> JobView:
        view = await self.get(principal, job_id, Action.CANCEL_REGISTRATION_JOB)
        if view.state.final:
            return view
        async with self._db.as_caller(principal) as repo:
            await repo.cancel_job(job_id)
            await repo.audit(
                principal, "registration.cancel_job", target_type="registration_job", target_id=str(job_id)
            )
            cancelled = await repo.job(job_id, RATE_WINDOW)
        assert cancelled is not None
        return cancelled

    async def watch(self, principal: Principal, job_id: uuid.UUID) -> AsyncIterator[JobView]:
        """The current state, then each change, until the job is final."""
        async with self._changes.following(job_id) as changed:
            view = await self.get(principal, job_id)
            yield view
            last = view
            while not last.state.final:
                await asyncio.sleep(self._watch_interval)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), self._refresh)
                changed.clear()
                # Authorized by the first read; later ones, one statement as the service, cost
                # one round trip instead of a transaction as the caller (four).
                async with self._db.as_system_statement() as repo:
                    current = await repo.job(job_id, RATE_WINDOW)
                if current is None:
                    return
                if _shown(current) != _shown(last):
                    yield current
                last = current


def _shown(view: JobView) -> tuple[object, ...]:
    """What a watcher sees change: the state and counts, and the rate (items done recently)."""
    return (view.state, view.counts, view.resume_at, view.recent_done)
