"""Turning query rows (and the JSON arrays the one-query reads aggregate) into domain values."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from attendance_service.domain import (
    AttendancePolicy,
    AttendanceSource,
    AttendanceStatus,
    ExpectedStudent,
    MatchMethod,
    Segment,
)
from attendance_service.read_models import ClassInfo, MeetingInfo, RecordView

__all__ = [
    "CLASS_COLUMNS",
    "CLASS_STUDENTS",
    "INSTANCE_SEGMENTS",
    "MEETING_COLUMNS",
    "RECORD_JSON",
    "SEGMENT_JSON",
    "STUDENT_JSON",
    "caller_columns",
    "class_of",
    "meeting_of",
    "record_of_json",
    "segment_of_json",
    "student_of_json",
    "time_of",
]

MEETING_COLUMNS = """
    m.id AS meeting_id, m.uuid, m.topic, m.start_time, m.duration_minutes, m.timezone AS meeting_timezone,
    m.status, m.class_id, m.ended_at, m.host_id,
    (SELECT max(i.start_time) FROM meeting_instances i WHERE i.meeting_id = m.id) AS instance_start
"""
CLASS_COLUMNS = """
    c.id AS class_ref, c.teacher_id, c.timezone AS class_timezone, c.late_after_minutes, c.present_min_percent,
    c.ghost_join_seconds, c.early_leave_minutes, c.qr_ip_limit
"""
# JSON arrays keep one-query reads to one round trip; the order of fields is the parsers' below.
SEGMENT_JSON = """json_build_array(p.zoom_user_id, p.join_time, p.leave_time, p.name, p.email, p.registrant_id,
    p.zoom_participant_id, p.duration_seconds, p.student_id, p.match_method)"""
STUDENT_JSON = "json_build_array(u.id, u.display_name, u.email)"
RECORD_JSON = """json_build_array(r.id, r.class_id, r.student_id, u.display_name, r.attendance_date, r.meeting_id,
    r.status, r.attended_seconds, r.first_join_time, r.last_leave_time, r.source, r.left_early, r.note, r.updated_at)"""
# The enrolled students of meeting `m`'s class, and the segments of its current instance (the one
# named by zoom_meetings.uuid; every row when unknown), as JSON arrays.
CLASS_STUDENTS = f"""(SELECT coalesce(json_agg({STUDENT_JSON} ORDER BY u.display_name, u.id), '[]'::json)
    FROM enrollments e JOIN users u ON u.id = e.student_id WHERE e.class_id = m.class_id)"""
INSTANCE_SEGMENTS = f"""(SELECT coalesce(json_agg({SEGMENT_JSON} ORDER BY p.join_time, p.id), '[]'::json)
    FROM zoom_participants p WHERE p.meeting_id = m.id AND p.meeting_uuid = coalesce(m.uuid, p.meeting_uuid))"""


def caller_columns(caller: str) -> str:
    """The caller's Zoom user id and whether they are enrolled in meeting `m`'s class; `caller` is
    the placeholder of the caller's id in the driver's style (`:caller`, `%(caller)s`)."""
    return f"""
    (SELECT u.zoom_user_id FROM users u WHERE u.id = {caller}) AS caller_zoom_user_id,
    EXISTS (SELECT 1 FROM enrollments e WHERE e.class_id = m.class_id AND e.student_id = {caller}) AS caller_enrolled
"""


def time_of(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def segment_of_json(item: Sequence[Any]) -> Segment:
    zoom_user_id, join, leave, name, email, registrant_id, zoom_id, duration, student_id, method = item
    return Segment(
        zoom_user_id=zoom_user_id,
        join_time=_time(join),
        leave_time=time_of(leave),
        display_name=name,
        email=email,
        registrant_id=registrant_id,
        zoom_id=zoom_id,
        duration_seconds=duration,
        student_id=None if student_id is None else str(student_id),
        match_method=MatchMethod(method),
    )


def student_of_json(item: Sequence[Any]) -> ExpectedStudent:
    student_id, display_name, email = item
    return ExpectedStudent(student_id=str(student_id), display_name=display_name, email=email)


def record_of_json(item: Sequence[Any]) -> RecordView:
    (record_id, class_id, student_id, name, day, meeting_id, status, seconds, first, last, source, early, note, at) = (
        item
    )
    return RecordView(
        record_id=uuid.UUID(str(record_id)),
        class_id=uuid.UUID(str(class_id)),
        student_id=uuid.UUID(str(student_id)),
        student_display_name=name,
        attendance_date=date.fromisoformat(day),
        meeting_id=meeting_id,
        status=AttendanceStatus(status),
        attended_seconds=seconds,
        first_join=time_of(first),
        last_leave=time_of(last),
        source=AttendanceSource(source),
        left_early=early,
        note=note,
        updated_at=_time(at),
    )


def meeting_of(row: Any) -> MeetingInfo:
    """A MeetingInfo from a row selected with MEETING_COLUMNS."""
    return MeetingInfo(
        meeting_id=row.meeting_id,
        uuid=row.uuid,
        topic=row.topic,
        start_time=row.start_time,
        duration=timedelta(minutes=row.duration_minutes),
        timezone=row.meeting_timezone,
        status=row.status,
        class_id=row.class_id,
        end_time=row.ended_at,
        host_id=row.host_id,
        instance_start=row.instance_start,
    )


def class_of(row: Any) -> ClassInfo | None:
    """A ClassInfo from a row selected with CLASS_COLUMNS; None when the class is not visible."""
    if row.class_ref is None:
        return None
    return ClassInfo(
        class_id=row.class_ref,
        teacher_id=row.teacher_id,
        timezone=row.class_timezone,
        policy=AttendancePolicy(
            late_after=timedelta(minutes=row.late_after_minutes),
            present_min_percent=row.present_min_percent,
            ghost_join=timedelta(seconds=row.ghost_join_seconds),
            early_leave=timedelta(minutes=row.early_leave_minutes),
        ),
        qr_ip_limit=row.qr_ip_limit,
    )
