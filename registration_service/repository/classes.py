"""Queries on classes, students, meetings and stored registrations."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from registration_service.read_models import ClassInfo, MeetingRow, RegistrantView, StoredRegistration, StudentInfo

__all__ = ["ClassQueries"]

_MEETING_COLUMNS = (
    "m.id, m.class_id, m.topic, m.meeting_type, m.approval_type, m.start_time, m.duration_minutes, m.timezone, "
    "m.status, m.host_id, m.uuid, m.join_url"
)
_REGISTRANT_COUNT = (
    "(SELECT count(*) FROM meeting_registrants r WHERE r.meeting_id = m.id AND r.status IN ('approved', 'pending'))"
)


def _meeting(row: Row[tuple[object, ...]], registrant_count: int = 0) -> MeetingRow:
    return MeetingRow(
        meeting_id=row.id,
        class_id=row.class_id,
        topic=row.topic,
        meeting_type=row.meeting_type,
        approval_type=row.approval_type,
        start_time=row.start_time,
        duration=timedelta(minutes=row.duration_minutes),
        timezone=row.timezone,
        status=row.status,
        host_id=row.host_id,
        uuid=row.uuid,
        join_url=row.join_url,
        registrant_count=registrant_count,
    )


def _class(row: Row[tuple[object, ...]]) -> ClassInfo:
    return ClassInfo(
        class_id=row.id,
        name=row.name,
        section=row.section,
        school_year=row.school_year,
        timezone=row.timezone,
        teacher_id=row.teacher_id,
        teacher_name=row.teacher_name or "",
        teacher_zoom_user_id=row.teacher_zoom_user_id,
        student_count=row.student_count,
    )


_CLASS_SELECT = (
    "SELECT c.id, c.name, c.section, c.school_year, c.timezone, c.teacher_id, t.display_name AS teacher_name, "
    "t.zoom_user_id AS teacher_zoom_user_id, "
    "(SELECT count(*) FROM enrollments e WHERE e.class_id = c.id) AS student_count "
    "FROM classes c LEFT JOIN users t ON t.id = c.teacher_id"
)


class ClassQueries:
    session: AsyncSession

    async def school_class(self, class_id: uuid.UUID) -> ClassInfo | None:
        row = (await self.session.execute(text(f"{_CLASS_SELECT} WHERE c.id = :id"), {"id": class_id})).first()
        return _class(row) if row else None

    async def classes_page(self, after: tuple[str, uuid.UUID] | None, limit: int) -> list[ClassInfo]:
        """Classes the caller can see (row-level security filters), by name then id."""
        where = "WHERE (c.name, c.id) > (:name, :id)" if after else ""
        params: dict[str, object] = {"limit": limit}
        if after:
            params.update(name=after[0], id=after[1])
        rows = await self.session.execute(text(f"{_CLASS_SELECT} {where} ORDER BY c.name, c.id LIMIT :limit"), params)
        return [_class(row) for row in rows]

    async def student(self, class_id: uuid.UUID, student_id: uuid.UUID) -> StudentInfo | None:
        row = (
            await self.session.execute(
                text(
                    "SELECT u.id, u.email, u.display_name, "
                    "EXISTS (SELECT 1 FROM enrollments e WHERE e.class_id = :class_id AND e.student_id = u.id) "
                    "AS enrolled FROM users u WHERE u.id = :student_id AND u.role = 'student'"
                ),
                {"class_id": class_id, "student_id": student_id},
            )
        ).first()
        return StudentInfo(row.id, row.email, row.display_name, row.enrolled) if row else None

    async def enrolled_students(self, class_id: uuid.UUID) -> list[StudentInfo]:
        rows = await self.session.execute(
            text(
                "SELECT u.id, u.email, u.display_name FROM enrollments e JOIN users u ON u.id = e.student_id "
                "WHERE e.class_id = :class_id ORDER BY u.id"
            ),
            {"class_id": class_id},
        )
        return [StudentInfo(row.id, row.email, row.display_name, True) for row in rows]

    async def students_page(
        self, class_id: uuid.UUID, after: tuple[str, uuid.UUID] | None, limit: int
    ) -> tuple[list[StudentInfo], int]:
        """A page of the class's students by display name then id, and how many are enrolled."""
        params: dict[str, object] = {"class_id": class_id, "limit": limit}
        total = (
            await self.session.execute(
                text("SELECT count(*) FROM enrollments WHERE class_id = :class_id"), {"class_id": class_id}
            )
        ).scalar_one()
        where = ""
        if after:
            where = "AND (u.display_name, u.id) > (:name, :id)"
            params.update(name=after[0], id=after[1])
        rows = await self.session.execute(
            text(
                "SELECT u.id, u.email, u.display_name FROM enrollments e JOIN users u ON u.id = e.student_id "
                f"WHERE e.class_id = :class_id {where} ORDER BY u.display_name, u.id LIMIT :limit"
            ),
            params,
        )
        return [StudentInfo(row.id, row.email, row.display_name, True) for row in rows], int(total)

    async def class_meetings(
        self, class_id: uuid.UUID, after: tuple[datetime | None, int] | None = None, limit: int | None = None
    ) -> list[MeetingRow]:
        """Meetings of the class by start time (undated last), then id."""
        order = "coalesce(m.start_time, 'infinity'::timestamptz)"
        where = f"AND ({order}, m.id) > (coalesce(:start, 'infinity'::timestamptz), :id)" if after else ""
        params: dict[str, object] = {"class_id": class_id, "limit": limit}
        if after:
            params.update(start=after[0], id=after[1])
        rows = await self.session.execute(
            text(
                f"SELECT {_MEETING_COLUMNS}, {_REGISTRANT_COUNT} AS registrant_count FROM zoom_meetings m "
                f"WHERE m.class_id = :class_id {where} ORDER BY {order}, m.id LIMIT :limit"
            ),
            params,
        )
        return [_meeting(row, row.registrant_count) for row in rows]

    async def meeting(self, meeting_id: int) -> MeetingRow | None:
        row = (
            await self.session.execute(
                text(
                    f"SELECT {_MEETING_COLUMNS}, {_REGISTRANT_COUNT} AS registrant_count FROM zoom_meetings m "
                    "WHERE m.id = :id"
                ),
                {"id": meeting_id},
            )
        ).first()
        return _meeting(row, row.registrant_count) if row else None

    async def save_meeting(self, meeting: MeetingRow) -> None:
        """Stores (or refreshes) a meeting and links it to its class."""
        await self.session.execute(
            text(
                "INSERT INTO zoom_meetings (id, uuid, class_id, host_id, topic, meeting_type, start_time, "
                "duration_minutes, timezone, approval_type, status, join_url) VALUES (:id, :uuid, :class_id, "
                ":host_id, :topic, :meeting_type, :start_time, :duration, :timezone, :approval_type, :status, "
                ":join_url) ON CONFLICT (id) DO UPDATE SET uuid = coalesce(EXCLUDED.uuid, zoom_meetings.uuid), "
                "class_id = EXCLUDED.class_id, host_id = EXCLUDED.host_id, topic = EXCLUDED.topic, "
                "meeting_type = EXCLUDED.meeting_type, start_time = EXCLUDED.start_time, "
                "duration_minutes = EXCLUDED.duration_minutes, timezone = EXCLUDED.timezone, "
                "approval_type = EXCLUDED.approval_type, join_url = EXCLUDED.join_url, updated_at = now()"
            ),
            {
                "id": meeting.meeting_id,
                "uuid": meeting.uuid,
                "class_id": meeting.class_id,
                "host_id": meeting.host_id,
                "topic": meeting.topic,
                "meeting_type": meeting.meeting_type,
                "start_time": meeting.start_time,
                "duration": int(meeting.duration.total_seconds() // 60),
                "timezone": meeting.timezone,
                "approval_type": meeting.approval_type,
                "status": meeting.status,
                "join_url": meeting.join_url,
            },
        )

    async def mark_registration_off(self, meeting_id: int) -> None:
        """Zoom said registration is off: remember it, so later calls skip the meeting."""
        await self.session.execute(
            text("UPDATE zoom_meetings SET approval_type = 2, updated_at = now() WHERE id = :id"), {"id": meeting_id}
        )

    # ---- registrations --------------------------------------------------------------------------

    async def registrations(self, student_id: uuid.UUID, meeting_ids: Sequence[int]) -> dict[int, StoredRegistration]:
        rows = await self.session.execute(
            text(
                "SELECT meeting_id, student_id, zoom_registrant_id, join_url, status FROM meeting_registrants "
                "WHERE student_id = :student_id AND meeting_id = ANY(:meeting_ids)"
            ),
            {"student_id": student_id, "meeting_ids": list(meeting_ids)},
        )
        return {
            row.meeting_id: StoredRegistration(
                row.meeting_id, row.student_id, row.zoom_registrant_id, row.join_url, row.status
            )
            for row in rows
        }

    async def store_registrations(self, rows: Iterable[StoredRegistration]) -> dict[tuple[int, uuid.UUID], str]:
        """Stores registrations; a pair stored already keeps its row unless it was cancelled or denied
        (then it is registered again). Returns the registrant id stored for each pair."""
        batch = list(rows)
        if not batch:
            return {}
        result = await self.session.execute(
            text(
                "INSERT INTO meeting_registrants (meeting_id, student_id, zoom_registrant_id, join_url, status) "
                "SELECT * FROM unnest(CAST(:meeting_ids AS bigint[]), CAST(:student_ids AS uuid[]), "
                "CAST(:registrant_ids AS text[]), CAST(:join_urls AS text[]), CAST(:statuses AS text[])) "
                "ON CONFLICT (meeting_id, student_id) DO UPDATE SET zoom_registrant_id = EXCLUDED.zoom_registrant_id, "
                "join_url = EXCLUDED.join_url, status = EXCLUDED.status, registered_at = now(), cancelled_at = NULL "
                "WHERE meeting_registrants.status IN ('cancelled', 'denied') "
                "RETURNING meeting_id, student_id, zoom_registrant_id"
            ),
            {
                "meeting_ids": [r.meeting_id for r in batch],
                "student_ids": [str(r.student_id) for r in batch],
                "registrant_ids": [r.registrant_id for r in batch],
                "join_urls": [r.join_url for r in batch],
                "statuses": [r.status for r in batch],
            },
        )
        return {(row.meeting_id, row.student_id): row.zoom_registrant_id for row in result}

    async def cancel_registration(self, meeting_id: int, student_id: uuid.UUID) -> None:
        await self.session.execute(
            text(
                "UPDATE meeting_registrants SET status = 'cancelled', cancelled_at = now(), join_url = NULL "
                "WHERE meeting_id = :meeting_id AND student_id = :student_id"
            ),
            {"meeting_id": meeting_id, "student_id": student_id},
        )

    async def registrant(self, meeting_id: int, student_id: uuid.UUID) -> RegistrantView | None:
        row = (
            await self.session.execute(
                text(f"{_REGISTRANT_SELECT} WHERE r.meeting_id = :meeting_id AND r.student_id = :student_id"),
                {"meeting_id": meeting_id, "student_id": student_id},
            )
        ).first()
        return _registrant(row) if row else None

    async def registrants_page(
        self, meeting_id: int, statuses: Sequence[str], after: tuple[str, uuid.UUID] | None, limit: int
    ) -> tuple[list[RegistrantView], int]:
        """A page of a meeting's registrants by display name then student id, and the total."""
        params: dict[str, object] = {"meeting_id": meeting_id, "statuses": list(statuses), "limit": limit}
        where = "WHERE r.meeting_id = :meeting_id AND r.status = ANY(:statuses)"
        total = (
            await self.session.execute(text(f"SELECT count(*) FROM meeting_registrants r {where}"), params)
        ).scalar_one()
        if after:
            where += " AND (u.display_name, r.student_id) > (:name, :student_id)"
            params.update(name=after[0], student_id=after[1])
        rows = await self.session.execute(
            text(f"{_REGISTRANT_SELECT} {where} ORDER BY u.display_name, r.student_id LIMIT :limit"), params
        )
        return [_registrant(row) for row in rows], int(total)


_REGISTRANT_SELECT = (
    "SELECT r.meeting_id, r.student_id, u.email, u.display_name, r.zoom_registrant_id, r.join_url, r.status, "
    "r.registered_at, r.cancelled_at FROM meeting_registrants r JOIN users u ON u.id = r.student_id"
)


def _registrant(row: Row[tuple[object, ...]]) -> RegistrantView:
    return RegistrantView(
        meeting_id=row.meeting_id,
        student_id=row.student_id,
        email=row.email,
        display_name=row.display_name,
        registrant_id=row.zoom_registrant_id,
        join_url=row.join_url,
        status=row.status,
        registered_at=row.registered_at,
        cancelled_at=row.cancelled_at,
    )
