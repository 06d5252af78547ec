"""Proto <-> domain for the attendance servicer: request fields parsed (bad ones as field
violations), domain values turned into messages. No decisions are made here."""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from rollcall.attendance.v1 import attendance_service_pb2 as pb

from attendance_service.domain import AttendanceSource, AttendanceStatus, MatchMethod, Person, Segment, Statistics
from attendance_service.live import ChangeKind, RosterChange
from attendance_service.read_models import (
    AttendanceSheet,
    MeetingInfo,
    ParticipantsView,
    RecordFilter,
    RecordView,
    SyncOutcome,
)
from attendance_service.reconcile import Counts
from attendance_service.view_cache import Lru
from common.errors import FieldViolation, InvalidArgument
from common.grpc.convert import duration_message, timestamp_message

__all__ = [
    "ParticipantsResponses",
    "attendance_response",
    "change_message",
    "date_of",
    "meeting_id_of",
    "participants_response",
    "record_filter",
    "record_message",
    "status_of",
    "sync_response",
    "uuid_of",
]

_MEETING_STATUS = {
    "scheduled": pb.MEETING_STATUS_SCHEDULED,
    "started": pb.MEETING_STATUS_STARTED,
    "ended": pb.MEETING_STATUS_ENDED,
}
_STATUS = {
    AttendanceStatus.PRESENT: pb.ATTENDANCE_STATUS_PRESENT,
    AttendanceStatus.LATE: pb.ATTENDANCE_STATUS_LATE,
    AttendanceStatus.PARTIAL: pb.ATTENDANCE_STATUS_PARTIAL,
    AttendanceStatus.ABSENT: pb.ATTENDANCE_STATUS_ABSENT,
    AttendanceStatus.EXCUSED: pb.ATTENDANCE_STATUS_EXCUSED,
}
_STATUS_OF = {value: key for key, value in _STATUS.items()}
_SOURCE = {
    AttendanceSource.ZOOM: pb.ATTENDANCE_SOURCE_ZOOM,
    AttendanceSource.QR: pb.ATTENDANCE_SOURCE_QR,
    AttendanceSource.MANUAL: pb.ATTENDANCE_SOURCE_MANUAL,
}
_MATCH = {
    MatchMethod.REGISTRANT_ID: pb.MATCH_METHOD_REGISTRANT_ID,
    MatchMethod.EMAIL: pb.MATCH_METHOD_EMAIL,
    MatchMethod.NAME: pb.MATCH_METHOD_NAME,
    MatchMethod.UNMATCHED: pb.MATCH_METHOD_UNMATCHED,
}
_CHANGE = {
    ChangeKind.SNAPSHOT: pb.ROSTER_CHANGE_TYPE_SNAPSHOT,
    ChangeKind.JOINED: pb.ROSTER_CHANGE_TYPE_JOINED,
    ChangeKind.LEFT: pb.ROSTER_CHANGE_TYPE_LEFT,
    ChangeKind.MEETING_STARTED: pb.ROSTER_CHANGE_TYPE_MEETING_STARTED,
    ChangeKind.MEETING_ENDED: pb.ROSTER_CHANGE_TYPE_MEETING_ENDED,
}


# ---- requests ------------------------------------------------------------------------------


def meeting_id_of(value: int) -> int:
    if value <= 0:
        raise InvalidArgument(FieldViolation("meeting_id", "must be a Zoom meeting id (a positive number)"))
    return value


def uuid_of(field: str, value: str, *, required: bool) -> uuid.UUID | None:
    if not value:
        if required:
            raise InvalidArgument(FieldViolation(field, "is required"))
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidArgument(FieldViolation(field, "must be a UUID")) from None


def date_of(field: str, value: str, *, required: bool) -> date | None:
    if not value:
        if required:
            raise InvalidArgument(FieldViolation(field, "is required (YYYY-MM-DD)"))
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(FieldViolation(field, "must be a date, YYYY-MM-DD")) from None


