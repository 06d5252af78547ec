"""Record use cases: keyset listings and streams for school systems, CSV export, and a teacher's hand.

Listings are scoped by role before any query: teachers to the classes they teach, students to
their own records, services by scope; row-level security enforces the same underneath.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Protocol

from attendance_service.domain import AttendanceStatus
from attendance_service.ports import Transactions
from attendance_service.read_models import ClassInfo, RecordFilter, RecordKey, RecordView
from common.audit import csv_chunks
from common.errors import FailedPrecondition, FieldViolation, InvalidArgument, PermissionDenied
from common.security.policy import Action, Facts, authorize
from common.security.principal import Principal

__all__ = ["CSV_HEADER", "MAX_EXPORT_DAYS", "STREAM_BATCH", "RecordKeeping", "RecordStore"]

STREAM_BATCH = 1000
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
MAX_EXPORT_DAYS = 400
MAX_NOTE_LENGTH = 500
CSV_HEADER = (
    "attendance_date",
    "class_id",
    "student_id",
    "student_name",
    "status",
    "attended_minutes",
    "first_join_time",
    "last_leave_time",
    "left_early",
    "source",
    "note",
)


class RecordStore(Protocol):
    async def school_class(self, class_id: uuid.UUID, caller: uuid.UUID | None) -> tuple[ClassInfo, bool] | None: ...

    async def list_records(self, where: RecordFilter, after: RecordKey | None, limit: int) -> list[RecordView]: ...

    async def is_enrolled(self, class_id: uuid.UUID, student_id: uuid.UUID) -> bool: ...

    async def set_manual(
        self,
        class_id: uuid.UUID,
        student_id: uuid.UUID,
        day: date,
        status: AttendanceStatus,
        note: str | None,
        actor: uuid.UUID,
    ) -> RecordView: ...

    async def record_by_id(self, record_id: uuid.UUID) -> RecordView | None: ...

    async def claim_request(
        self, principal_id: str, method: str, key: str, request_hash: bytes
    ) -> tuple[bytes, bytes | None] | None: ...

    async def remember_response(self, principal_id: str, method: str, key: str, response: bytes) -> None: ...

    async def audit(
        self, actor: Principal | None, action: str, *, target_type: str, target_id: str, detail: str | None = None
    ) -> None: ...


def _fingerprint(where: RecordFilter) -> str:
    """Ties a page token to its filters: a token reused with other filters is refused."""
    return hashlib.sha256(repr(dataclasses.astuple(where)).encode()).hexdigest()[:12]


def encode_page_token(key: RecordKey, where: RecordFilter) -> str:
    raw = json.dumps([key[0].isoformat(), str(key[1]), str(key[2]), _fingerprint(where)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_page_token(token: str, where: RecordFilter) -> RecordKey:
    problem = FieldViolation("page_token", "not a token from a previous page of this listing")
    try:
        day, class_id, student_id, fingerprint = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        key = (date.fromisoformat(day), uuid.UUID(class_id), uuid.UUID(student_id))
    except (ValueError, TypeError):
        raise InvalidArgument(problem) from None
    if fingerprint != _fingerprint(where):
        raise InvalidArgument(problem)
    return key


def _key_of(record: RecordView) -> RecordKey:
    return record.attendance_date, record.class_id, record.student_id


class RecordKeeping:
    """ListAttendanceRecords, StreamAttendanceRecords, ExportAttendanceCsv, UpdateAttendanceRecord."""

    def __init__(self, db: Transactions[RecordStore]) -> None:
        self._db = db

    async def _scoped(self, store: RecordStore, principal: Principal, where: RecordFilter) -> RecordFilter:
        """Authorizes the listing and narrows it to what the caller's role may see."""
        if principal.role == "student":
            if where.student_id not in (None, principal.user_id):
                raise PermissionDenied("students see only their own records", reason="PERMISSION_DENIED")
            where = dataclasses.replace(where, student_id=principal.user_id)
        if where.class_id is not None:
            found = await store.school_class(where.class_id, principal.user_id)
            teacher, enrolled = (found[0].teacher_id, found[1]) if found else (None, False)
            facts = Facts(class_teacher_id=teacher, caller_enrolled=enrolled, student_id=where.student_id)
        elif principal.role == "teacher":
            where = dataclasses.replace(where, teacher_id=principal.user_id)
            facts = Facts(class_teacher_id=principal.user_id)  # only classes they teach are listed
        elif principal.role == "student":
            facts = Facts(caller_enrolled=True, student_id=principal.user_id)  # only their own records
        else:
            facts = Facts()
        authorize(principal, Action.LIST_ATTENDANCE_RECORDS, facts)
        return where

    async def list_records(
        self, principal: Principal, where: RecordFilter, page_size: int, page_token: str
    ) -> tuple[list[RecordView], str]:
        if not 0 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidArgument(FieldViolation("page_size", f"must be from 1 to {MAX_PAGE_SIZE} (0 means 100)"))
        limit = page_size or DEFAULT_PAGE_SIZE
        async with self._db.as_caller(principal) as store:
            where = await self._scoped(store, principal, where)
            after = decode_page_token(page_token, where) if page_token else None
            rows = await store.list_records(where, after, limit + 1)
            await store.audit(
                principal, Action.LIST_ATTENDANCE_RECORDS.value, target_type="class", target_id=_target(where)
            )
        page = rows[:limit]
        token = encode_page_token(_key_of(page[-1]), where) if len(rows) > limit else ""
        return page, token

    async def stream_records(self, principal: Principal, where: RecordFilter) -> AsyncIterator[list[RecordView]]:
        """Batches of up to 1,000 records; each batch is its own short transaction, so a term's worth
        never holds a connection for the whole stream."""
        async with self._db.as_caller(principal) as store:
            where = await self._scoped(store, principal, where)
            await store.audit(
                principal, Action.LIST_ATTENDANCE_RECORDS.value, target_type="class", target_id=_target(where)
            )
        async for batch in self._batches(principal, where):
            yield batch

    async def _batches(self, principal: Principal, where: RecordFilter) -> AsyncIterator[list[RecordView]]:
        after: RecordKey | None = None
        while True:
            async with self._db.as_caller(principal) as store:
                batch = await store.list_records(where, after, STREAM_BATCH)
            if batch:
                yield batch
            if len(batch) < STREAM_BATCH:
                return
            after = _key_of(batch[-1])

    async def export_csv(
        self, principal: Principal, class_id: uuid.UUID, start: date, end: date
    ) -> AsyncIterator[bytes]:
        if end < start:
            raise InvalidArgument(FieldViolation("end_date", "must not be before start_date"))
        if end - start > timedelta(days=MAX_EXPORT_DAYS):
            raise InvalidArgument(FieldViolation("end_date", f"at most {MAX_EXPORT_DAYS} days after start_date"))
        where = RecordFilter(class_id=class_id, start_date=start, end_date=end)
        async with self._db.as_caller(principal) as store:
            found = await store.school_class(class_id, principal.user_id)
            authorize(
                principal, Action.EXPORT_ATTENDANCE, Facts(class_teacher_id=found[0].teacher_id if found else None)
            )
            await store.audit(
                principal,
                Action.EXPORT_ATTENDANCE.value,
                target_type="class",
                target_id=str(class_id),
                detail=f"{start.isoformat()}..{end.isoformat()}",
            )

        async def rows() -> AsyncIterator[list[object]]:
            async for batch in self._batches(principal, where):
                for r in batch:
                    yield [
                        r.attendance_date.isoformat(),
                        r.class_id,
                        r.student_id,
                        r.student_display_name,
                        r.status.value,
                        r.attended_seconds // 60,
                        r.first_join.isoformat() if r.first_join else "",
                        r.last_leave.isoformat() if r.last_leave else "",
                        "yes" if r.left_early else "no",
                        r.source.value,
                        r.note or "",
                    ]

        async for chunk in csv_chunks(CSV_HEADER, rows()):
            yield chunk

    async def update_record(
        self,
        principal: Principal,
        *,
        request_id: str,
        class_id: uuid.UUID,
        student_id: uuid.UUID,
        day: date,
        status: AttendanceStatus,
        note: str,
    ) -> RecordView:
        """Sets a status by hand (source MANUAL, never overwritten by a sync). A repeated
        `request_id` gets the record it set back; reused with another request, it is refused."""
        if len(note) > MAX_NOTE_LENGTH:
            raise InvalidArgument(FieldViolation("note", f"at most {MAX_NOTE_LENGTH} characters"))
        request_hash = hashlib.sha256(f"{class_id}|{student_id}|{day}|{status.value}|{note}".encode()).digest()
        method = Action.UPDATE_ATTENDANCE_RECORD.value
        async with self._db.as_caller(principal) as store:
            found = await store.school_class(class_id, principal.user_id)
            authorize(
                principal,
                Action.UPDATE_ATTENDANCE_RECORD,
                Facts(class_teacher_id=found[0].teacher_id if found else None),
            )
            if found is None:
                raise FailedPrecondition("the class does not exist", reason="CLASS_NOT_FOUND")
            if request_id:
                earlier = await store.claim_request(str(principal.user_id), method, request_id, request_hash)
                if earlier is not None:
                    return await _repeat(store, earlier, request_hash)
            if not await store.is_enrolled(class_id, student_id):
                raise FailedPrecondition("the student is not enrolled in the class", reason="STUDENT_NOT_ENROLLED")
            record = await store.set_manual(class_id, student_id, day, status, note or None, principal.user_id)
            if request_id:
                await store.remember_response(str(principal.user_id), method, request_id, record.record_id.bytes)
            await store.audit(
                principal,
                method,
                target_type="attendance_record",
                target_id=str(record.record_id),
                detail=f"status={status.value}",
            )
        return record


async def _repeat(store: RecordStore, earlier: tuple[bytes, bytes | None], request_hash: bytes) -> RecordView:
    first_hash, response = earlier
    if first_hash != request_hash:
        raise FailedPrecondition("request_id was used before with a different request", reason="REQUEST_ID_REUSED")
    record = None if response is None else await store.record_by_id(uuid.UUID(bytes=response))
    if record is None:
        raise FailedPrecondition("the first request with this request_id did not finish", reason="REQUEST_IN_FLIGHT")
    return record


def _target(where: RecordFilter) -> str:
    return str(where.class_id) if where.class_id else "*"
