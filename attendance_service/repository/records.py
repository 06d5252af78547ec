"""Attendance records and QR check-ins: keyset listings, the sync's writes, manual and QR records.

Listings are ordered by (date, class, student), the primary listing index, so a page costs one
index range scan however deep it is.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from attendance_service.domain import AttendanceSource, AttendanceStatus
from attendance_service.read_models import RecordFilter, RecordKey, RecordView
from attendance_service.reconcile import RecordState

__all__ = ["RecordQueries"]

_RECORD_COLUMNS = """r.id, r.class_id, r.student_id, coalesce(u.display_name, '') AS display_name, r.attendance_date,
    r.meeting_id, r.status, r.attended_seconds, r.first_join_time, r.last_leave_time, r.source, r.left_early,
    r.note, r.updated_at"""

_UPSERT_ZOOM = text(
    """INSERT INTO attendance_records AS r (class_id, student_id, attendance_date, meeting_id, status,
        attended_seconds, first_join_time, last_leave_time, source, left_early, updated_at)
    SELECT :class_id, w.student_id, :day, w.meeting_id, w.status, w.seconds, w.first_join, w.last_leave, 'zoom',
           w.left_early, now()
    FROM unnest(CAST(:students AS uuid[]), CAST(:meetings AS bigint[]), CAST(:statuses AS text[]),
                CAST(:seconds AS int[]), CAST(:firsts AS timestamptz[]), CAST(:lasts AS timestamptz[]),
                CAST(:early AS boolean[]))
         AS w(student_id, meeting_id, status, seconds, first_join, last_leave, left_early)
    ON CONFLICT (class_id, student_id, attendance_date) DO UPDATE SET
        meeting_id = EXCLUDED.meeting_id, status = EXCLUDED.status, attended_seconds = EXCLUDED.attended_seconds,
        first_join_time = EXCLUDED.first_join_time, last_leave_time = EXCLUDED.last_leave_time,
        source = 'zoom', left_early = EXCLUDED.left_early, updated_at = now()
    -- a teacher may have set the record by hand since the sync read it: theirs wins
    WHERE r.source = 'zoom' AND r.status <> 'excused'"""
)
_UPSERT_MANUAL = text(
    f"""WITH w AS (
        INSERT INTO attendance_records AS r (class_id, student_id, attendance_date, status, source, note, updated_by)
        VALUES (:class_id, :student_id, :day, :status, 'manual', :note, :actor)
        ON CONFLICT (class_id, student_id, attendance_date) DO UPDATE SET
            status = EXCLUDED.status, source = 'manual', note = EXCLUDED.note, updated_by = EXCLUDED.updated_by,
            updated_at = now()
        RETURNING *)
    SELECT {_RECORD_COLUMNS} FROM w AS r LEFT JOIN users u ON u.id = r.student_id"""
)
# A QR check-in sets a record only where Zoom saw nothing (or nobody set one yet).
_UPSERT_QR = text(
    """INSERT INTO attendance_records AS r (class_id, student_id, attendance_date, meeting_id, status, source,
        first_join_time)
    VALUES (:class_id, :student_id, :day, :meeting_id, :status, 'qr', :checked_in_at)
    ON CONFLICT (class_id, student_id, attendance_date) DO UPDATE SET
        meeting_id = EXCLUDED.meeting_id, status = EXCLUDED.status, source = 'qr',
        first_join_time = EXCLUDED.first_join_time, updated_at = now()
    WHERE r.source = 'zoom' AND r.status = 'absent'"""
)


class RecordQueries:
    """Queries of attendance records and QR check-ins within one session's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list_records(self, where: RecordFilter, after: RecordKey | None, limit: int) -> list[RecordView]:
        """Up to `limit` records after `after` in (date, class, student) order."""
        conditions = ["TRUE"]
        params: dict[str, Any] = {"limit": limit}
        joins = ""
        if where.teacher_id is not None:
            joins = " JOIN classes c ON c.id = r.class_id AND c.teacher_id = :teacher_id"
            params["teacher_id"] = where.teacher_id
        for column, name, value in (
            ("r.class_id = :class_id", "class_id", where.class_id),
            ("r.student_id = :student_id", "student_id", where.student_id),
            ("r.attendance_date >= :start_date", "start_date", where.start_date),
            ("r.attendance_date <= :end_date", "end_date", where.end_date),
        ):
            if value is not None:
                conditions.append(column)
                params[name] = value
        if where.statuses:
            conditions.append("r.status = ANY(CAST(:statuses AS text[]))")
            params["statuses"] = sorted(s.value for s in where.statuses)
        if after is not None:
            conditions.append(
                "(r.attendance_date, r.class_id, r.student_id) > (:after_date, :after_class, :after_student)"
            )
            params.update(after_date=after[0], after_class=after[1], after_student=after[2])
        query = text(
            f"SELECT {_RECORD_COLUMNS} FROM attendance_records r LEFT JOIN users u ON u.id = r.student_id{joins} "
            f"WHERE {' AND '.join(conditions)} "
            "ORDER BY r.attendance_date, r.class_id, r.student_id LIMIT :limit"
        )
        return [_record_of(row) for row in await self.session.execute(query, params)]

    async def record_states(self, class_id: uuid.UUID, day: date) -> dict[str, RecordState]:
        """The class's records for `day` by student id, as a sync compares them."""
        rows = await self.session.execute(
            text(
                "SELECT student_id, status, source, attended_seconds, first_join_time, last_leave_time, left_early, "
                "meeting_id FROM attendance_records WHERE class_id = :class_id AND attendance_date = :day"
            ),
            {"class_id": class_id, "day": day},
        )
        return {
            str(row.student_id): RecordState(
                status=AttendanceStatus(row.status),
                source=AttendanceSource(row.source),
                attended_seconds=row.attended_seconds,
                first_join=row.first_join_time,
                last_leave=row.last_leave_time,
                left_early=row.left_early,
                meeting_id=row.meeting_id,
            )
            for row in rows
        }

    async def write_zoom_records(self, class_id: uuid.UUID, day: date, writes: Mapping[str, RecordState]) -> None:
        """Upserts the sync's records in one statement."""
        if not writes:
            return
        ordered = sorted(writes.items())
        await self.session.execute(
            _UPSERT_ZOOM,
            {
                "class_id": class_id,
                "day": day,
                "students": [student for student, _ in ordered],
                "meetings": [state.meeting_id for _, state in ordered],
                "statuses": [state.status.value for _, state in ordered],
                "seconds": [state.attended_seconds for _, state in ordered],
                "firsts": [state.first_join for _, state in ordered],
                "lasts": [state.last_leave for _, state in ordered],
                "early": [state.left_early for _, state in ordered],
            },
        )

    async def set_manual(
        self,
        class_id: uuid.UUID,
        student_id: uuid.UUID,
        day: date,
        status: AttendanceStatus,
        note: str | None,
        actor: uuid.UUID,
    ) -> RecordView:
        params = {
            "class_id": class_id,
            "student_id": student_id,
            "day": day,
            "status": status.value,
            "note": note,
            "actor": actor,
        }
        return _record_of((await self.session.execute(_UPSERT_MANUAL, params)).one())

    async def record(self, class_id: uuid.UUID, student_id: uuid.UUID, day: date) -> RecordView | None:
        row = (
            await self.session.execute(
                text(
                    f"SELECT {_RECORD_COLUMNS} FROM attendance_records r LEFT JOIN users u ON u.id = r.student_id "
                    "WHERE r.class_id = :class_id AND r.student_id = :student_id AND r.attendance_date = :day"
                ),
                {"class_id": class_id, "student_id": student_id, "day": day},
            )
        ).one_or_none()
        return None if row is None else _record_of(row)

    async def record_by_id(self, record_id: uuid.UUID) -> RecordView | None:
        row = (
            await self.session.execute(
                text(
                    f"SELECT {_RECORD_COLUMNS} FROM attendance_records r LEFT JOIN users u ON u.id = r.student_id "
                    "WHERE r.id = :record_id"
                ),
                {"record_id": record_id},
            )
        ).one_or_none()
        return None if row is None else _record_of(row)

    # ---- QR check-ins ------------------------------------------------------------------------

    async def lock_session(self, class_id: uuid.UUID, day: date) -> None:
        """Serialises check-ins of one class session, so the per-network count cannot race."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"qr:{class_id}:{day}"}
        )

    async def add_check_in(
        self,
        *,
        class_id: uuid.UUID,
        student_id: uuid.UUID,
        day: date,
        meeting_id: int | None,
        code_id: str,
        ip_hash: bytes,
        ip_key_id: str,
    ) -> bool:
        """Stores the check-in; False when the student had checked in already (the first stays)."""
        inserted = await self.session.execute(
            text(
                "INSERT INTO qr_checkins (class_id, student_id, attendance_date, meeting_id, code_id, ip_hash, "
                "ip_key_id) VALUES (:class_id, :student_id, :day, :meeting_id, :code_id, :ip_hash, :ip_key_id) "
                "ON CONFLICT (class_id, student_id, attendance_date) DO NOTHING RETURNING id"
            ),
            {
                "class_id": class_id,
                "student_id": student_id,
                "day": day,
                "meeting_id": meeting_id,
                "code_id": code_id,
                "ip_hash": ip_hash,
                "ip_key_id": ip_key_id,
            },
        )
        return inserted.first() is not None

    async def students_on_network(self, class_id: uuid.UUID, day: date, ip_hash: bytes, ip_key_id: str) -> int:
        return int(
            (
                await self.session.execute(
                    text(
                        "SELECT count(DISTINCT student_id) FROM qr_checkins WHERE class_id = :class_id "
                        "AND attendance_date = :day AND ip_hash = :ip_hash AND ip_key_id = :ip_key_id"
                    ),
                    {"class_id": class_id, "day": day, "ip_hash": ip_hash, "ip_key_id": ip_key_id},
                )
            ).scalar_one()
        )

    async def flag_network(self, class_id: uuid.UUID, day: date, ip_hash: bytes, ip_key_id: str) -> None:
        await self.session.execute(
            text(
                "UPDATE qr_checkins SET flagged = true WHERE class_id = :class_id AND attendance_date = :day "
                "AND ip_hash = :ip_hash AND ip_key_id = :ip_key_id AND NOT flagged"
            ),
            {"class_id": class_id, "day": day, "ip_hash": ip_hash, "ip_key_id": ip_key_id},
        )

    async def check_in_flagged(self, class_id: uuid.UUID, student_id: uuid.UUID, day: date) -> bool:
        return bool(
            (
                await self.session.execute(
                    text(
                        "SELECT flagged FROM qr_checkins WHERE class_id = :class_id AND student_id = :student_id "
                        "AND attendance_date = :day"
                    ),
                    {"class_id": class_id, "student_id": student_id, "day": day},
                )
            ).scalar()
        )

    async def set_qr_record(
        self,
        *,
        class_id: uuid.UUID,
        student_id: uuid.UUID,
        day: date,
        meeting_id: int | None,
        status: AttendanceStatus,
        checked_in_at: Any,
    ) -> None:
        await self.session.execute(
            _UPSERT_QR,
            {
                "class_id": class_id,
                "student_id": student_id,
                "day": day,
                "meeting_id": meeting_id,
                "status": status.value,
                "checked_in_at": checked_in_at,
            },
        )

    # ---- idempotency -------------------------------------------------------------------------

    async def claim_request(
        self, principal_id: str, method: str, key: str, request_hash: bytes
    ) -> tuple[bytes, bytes | None] | None:
        """Claims (caller, method, key): None when new, else the first request's hash and response.

        A concurrent repeat waits on the key's row until the first transaction ends."""
        claimed = await self.session.execute(
            text(
                "INSERT INTO idempotency_keys (principal_id, method, key, request_hash) "
                "VALUES (:principal_id, :method, :key, :request_hash) ON CONFLICT DO NOTHING RETURNING 1"
            ),
            {"principal_id": principal_id, "method": method, "key": key, "request_hash": request_hash},
        )
        if claimed.first() is not None:
            return None
        row = (
            await self.session.execute(
                text(
                    "SELECT request_hash, response FROM idempotency_keys "
                    "WHERE principal_id = :principal_id AND method = :method AND key = :key"
                ),
                {"principal_id": principal_id, "method": method, "key": key},
            )
        ).one()
        return bytes(row.request_hash), None if row.response is None else bytes(row.response)

    async def remember_response(self, principal_id: str, method: str, key: str, response: bytes) -> None:
        await self.session.execute(
            text(
                "UPDATE idempotency_keys SET response = :response "
                "WHERE principal_id = :principal_id AND method = :method AND key = :key"
            ),
            {"principal_id": principal_id, "method": method, "key": key, "response": response},
        )


def _record_of(row: Any) -> RecordView:
    return RecordView(
        record_id=row.id,
        class_id=row.class_id,
        student_id=row.student_id,
        student_display_name=row.display_name,
        attendance_date=row.attendance_date,
        meeting_id=row.meeting_id,
        status=AttendanceStatus(row.status),
        attended_seconds=row.attended_seconds,
        first_join=row.first_join_time,
        last_leave=row.last_leave_time,
        source=AttendanceSource(row.source),
        left_early=row.left_early,
        note=row.note,
        updated_at=row.updated_at,
    )