def status_of(field: str, value: int) -> AttendanceStatus:
    status: AttendanceStatus | None = _STATUS_OF.get(value)  # type: ignore[call-overload]
    if status is None:
        raise InvalidArgument(FieldViolation(field, "must be a status other than UNSPECIFIED"))
    return status


def record_filter(request: pb.ListAttendanceRecordsRequest | pb.StreamAttendanceRecordsRequest) -> RecordFilter:
    start = date_of("start_date", request.start_date, required=False)
    end = date_of("end_date", request.end_date, required=False)
    if start and end and end < start:
        raise InvalidArgument(FieldViolation("end_date", "must not be before start_date"))
    return RecordFilter(
        class_id=uuid_of("class_id", request.class_id, required=False),
        student_id=uuid_of("student_id", request.student_id, required=False),
        start_date=start,
        end_date=end,
        statuses=frozenset(status_of("statuses", s) for s in request.statuses if s),
    )


# ---- responses -----------------------------------------------------------------------------


def meeting_message(meeting: MeetingInfo) -> pb.Meeting:
    return pb.Meeting(
        meeting_id=meeting.meeting_id,
        uuid=meeting.uuid or "",
        topic=meeting.topic,
        start_time=timestamp_message(meeting.start_time),
        scheduled_duration=duration_message(meeting.duration),
        timezone=meeting.timezone,
        status=_MEETING_STATUS.get(meeting.status, pb.MEETING_STATUS_UNSPECIFIED),
        class_id=str(meeting.class_id) if meeting.class_id else "",
        end_time=timestamp_message(meeting.end_time),
        host_id=meeting.host_id,
    )


def _segment(segment: Segment) -> pb.Segment:
    seconds = segment.duration_seconds
    if seconds is None and segment.leave_time is not None:
        seconds = int((segment.leave_time - segment.join_time).total_seconds())
    return pb.Segment(
        join_time=timestamp_message(segment.join_time),
        leave_time=timestamp_message(segment.leave_time),
        duration=duration_message(None if seconds is None else timedelta(seconds=seconds)),
        zoom_user_id=segment.zoom_user_id,
        registrant_id=segment.registrant_id or "",
        display_name=segment.display_name,
    )


def participant_message(person: Person) -> pb.Participant:
    return pb.Participant(
        participant_key=person.key,
        display_name=person.display_name,
        email=person.email or "",
        student_id=person.student_id or "",
        match_method=_MATCH[person.match_method],
        first_join_time=timestamp_message(person.first_join),
        last_leave_time=timestamp_message(person.last_leave),
        attended_duration=duration_message(person.attended),
        segments=[_segment(s) for s in person.segments],
        in_meeting=person.in_meeting,
    )


def statistics_message(statistics: Statistics) -> pb.ParticipantStatistics:
    return pb.ParticipantStatistics(
        total_participants=statistics.total_participants,
        joined_count=statistics.joined_count,
        expected_count=statistics.expected_count,
        attendance_rate_percent=statistics.attendance_rate_percent,
        total_duration=duration_message(statistics.total_duration),
        average_duration=duration_message(statistics.average_duration),
    )


def participants_response(view: ParticipantsView) -> pb.GetMeetingParticipantsResponse:
    messages = {person.key: participant_message(person) for person in view.people}
    return pb.GetMeetingParticipantsResponse(
        meeting=meeting_message(view.meeting),
        participants=list(messages.values()),
        expected_attendees=[
            pb.ExpectedAttendee(
                student_id=e.student.student_id,
                display_name=e.student.display_name,
                email=e.student.email,
                attended=e.attended,
                participant=messages[e.person.key] if e.person else None,
            )
            for e in view.expected
        ],
        unmatched_participants=[messages[p.key] for p in view.unmatched],
        statistics=statistics_message(view.statistics),
        live=view.live,
    )


