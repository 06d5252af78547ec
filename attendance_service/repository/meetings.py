"""Reads of meetings and classes, each in one query so a read costs one database round trip.

They run in the caller's transaction: row-level security decides what the caller sees, and the
use case's policy check decides what the caller may do with it.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from attendance_service.domain import ExpectedStudent
from attendance_service.read_models import ClassInfo, MeetingInfo, MeetingOverview, RecordView
from attendance_service.repository._rows import (
    CLASS_COLUMNS,
    CLASS_STUDENTS,
    INSTANCE_SEGMENTS,
    MEETING_COLUMNS,
    RECORD_JSON,
    caller_columns,
    class_of,
    meeting_of,
    record_of_json,
    segment_of_json,
    student_of_json,
)

__all__ = ["MeetingQueries"]

_CALLER = caller_columns(":caller")

_OVERVIEW = text(
    f"""SELECT {MEETING_COLUMNS}, {CLASS_COLUMNS}, {_CALLER},
        {CLASS_STUDENTS} AS students, {INSTANCE_SEGMENTS} AS segments
    FROM zoom_meetings m LEFT JOIN classes c ON c.id = m.class_id WHERE m.id = :meeting_id"""
)
# The class date is the latest occurrence's date in the class's timezone (07:30 in Manila is
# still that day); PostgreSQL's zone rules and Python's zoneinfo agree on it.
_SHEET = text(
    f"""SELECT {MEETING_COLUMNS}, {CLASS_COLUMNS}, {_CALLER}, d.day,
        (SELECT count(*) FROM enrollments e WHERE e.class_id = m.class_id) AS enrolled,
        (SELECT coalesce(json_agg({RECORD_JSON} ORDER BY u.display_name, r.student_id), '[]'::json)
           FROM attendance_records r JOIN users u ON u.id = r.student_id
          WHERE r.class_id = m.class_id AND r.attendance_date = d.day) AS records,
        CASE WHEN m.status = 'started' THEN {INSTANCE_SEGMENTS} END AS segments
    FROM zoom_meetings m LEFT JOIN classes c ON c.id = m.class_id
    LEFT JOIN LATERAL (
        SELECT (coalesce((SELECT max(i.start_time) FROM meeting_instances i WHERE i.meeting_id = m.id), m.start_time)
                AT TIME ZONE c.timezone)::date AS day
    ) d ON true
    WHERE m.id = :meeting_id"""
)
_CLASS = text(
    f"""SELECT {CLASS_COLUMNS},
        EXISTS (SELECT 1 FROM enrollments e WHERE e.class_id = c.id AND e.student_id = :caller) AS caller_enrolled
    FROM classes c WHERE c.id = :class_id"""
)
_MEETING = text(
    f"""SELECT {MEETING_COLUMNS}, {CLASS_COLUMNS}, {_CALLER}
    FROM zoom_meetings m LEFT JOIN classes c ON c.id = m.class_id WHERE m.id = :meeting_id"""
)
_ENROLLED = text("SELECT EXISTS (SELECT 1 FROM enrollments WHERE class_id = :class_id AND student_id = :student_id)")


class MeetingQueries:
    """Queries of meetings, classes and their students within one session's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def meeting_overview(self, meeting_id: int, caller: uuid.UUID | None) -> MeetingOverview | None:
        """The meeting, its class, the caller's relation, the enrolled students and the current
        instance's segments; None when the caller cannot see the meeting or it does not exist."""
        row = (await self.session.execute(_OVERVIEW, {"meeting_id": meeting_id, "caller": caller})).one_or_none()
        if row is None:
            return None
        return MeetingOverview(
            meeting=meeting_of(row),
            school_class=class_of(row),
            caller_zoom_user_id=row.caller_zoom_user_id,
            caller_enrolled=row.caller_enrolled,
            students=tuple(student_of_json(s) for s in row.students),
            segments=tuple(segment_of_json(s) for s in row.segments),
        )

    async def attendance_sheet(
        self, meeting_id: int, caller: uuid.UUID | None
    ) -> tuple[MeetingOverview, date | None, int, tuple[RecordView, ...]] | None:
        """The meeting (with live segments while it runs), its class date, the class's enrolled
        count and its records for that date; None when the caller cannot see the meeting."""
        row = (await self.session.execute(_SHEET, {"meeting_id": meeting_id, "caller": caller})).one_or_none()
        if row is None:
            return None
        overview = MeetingOverview(
            meeting=meeting_of(row),
            school_class=class_of(row),
            caller_zoom_user_id=row.caller_zoom_user_id,
            caller_enrolled=row.caller_enrolled,
            students=(),
            segments=tuple(segment_of_json(s) for s in row.segments or ()),
        )
        return overview, row.day, row.enrolled, tuple(record_of_json(r) for r in row.records)

    async def meeting(self, meeting_id: int, caller: uuid.UUID | None) -> MeetingOverview | None:
        """The meeting, its class and the caller's relation, without students or segments."""
        row = (await self.session.execute(_MEETING, {"meeting_id": meeting_id, "caller": caller})).one_or_none()
        if row is None:
            return None
        return MeetingOverview(
            meeting=meeting_of(row),
            school_class=class_of(row),
            caller_zoom_user_id=row.caller_zoom_user_id,
            caller_enrolled=row.caller_enrolled,
            students=(),
            segments=(),
        )

    async def school_class(self, class_id: uuid.UUID, caller: uuid.UUID | None) -> tuple[ClassInfo, bool] | None:
        """The class and whether the caller is enrolled in it; None when not visible."""
        row = (await self.session.execute(_CLASS, {"class_id": class_id, "caller": caller})).one_or_none()
        info = None if row is None else class_of(row)
        return None if info is None or row is None else (info, row.caller_enrolled)

    async def is_enrolled(self, class_id: uuid.UUID, student_id: uuid.UUID) -> bool:
        return bool((await self.session.execute(_ENROLLED, {"class_id": class_id, "student_id": student_id})).scalar())

    async def expected_students(self, class_id: uuid.UUID) -> tuple[ExpectedStudent, ...]:
        rows = await self.session.execute(
            text(
                "SELECT u.id, u.display_name, u.email FROM enrollments e JOIN users u ON u.id = e.student_id "
                "WHERE e.class_id = :class_id ORDER BY u.display_name, u.id"
            ),
            {"class_id": class_id},
        )
        return tuple(ExpectedStudent(str(r.id), r.display_name, r.email) for r in rows)

    async def meeting_info(self, meeting_id: int) -> MeetingInfo | None:
        row = (await self.session.execute(_MEETING, {"meeting_id": meeting_id, "caller": None})).one_or_none()
        return None if row is None else meeting_of(row)
