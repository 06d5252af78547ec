"""Read use cases: a meeting's participants against its class, and the class's attendance for its date.

Each loads what the decision needs in one query under the caller's identity, authorizes with the
policy table, audits the read (committed before the answer leaves), then computes the answer with
domain rules. Participants, the busiest read, runs as two single statements rather than a
transaction, and reuses the last view built for the same caller while the database says its
roster is unchanged (attendance_service.view_cache).
"""

from __future__ import annotations

import uuid
from contextlib import AbstractAsyncContextManager
from datetime import date
from typing import Protocol

from attendance_service.domain import Person, local_date, people_of, statistics_of
from attendance_service.ports import Clock, Transactions, system_clock
from attendance_service.read_models import (
    AttendanceSheet,
    ExpectedAttendee,
    MeetingOverview,
    MeetingRoster,
    ParticipantsView,
    ReadAudit,
    RecordView,
)
from attendance_service.reconcile import count_statuses
from attendance_service.view_cache import HeldView, Lru, ViewKey
from common.errors import NotFound
from common.security.policy import Action, Facts, authorize, is_allowed
from common.security.principal import Principal

__all__ = [
    "MeetingReads",
    "ParticipantsStore",
    "ReadDatabase",
    "ReadStore",
    "meeting_facts",
    "participants_view",
]


class ReadStore(Protocol):
    async def meeting_overview(self, meeting_id: int, caller: uuid.UUID | None) -> MeetingOverview | None: ...

    async def attendance_sheet(
        self, meeting_id: int, caller: uuid.UUID | None
    ) -> tuple[MeetingOverview, date | None, int, tuple[RecordView, ...]] | None: ...

    async def audit(
        self, actor: Principal | None, action: str, *, target_type: str, target_id: str, detail: str | None = None
    ) -> None: ...


class ParticipantsStore(Protocol):
    async def meeting_roster(
        self, meeting_id: int, held: MeetingRoster | None, audit: ReadAudit | None = None
    ) -> tuple[MeetingOverview, MeetingRoster, bool] | None: ...

    async def audit(
        self, actor: Principal | None, action: str, *, target_type: str, target_id: str, detail: str | None = None
    ) -> None: ...


class ReadDatabase(Transactions[ReadStore], Protocol):
    def statements_as(self, principal: Principal) -> AbstractAsyncContextManager[ParticipantsStore]:
        """As the caller, one statement per call, each committed on its own."""
        ...


def meeting_facts(overview: MeetingOverview) -> Facts:
    """The policy facts of a meeting: its class's teacher, the host, the caller's own standing."""
    school_class = overview.school_class
    return Facts(
        class_teacher_id=school_class.teacher_id if school_class else None,
        caller_enrolled=overview.caller_enrolled,
        meeting_host_id=overview.meeting.host_id,
        caller_zoom_user_id=overview.caller_zoom_user_id,
    )


def refuse_missing(principal: Principal, action: Action, what: str) -> NotFound:
    """For a target the caller cannot see: PermissionDenied unless they could see everything, so
    the answer never tells whether it exists to someone who may not know."""
    authorize(principal, action, Facts())
    return NotFound(f"{what} not found", reason="NOT_FOUND")


def participants_view(overview: MeetingOverview, people: list[Person]) -> ParticipantsView:
    """People, expected students (attended when they have a segment), the unmatched, statistics."""
    by_student = {p.student_id: p for p in people if p.student_id}
    expected = tuple(ExpectedAttendee(s, by_student.get(s.student_id)) for s in overview.students)
    return ParticipantsView(
        meeting=overview.meeting,
        people=tuple(people),
        expected=expected,
        unmatched=tuple(p for p in people if p.student_id is None),
        statistics=statistics_of(people, overview.students),
        live=overview.meeting.status == "started",
    )


class MeetingReads:
    """GetMeetingParticipants and GetMeetingAttendance."""

    def __init__(self, db: ReadDatabase, clock: Clock = system_clock, *, held_views: int = 256) -> None:
        self._db = db
        self._clock = clock
        self._held: Lru[ViewKey, HeldView] = Lru(held_views)

    async def participants(self, principal: Principal, meeting_id: int) -> ParticipantsView:
        """The same view object as last time for this caller when neither the roster nor the
        meeting changed and nobody is still in the meeting (so the servicer can reuse its message).

        A caller the policy allowed last time under the same facts reads and is audited in one
        statement (see attendance_service.repository.participants); the policy is still checked
        on this read's facts, and a read it refuses leaves no audit row."""
        action = Action.READ_PARTICIPANTS
        key: ViewKey = (meeting_id, principal.user_id, principal.role)
        held = self._held.get(key)  # taken before the read: the database compares this one's token
        audit = (
            ReadAudit(action.value, "meeting", str(meeting_id), held.facts)
            if held is not None and is_allowed(principal, action, held.facts)
            else None
        )
        async with self._db.statements_as(principal) as store:
            found = await store.meeting_roster(meeting_id, held.roster if held else None, audit)
            if found is None:
                raise refuse_missing(principal, action, "meeting")
            overview, roster, audited = found
            facts = meeting_facts(overview)
            authorize(principal, action, facts)
            if not audited:
                await store.audit(principal, action.value, target_type="meeting", target_id=str(meeting_id))
        if held and held.roster is roster and held.view and held.view.meeting == overview.meeting:
            if held.facts != facts:
                self._held.put(key, HeldView(roster, held.view, facts))
            return held.view
        view = participants_view(overview, people_of(roster.segments, self._clock()))
        timeless = all(segment.leave_time is not None for segment in roster.segments)
        self._held.put(key, HeldView(roster, view if timeless else None, facts))
        return view

    async def attendance(self, principal: Principal, meeting_id: int) -> AttendanceSheet:
        async with self._db.as_caller(principal) as store:
            found = await store.attendance_sheet(meeting_id, principal.user_id)
            if found is None:
                raise refuse_missing(principal, Action.READ_ATTENDANCE, "meeting")
            overview, day, enrolled, records = found
            authorize(principal, Action.READ_ATTENDANCE, meeting_facts(overview))
            await store.audit(principal, Action.READ_ATTENDANCE.value, target_type="meeting", target_id=str(meeting_id))
        meeting = overview.meeting
        if meeting.class_id is None:
            return AttendanceSheet(meeting=meeting, linked=False)
        if day is None and meeting.occurrence_start is not None:
            # The caller hosts the meeting but may not see its class: use the meeting's own zone.
            day = local_date(meeting.occurrence_start, meeting.timezone)
        live = meeting.status == "started"
        return AttendanceSheet(
            meeting=meeting,
            linked=True,
            class_id=meeting.class_id,
            attendance_date=day,
            counts=count_statuses((r.status for r in records), enrolled),
            records=records,
            provisional=live,
            live_people=tuple(people_of(overview.segments, self._clock())) if live else (),
        )