class ParticipantsResponses:
    """`participants_response`, remembered per (meeting, caller) for the view seen last, with its
    bytes on the wire: MeetingReads hands back the same view object while nothing behind it
    changed, so each message is built and serialized once per change, and a newer view replaces
    the older one's message rather than piling up beside it. Messages handed out are shared and
    must not be modified; `serialize` is the method's response serializer (ReplacingSerializers)."""

    def __init__(self, capacity: int) -> None:
        self._held: Lru[Hashable, _HeldResponse] = Lru(capacity)
        self._wire: dict[int, _HeldResponse] = {}  # the held ones, by id(message)

    def of(self, key: Hashable, view: ParticipantsView) -> pb.GetMeetingParticipantsResponse:
        held = self._held.get(key)
        if held is not None and held.view is view:
            return held.message
        message = participants_response(view)
        fresh = _HeldResponse(view, message, message.SerializeToString())
        gone = self._held.put(key, fresh)
        for old in gone:
            self._wire.pop(id(old.message), None)
        if fresh not in gone:
            self._wire[id(message)] = fresh
        return message

    def serialize(self, message: pb.GetMeetingParticipantsResponse) -> bytes:
        held = self._wire.get(id(message))
        return held.wire if held is not None and held.message is message else message.SerializeToString()


@dataclass(frozen=True, slots=True, eq=False)
class _HeldResponse:
    view: ParticipantsView
    message: pb.GetMeetingParticipantsResponse
    wire: bytes


def counts_message(counts: Counts) -> pb.AttendanceCounts:
    return pb.AttendanceCounts(
        present_count=counts.present,
        late_count=counts.late,
        partial_count=counts.partial,
        absent_count=counts.absent,
        excused_count=counts.excused,
        enrolled_count=counts.enrolled,
    )


def record_message(record: RecordView) -> pb.AttendanceRecord:
    return pb.AttendanceRecord(
        record_id=str(record.record_id),
        class_id=str(record.class_id),
        student_id=str(record.student_id),
        student_display_name=record.student_display_name,
        attendance_date=record.attendance_date.isoformat(),
        meeting_id=record.meeting_id or 0,
        status=_STATUS[record.status],
        attended_minutes=record.attended_seconds // 60,
        first_join_time=timestamp_message(record.first_join),
        last_leave_time=timestamp_message(record.last_leave),
        source=_SOURCE[record.source],
        left_early=record.left_early,
        note=record.note or "",
        update_time=timestamp_message(record.updated_at),
    )


def records_message(records: Iterable[RecordView]) -> list[pb.AttendanceRecord]:
    return [record_message(r) for r in records]


def attendance_response(sheet: AttendanceSheet) -> pb.GetMeetingAttendanceResponse:
    return pb.GetMeetingAttendanceResponse(
        meeting=meeting_message(sheet.meeting),
        linked=sheet.linked,
        class_id=str(sheet.class_id) if sheet.class_id else "",
        attendance_date=sheet.attendance_date.isoformat() if sheet.attendance_date else "",
        counts=counts_message(sheet.counts) if sheet.linked else None,
        records=records_message(sheet.records),
        provisional=sheet.provisional,
        provisional_reason="the meeting is in progress: final records come when it ends" if sheet.provisional else "",
        live_participants=[participant_message(p) for p in sheet.live_people],
    )


def sync_response(outcome: SyncOutcome) -> pb.SyncMeetingAttendanceResponse:
    return pb.SyncMeetingAttendanceResponse(
        report_row_count=outcome.report_row_count,
        segments_written=outcome.segments_written,
        matched_count=outcome.matched_count,
        unmatched_count=outcome.unmatched_count,
        records_written=outcome.records_written,
        records_unchanged=outcome.records_unchanged,
        counts=counts_message(outcome.counts),
    )


def change_message(change: RosterChange) -> pb.WatchMeetingParticipantsResponse:
    return pb.WatchMeetingParticipantsResponse(
        change_type=_CHANGE[change.kind],
        participant=participant_message(change.person) if change.person else None,
        participants=[participant_message(p) for p in change.people],
        statistics=statistics_message(change.statistics),
        event_time=timestamp_message(change.event_time),
    )
