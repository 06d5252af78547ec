"""What the repositories hand back and the use cases return: frozen values, no ORM rows, no protos.

The servicer turns these into messages; nothing here knows about gRPC or SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from uuid import UUID

from attendance_service.domain import (
    AttendancePolicy,
    AttendanceSource,
    AttendanceStatus,
    ExpectedStudent,
    Person,
    Segment,
    Statistics,
)
from attendance_service.reconcile import Counts
from common.security.policy import Facts

__all__ = [
    "AttendanceSheet",
    "ClassInfo",
    "ExpectedAttendee",
    "MeetingInfo",
    "MeetingOverview",
    "MeetingRoster",
    "ParticipantsView",
    "ReadAudit",
    "RecordFilter",
    "RecordKey",
    "RecordView",
    "SyncOutcome",
]


@dataclass(frozen=True, slots=True)
class ClassInfo:
    """A class with the thresholds its attendance is computed with."""

    class_id: UUID
    teacher_id: UUID
    timezone: str
    policy: AttendancePolicy
    qr_ip_limit: int


@dataclass(frozen=True, slots=True)
class MeetingInfo:
    """A Zoom meeting as rollcall stores it; `status` is "scheduled", "started" or "ended"."""

    meeting_id: int
    uuid: str | None
    topic: str
    start_time: datetime | None
    duration: timedelta
    timezone: str
    status: str
    class_id: UUID | None
    end_time: datetime | None
    host_id: str
    instance_start: datetime | None = None

    @property
    def occurrence_start(self) -> datetime | None:
        """When the latest known occurrence started (else the schedule): fixes the class date."""
        return self.instance_start or self.start_time


@dataclass(frozen=True, slots=True)
class MeetingOverview:
    """Everything one read of a meeting needs, loaded in one query under the caller's identity."""

    meeting: MeetingInfo
    school_class: ClassInfo | None
    caller_zoom_user_id: str | None
    caller_enrolled: bool
    students: tuple[ExpectedStudent, ...]
    segments: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class MeetingRoster:
    """A meeting's enrolled students and its current instance's segments, as one caller sees them.

    `token` changes in the same transaction as any row behind them, or the caller's right to see
    them, and never takes an earlier value again: equal tokens mean equal rosters.
    """

    token: str
    students: tuple[ExpectedStudent, ...]
    segments: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class ReadAudit:
    """The audit event of a read, to append with it if the target's facts are still `facts`."""

    action: str
    target_type: str
    target_id: str
    facts: Facts


@dataclass(frozen=True, slots=True)
class ExpectedAttendee:
    """An enrolled student and, when they came, their merged participant entry."""

    student: ExpectedStudent
    person: Person | None

    @property
    def attended(self) -> bool:
        return self.person is not None


@dataclass(frozen=True, slots=True)
class ParticipantsView:
    """GetMeetingParticipants' answer: people, expected students, the unmatched, statistics."""

    meeting: MeetingInfo
    people: tuple[Person, ...]
    expected: tuple[ExpectedAttendee, ...]
    unmatched: tuple[Person, ...]
    statistics: Statistics
    live: bool


@dataclass(frozen=True, slots=True)
class RecordView:
    """One attendance record with the student's display name, as callers see it."""

    record_id: UUID
    class_id: UUID
    student_id: UUID
    student_display_name: str
    attendance_date: date
    meeting_id: int | None
    status: AttendanceStatus
    attended_seconds: int
    first_join: datetime | None
    last_leave: datetime | None
    source: AttendanceSource
    left_early: bool
    note: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class AttendanceSheet:
    """GetMeetingAttendance's answer; `linked` False leaves everything but the meeting empty."""

    meeting: MeetingInfo
    linked: bool
    class_id: UUID | None = None
    attendance_date: date | None = None
    counts: Counts = field(default_factory=Counts)
    records: tuple[RecordView, ...] = ()
    provisional: bool = False
    live_people: tuple[Person, ...] = ()


RecordKey = tuple[date, UUID, UUID]
"""Keyset position of a record: (date, class, student), the order every listing uses."""


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """Filters of ListAttendanceRecords and its streaming and export siblings."""

    class_id: UUID | None = None
    student_id: UUID | None = None
    start_date: date | None = None
    end_date: date | None = None
    statuses: frozenset[AttendanceStatus] = field(default_factory=frozenset)
    teacher_id: UUID | None = None  # only classes this teacher teaches


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    """What one sync did (SyncMeetingAttendanceResponse)."""

    report_row_count: int
    segments_written: int
    matched_count: int
    unmatched_count: int
    records_written: int
    records_unchanged: int
    counts: Counts
