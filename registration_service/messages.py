"""RegistrationService messages: requests to validated values, results to responses."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rollcall.registration.v1 import registration_service_pb2 as pb

from common.errors import FieldViolation, InvalidArgument
from common.grpc.convert import datetime_of, duration_message, timedelta_of, timestamp_message
from registration_service.catalog import NewMeeting
from registration_service.domain import JobState, JobView, Outcome, PairResult, Summary
from registration_service.read_models import ClassInfo, MeetingRow, RegistrantView, StudentInfo
from registration_service.register import StudentRegistrationResult

__all__ = [
    "class_message",
    "job_message",
    "meeting_message",
    "new_meeting_of",
    "registrant_message",
    "registrant_statuses_of",
    "student_registration_response",
]

_OUTCOME = {
    Outcome.REGISTERED: pb.REGISTRATION_OUTCOME_REGISTERED,
    Outcome.ALREADY_REGISTERED: pb.REGISTRATION_OUTCOME_ALREADY_REGISTERED,
    Outcome.NOT_ELIGIBLE: pb.REGISTRATION_OUTCOME_NOT_ELIGIBLE,
    Outcome.FAILED: pb.REGISTRATION_OUTCOME_FAILED,
}
_JOB_STATE = {
    JobState.QUEUED: pb.JOB_STATE_QUEUED,
    JobState.RUNNING: pb.JOB_STATE_RUNNING,
    JobState.COMPLETED: pb.JOB_STATE_COMPLETED,
    JobState.CANCELLED: pb.JOB_STATE_CANCELLED,
    JobState.WAITING_FOR_QUOTA: pb.JOB_STATE_WAITING_FOR_QUOTA,
}
_REGISTRANT_STATUS = {
    "approved": pb.REGISTRANT_STATUS_APPROVED,
    "pending": pb.REGISTRANT_STATUS_PENDING,
    "cancelled": pb.REGISTRANT_STATUS_CANCELLED,
    "denied": pb.REGISTRANT_STATUS_DENIED,
}
_STATUS_FILTER: dict[int, tuple[str, ...]] = {
    pb.REGISTRANT_STATUS_UNSPECIFIED: ("approved", "pending"),
    pb.REGISTRANT_STATUS_APPROVED: ("approved",),
    pb.REGISTRANT_STATUS_PENDING: ("pending",),
    pb.REGISTRANT_STATUS_CANCELLED: ("cancelled",),
    pb.REGISTRANT_STATUS_DENIED: ("denied",),
}
_MEETING_STATUS = {
    "scheduled": pb.MEETING_STATUS_SCHEDULED,
    "started": pb.MEETING_STATUS_STARTED,
    "ended": pb.MEETING_STATUS_ENDED,
}
_APPROVAL = {0: pb.APPROVAL_MODE_AUTOMATIC, 1: pb.APPROVAL_MODE_MANUAL, 2: pb.APPROVAL_MODE_REGISTRATION_OFF}
_RECURRENCE_TYPE = {pb.RECURRENCE_TYPE_DAILY: 1, pb.RECURRENCE_TYPE_WEEKLY: 2}
_MAX_TOPIC = 200


# ---- requests --------------------------------------------------------------------------------


def registrant_statuses_of(value: int) -> tuple[str, ...]:
    statuses = _STATUS_FILTER.get(value)
    if statuses is None:
        raise InvalidArgument(FieldViolation("status", "is not a registrant status"))
    return statuses


def meeting_ids_of(values: Iterable[int]) -> list[int]:
    ids = list(values)
    bad = [v for v in ids if v <= 0]
    if bad:
        raise InvalidArgument(FieldViolation("meeting_ids", "must be Zoom meeting ids (positive numbers)"))
    return ids


def _zoom_recurrence(recurrence: pb.Recurrence) -> dict[str, object]:
    violations = []
    kind = _RECURRENCE_TYPE.get(recurrence.type)
    if kind is None:
        violations.append(FieldViolation("recurrence.type", "must be DAILY or WEEKLY"))
    if not 1 <= recurrence.repeat_interval <= 12:
        violations.append(FieldViolation("recurrence.repeat_interval", "must be within 1 and 12"))
    if not 1 <= recurrence.end_times <= 60:
        violations.append(FieldViolation("recurrence.end_times", "must be within 1 and 60 (Zoom's maximum)"))
    days = list(recurrence.weekly_days)
    if kind == 2 and (not days or any(not 1 <= d <= 7 for d in days)):
        violations.append(FieldViolation("recurrence.weekly_days", "must list ISO weekdays 1 (Monday) to 7 (Sunday)"))
    if violations:
        raise InvalidArgument(violations)
    zoom: dict[str, object] = {
        "type": kind,
        "repeat_interval": recurrence.repeat_interval,
        "end_times": recurrence.end_times,
    }
    if kind == 2:
        # Zoom counts weekdays from Sunday = 1; ISO from Monday = 1.
        zoom["weekly_days"] = ",".join(str(d % 7 + 1) for d in sorted(set(days)))
    return zoom


def new_meeting_of(request: pb.CreateClassMeetingRequest) -> NewMeeting:
    violations = []
    topic = request.topic.strip()
    if not topic or len(topic) > _MAX_TOPIC or not topic.isprintable():
        violations.append(FieldViolation("topic", f"must have 1 to {_MAX_TOPIC} printable characters"))
    duration = timedelta(0)
    try:
        duration = timedelta_of("duration", request.duration, request.HasField("duration"))
        if not timedelta(minutes=1) <= duration <= timedelta(hours=24):
            violations.append(FieldViolation("duration", "must be within 1 minute and 24 hours"))
    except InvalidArgument as error:
        violations.extend(error.violations)
    start = None
    try:
        start = datetime_of("start_time", request.start_time, request.HasField("start_time"))
    except InvalidArgument as error:
        violations.extend(error.violations)
    if request.timezone:
        try:
            ZoneInfo(request.timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            violations.append(FieldViolation("timezone", "must be an IANA timezone such as Asia/Manila"))
    meeting_type: Literal[2, 8] = 2
    if request.type == pb.MEETING_TYPE_RECURRING_FIXED_TIME:
        meeting_type = 8
    elif request.type not in (pb.MEETING_TYPE_UNSPECIFIED, pb.MEETING_TYPE_SCHEDULED):
        violations.append(FieldViolation("type", "must be SCHEDULED or RECURRING_FIXED_TIME"))
    approval: Literal[0, 1] = 0
    if request.approval_mode == pb.APPROVAL_MODE_MANUAL:
        approval = 1
    elif request.approval_mode not in (pb.APPROVAL_MODE_UNSPECIFIED, pb.APPROVAL_MODE_AUTOMATIC):
        violations.append(FieldViolation("approval_mode", "must be AUTOMATIC or MANUAL: registration must be on"))
    recurrence = None
    if meeting_type == 8:
        if not request.HasField("recurrence"):
            violations.append(FieldViolation("recurrence", "is required for RECURRING_FIXED_TIME"))
        else:
            try:
                recurrence = _zoom_recurrence(request.recurrence)
            except InvalidArgument as error:
                violations.extend(error.violations)
    elif request.HasField("recurrence"):
        violations.append(FieldViolation("recurrence", "is only for RECURRING_FIXED_TIME"))
    if len(request.host_user) > 128 or not request.host_user.isprintable():
        violations.append(FieldViolation("host_user", "must have at most 128 printable characters"))
    if violations or start is None:
        raise InvalidArgument(violations)
    return NewMeeting(
        topic=topic,
        start_time=start,
        duration=duration,
        timezone=request.timezone or None,
        meeting_type=meeting_type,
        approval_type=approval,
        host_user=request.host_user or None,
        recurrence=recurrence,
    )


# ---- responses -------------------------------------------------------------------------------


def _meeting_type(zoom_type: int) -> pb.MeetingType.ValueType:
    if zoom_type == 2:
        return pb.MEETING_TYPE_SCHEDULED
    if zoom_type == 8:
        return pb.MEETING_TYPE_RECURRING_FIXED_TIME
    return pb.MEETING_TYPE_OTHER


def _pair(meeting: MeetingRow, result: PairResult) -> pb.MeetingRegistration:
    return pb.MeetingRegistration(
        meeting_id=meeting.meeting_id,
        topic=meeting.topic,
        start_time=timestamp_message(meeting.start_time),
        outcome=_OUTCOME[result.outcome],
        join_url=result.join_url or "",
        registrant_id=result.registrant_id or "",
        reason=result.reason,
        zoom_error_code=result.zoom_error_code or 0,
        retryable=result.retryable,
    )


def _summary(summary: Summary) -> pb.RegistrationSummary:
    return pb.RegistrationSummary(
        total_count=summary.total,
        registered_count=summary.registered,
        already_registered_count=summary.already_registered,
        not_eligible_count=summary.not_eligible,
        failed_count=summary.failed,
    )


def student_registration_response(result: StudentRegistrationResult) -> pb.RegisterStudentResponse:
    return pb.RegisterStudentResponse(
        class_id=str(result.class_id),
        student_id=str(result.student_id),
        registrations=[_pair(m, r) for m, r in result.meetings],
        summary=_summary(result.summary),
    )


def job_message(view: JobView) -> pb.RegistrationJob:
    counts = view.counts
    remaining = view.estimated_remaining
    return pb.RegistrationJob(
        job_id=str(view.job_id),
        class_id=str(view.class_id),
        state=_JOB_STATE[view.state],
        progress=pb.JobProgress(
            total_count=counts.total,
            pending_count=counts.pending,
            registered_count=counts.registered,
            already_registered_count=counts.already_registered,
            not_eligible_count=counts.not_eligible,
            failed_count=counts.failed,
            cancelled_count=counts.cancelled,
        ),
        items_per_second=round(view.items_per_second, 2),
        estimated_remaining_duration=duration_message(remaining) if remaining is not None else None,
        create_time=timestamp_message(view.created_at),
        start_time=timestamp_message(view.started_at),
        end_time=timestamp_message(view.finished_at),
        resume_time=timestamp_message(view.resume_at),
        meeting_ids=list(view.meeting_ids),
    )


def registrant_message(registrant: RegistrantView) -> pb.Registrant:
    return pb.Registrant(
        meeting_id=registrant.meeting_id,
        student_id=str(registrant.student_id),
        email=registrant.email,
        display_name=registrant.display_name,
        registrant_id=registrant.registrant_id,
        join_url=registrant.join_url or "",
        status=_REGISTRANT_STATUS.get(registrant.status, pb.REGISTRANT_STATUS_UNSPECIFIED),
        register_time=timestamp_message(registrant.registered_at),
        cancel_time=timestamp_message(registrant.cancelled_at),
    )


def meeting_message(meeting: MeetingRow) -> pb.ClassMeeting:
    return pb.ClassMeeting(
        meeting_id=meeting.meeting_id,
        uuid=meeting.uuid or "",
        class_id=str(meeting.class_id) if meeting.class_id else "",
        topic=meeting.topic,
        start_time=timestamp_message(meeting.start_time),
        duration=duration_message(meeting.duration),
        timezone=meeting.timezone,
        type=_meeting_type(meeting.meeting_type),
        approval_mode=_APPROVAL.get(meeting.approval_type, pb.APPROVAL_MODE_UNSPECIFIED),
        status=_MEETING_STATUS.get(meeting.status, pb.MEETING_STATUS_UNSPECIFIED),
        join_url=meeting.join_url or "",
        host_id=meeting.host_id,
        registrant_count=meeting.registrant_count,
    )


def class_message(school_class: ClassInfo) -> pb.SchoolClass:
    return pb.SchoolClass(
        class_id=str(school_class.class_id),
        name=school_class.name,
        section=school_class.section,
        school_year=school_class.school_year,
        timezone=school_class.timezone,
        teacher_id=str(school_class.teacher_id),
        teacher_name=school_class.teacher_name,
        student_count=school_class.student_count,
    )


def class_student_message(student: StudentInfo, email_allowed: bool) -> pb.ClassStudent:
    return pb.ClassStudent(
        student_id=str(student.student_id),
        email=student.email,
        display_name=student.display_name,
        email_allowed=email_allowed,
    )
