"""RegisterStudent: one student into every upcoming registration-enabled meeting of a class.

Validates first (class, student, enrollment, email domain, upcoming meetings), answers meetings
stored as registered from the database without calling Zoom, registers the rest at Zoom
concurrently, and stores each registrant with its audit event in one transaction.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from common.errors import FailedPrecondition, NotFound, ResourceExhausted, Unavailable
from common.security.policy import Action, Facts, authorize
from common.security.principal import Principal
from registration_service.domain import (
    EmailDomainPolicy,
    Outcome,
    PairResult,
    Summary,
    summarize,
    upcoming_registrable,
)
from registration_service.read_models import ClassInfo, MeetingRow, StoredRegistration
from registration_service.registrar import Attempt, Person, Registrar, TargetMeeting
from registration_service.repository import Database, RegistrationRepository

__all__ = ["StudentRegistration", "StudentRegistrationResult", "class_facts", "load_class"]

_NOT_ELIGIBLE_CODES = frozenset({404, 3001})


@dataclass(frozen=True, slots=True)
class StudentRegistrationResult:
    class_id: uuid.UUID
    student_id: uuid.UUID
    meetings: tuple[tuple[MeetingRow, PairResult], ...]

    @property
    def summary(self) -> Summary:
        return summarize(result for _, result in self.meetings)


def class_facts(school_class: ClassInfo | None) -> Facts:
    return Facts(class_teacher_id=school_class.teacher_id if school_class else None)


async def load_class(
    repo: RegistrationRepository, principal: Principal, action: Action, class_id: uuid.UUID
) -> ClassInfo:
    """The class, once the caller may act on it. A class the caller cannot see is refused the same
    way whether or not it exists; only callers who may see every class hear NOT_FOUND."""
    school_class = await repo.school_class(class_id)
    authorize(principal, action, class_facts(school_class))
    if school_class is None:
        raise NotFound("class not found", reason="NOT_FOUND")
    return school_class


def _stored_result(stored: StoredRegistration) -> PairResult:
    return PairResult(Outcome.ALREADY_REGISTERED, stored.registrant_id, stored.join_url)


def _raise_if_nothing_worked(results: Sequence[Attempt]) -> None:
    """When Zoom refused every attempt for one passing reason, the call as a whole failed: say so
    with the status that tells the caller when to come back."""
    if not results or any(not a.result.retryable for a in results):
        return
    resumes = [a.resume_at for a in results]
    if all(r is not None for r in resumes):
        raise ResourceExhausted(
            "Zoom's daily registration limit is spent", reason="ZOOM_DAILY_LIMIT", retry_at=min(r for r in resumes if r)
        )
    raise Unavailable("Zoom is not answering; nothing was registered, try again later", reason="ZOOM_UNAVAILABLE")


class StudentRegistration:
    def __init__(
        self,
        db: Database,
        registrar: Registrar | None,
        domains: EmailDomainPolicy,
        clock: Callable[[], datetime],
        zoom_timeout_seconds: float,
    ) -> None:
        self._db = db
        self._registrar = registrar
        self._domains = domains
        self._clock = clock
        self._timeout = zoom_timeout_seconds

    async def register(
        self, principal: Principal, class_id: uuid.UUID, student_id: uuid.UUID
    ) -> StudentRegistrationResult:
        async with self._db.as_caller(principal) as repo:
            await load_class(repo, principal, Action.REGISTER_STUDENT, class_id)
            student = await repo.student(class_id, student_id)
            if student is None:
                raise NotFound("student not found", reason="NOT_FOUND")
            if not student.enrolled:
                raise FailedPrecondition("the student is not enrolled in this class", reason="NOT_ENROLLED")
            if not self._domains.allows(student.email):
                raise FailedPrecondition(
                    f"the student's email domain is not allowed (allowed: {', '.join(self._domains.allowed_domains)})",
                    reason="EMAIL_DOMAIN_NOT_ALLOWED",
                )
            meetings = await repo.class_meetings(class_id)
            upcoming_ids = [m.meeting_id for m in upcoming_registrable((m.ref for m in meetings), self._clock())]
            if not upcoming_ids:
                raise FailedPrecondition(
                    "the class has no upcoming meeting with registration enabled", reason="NO_UPCOMING_MEETING"
                )
            by_id = {m.meeting_id: m for m in meetings}
            upcoming = [by_id[i] for i in upcoming_ids]
            stored = await repo.registrations(student_id, upcoming_ids)
        results: dict[int, PairResult] = {
            m.meeting_id: _stored_result(stored[m.meeting_id])
            for m in upcoming
            if m.meeting_id in stored and stored[m.meeting_id].active
        }
        to_send = [m for m in upcoming if m.meeting_id not in results]
        if to_send:
            if self._registrar is None:
                raise Unavailable("Zoom is not configured for this service", reason="ZOOM_NOT_CONFIGURED")
            person = Person(student.student_id, student.email, student.display_name)
            attempts = await asyncio.gather(*(self._send(m, person) for m in to_send))
            _raise_if_nothing_worked(attempts)
            results.update(await self._store(principal, student_id, to_send, attempts))
        return StudentRegistrationResult(class_id, student_id, tuple((m, results[m.meeting_id]) for m in upcoming))

    async def _send(self, meeting: MeetingRow, person: Person) -> Attempt:
        assert self._registrar is not None
        target = TargetMeeting(meeting.meeting_id, meeting.meeting_type, meeting.approval_type)
        outcome = await self._registrar.register(target, [person], batch=False, timeout_seconds=self._timeout)
        return outcome[person.student_id]

    async def _store(
        self, principal: Principal, student_id: uuid.UUID, meetings: Sequence[MeetingRow], attempts: Sequence[Attempt]
    ) -> dict[int, PairResult]:
        results: dict[int, PairResult] = {}
        rows = []
        for meeting, attempt in zip(meetings, attempts, strict=True):
            results[meeting.meeting_id] = attempt.result
            if attempt.result.outcome is Outcome.REGISTERED and attempt.result.registrant_id:
                status = TargetMeeting(meeting.meeting_id, meeting.meeting_type, meeting.approval_type).status
                rows.append(
                    StoredRegistration(
                        meeting.meeting_id, student_id, attempt.result.registrant_id, attempt.result.join_url, status
                    )
                )
        async with self._db.as_caller(principal) as repo:
            written = await repo.store_registrations(rows)
            lost = [r.meeting_id for r in rows if (r.meeting_id, student_id) not in written]
            if lost:
                # Another call stored these pairs first: report what is stored, never a second row.
                for meeting_id, stored in (await repo.registrations(student_id, lost)).items():
                    results[meeting_id] = _stored_result(stored)
            for meeting, attempt in zip(meetings, attempts, strict=True):
                code = attempt.result.zoom_error_code
                if attempt.result.outcome is Outcome.NOT_ELIGIBLE and code in _NOT_ELIGIBLE_CODES:
                    await repo.mark_registration_off(meeting.meeting_id)
            for meeting_id, outcome in results.items():
                await repo.audit(
                    principal,
                    "registration.register_student",
                    target_type="meeting_registrant",
                    target_id=f"{meeting_id}:{student_id}",
                    success=outcome.outcome in (Outcome.REGISTERED, Outcome.ALREADY_REGISTERED),
                    detail=outcome.outcome.value + (f" ({outcome.reason})" if outcome.reason else ""),
                )
        return results
