"""In-memory fakes of the attendance service's own ports, for use-case tests without I/O."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Generic, TypeVar

from attendance_service.domain import AttendancePolicy, AttendanceSource, AttendanceStatus, ExpectedStudent, Segment
from attendance_service.read_models import ClassInfo, MeetingInfo, MeetingOverview, RecordView
from attendance_service.reconcile import RecordState, SegmentPlan, StoredSegment
from attendance_service.repository import Instance
from common.security.principal import Principal

START = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # 07:30 Manila, 24 Nov
TEACHER = uuid.uuid4()
CLASS_ID = uuid.uuid4()
MEETING_ID = 81234567890

_Store = TypeVar("_Store")


class FakeDb(Generic[_Store]):
    """Transactions over one in-memory store; records who opened each one."""

    def __init__(self, store: _Store) -> None:
        self.store = store
        self.opened: list[str] = []

    @asynccontextmanager
    async def as_caller(self, principal: Principal) -> AsyncIterator[_Store]:
        self.opened.append(principal.role)
        yield self.store

    @asynccontextmanager
    async def as_system(self) -> AsyncIterator[_Store]:
        self.opened.append("system")
        yield self.store


def school_class(**policy: Any) -> ClassInfo:
    return ClassInfo(CLASS_ID, TEACHER, "Asia/Manila", AttendancePolicy(**policy), qr_ip_limit=2)


def meeting_info(status: str = "ended") -> MeetingInfo:
    return MeetingInfo(
        meeting_id=MEETING_ID,
        uuid=None,
        topic="Math",
        start_time=START,
        duration=timedelta(hours=1),
        timezone="Asia/Manila",
        status=status,
        class_id=CLASS_ID,
        end_time=None,
        host_id="host-1",
    )


@dataclass
class FakeAttendanceStore:
    """Rows of one class and one meeting, enough for sync, webhook and QR use cases."""

    students: tuple[ExpectedStudent, ...] = ()
    registrants: dict[str, str] = field(default_factory=dict)
    segments: dict[tuple[str, datetime], StoredSegment] = field(default_factory=dict)
    records: dict[tuple[str, date], RecordState] = field(default_factory=dict)
    instances: dict[str, Instance] = field(default_factory=dict)
    events: set[str] = field(default_factory=set)
    notices: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    scheduled: list[tuple[str, datetime]] = field(default_factory=list)
    audits: list[str] = field(default_factory=list)
    check_ins: dict[uuid.UUID, tuple[bytes, str, bool]] = field(default_factory=dict)
    writes: int = 0
    meeting_known: bool = True

    # ---- meetings ----
    async def meeting(self, meeting_id: int, caller: uuid.UUID | None) -> MeetingOverview | None:
        if not self.meeting_known:
            return None
        host = "host-1" if caller == TEACHER else None
        return MeetingOverview(meeting_info(), school_class(), host, False, self.students, ())

    async def meeting_info(self, meeting_id: int) -> MeetingInfo | None:
        return meeting_info() if self.meeting_known else None

    async def school_class(self, class_id: uuid.UUID, caller: uuid.UUID | None) -> tuple[ClassInfo, bool] | None:
        if class_id != CLASS_ID:
            return None
        return school_class(), any(s.student_id == str(caller) for s in self.students)

    async def lock_meeting(self, meeting_id: int) -> None:
        return None

    async def roster_inputs(self, meeting_id: int) -> tuple[Any, tuple[ExpectedStudent, ...], dict[str, str]] | None:
        return (CLASS_ID, self.students, self.registrants) if self.meeting_known else None

    # ---- segments ----
    async def stored_segments(self, uuid: str) -> list[StoredSegment]:
        return list(self.segments.values())

    async def apply_segment_plan(self, meeting_id: int, uuid: str, plan: SegmentPlan) -> None:
        for key in plan.deletes:
            del self.segments[key]
        for s in plan.upserts:
            self.segments[(s.zoom_user_id, s.join_time)] = StoredSegment(s, "report")
        self.writes += plan.writes

    async def open_live_segment(self, meeting_id: int, uuid: str, segment: Segment) -> bool:
        existing = [k for k in self.segments if k[0] == segment.zoom_user_id]
        if existing:
            return False
        self.segments[(segment.zoom_user_id, segment.join_time)] = StoredSegment(segment, "webhook")
        return True

    async def close_live_segment(self, uuid: str, zoom_user_id: str, leave_time: datetime, *, only_open: bool) -> bool:
        for key, stored in self.segments.items():
            open_or_other = stored.segment.leave_time is None or (
                not only_open and stored.segment.leave_time != leave_time
            )
            if key[0] == zoom_user_id and stored.source == "webhook" and open_or_other:
                closed = replace(stored.segment, leave_time=leave_time)
                self.segments[key] = StoredSegment(closed, stored.source)
                return True
        return False

    async def close_open_segments(self, uuid: str, leave_time: datetime) -> None:
        for stored in list(self.segments.values()):
            await self.close_live_segment(uuid, stored.segment.zoom_user_id, leave_time, only_open=True)

    async def note_instance(
        self, uuid: str, meeting_id: int, *, start_time: datetime | None = None, end_time: datetime | None = None
    ) -> Instance:
        old = self.instances.get(uuid)
        self.instances[uuid] = Instance(
            uuid,
            meeting_id,
            (old.start_time if old else None) or start_time,
            end_time or (old.end_time if old else None),
        )
        return self.instances[uuid]

    async def set_current_instance(self, meeting_id: int, uuid: str) -> None:
        return None

    async def set_meeting_status(
        self, meeting_id: int, status: str, *, uuid: str | None, ended_at: datetime | None
    ) -> None:
        self.statuses.append(status)

    async def schedule_sync(self, uuid: str, at: datetime) -> None:
        self.scheduled.append((uuid, at))

    async def remember_event(
        self, key: str, event: str, meeting_id: int | None, event_ts: int, payload: dict[str, Any]
    ) -> bool:
        if key in self.events:
            return False
        self.events.add(key)
        return True

    async def notify_roster(self, payload: dict[str, Any]) -> None:
        self.notices.append(payload)

    # ---- records ----
    async def record_states(self, class_id: uuid.UUID, day: date) -> dict[str, RecordState]:
        return {student: state for (student, d), state in self.records.items() if d == day}

    async def write_zoom_records(self, class_id: uuid.UUID, day: date, writes: dict[str, RecordState]) -> None:
        for student, state in writes.items():
            self.records[(student, day)] = state
        self.writes += len(writes)

    async def audit(
        self, actor: Principal | None, action: str, *, target_type: str, target_id: str, detail: str | None = None
    ) -> None:
        self.audits.append(action)

    # ---- QR ----
    async def lock_session(self, class_id: uuid.UUID, day: date) -> None:
        return None

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
        if student_id in self.check_ins:
            return False
        self.check_ins[student_id] = (ip_hash, ip_key_id, False)
        return True

    async def students_on_network(self, class_id: uuid.UUID, day: date, ip_hash: bytes, ip_key_id: str) -> int:
        return sum(1 for h, k, _ in self.check_ins.values() if (h, k) == (ip_hash, ip_key_id))

    async def flag_network(self, class_id: uuid.UUID, day: date, ip_hash: bytes, ip_key_id: str) -> None:
        for student, (h, k, _) in self.check_ins.items():
            if (h, k) == (ip_hash, ip_key_id):
                self.check_ins[student] = (h, k, True)

    async def check_in_flagged(self, class_id: uuid.UUID, student_id: uuid.UUID, day: date) -> bool:
        return self.check_ins[student_id][2]

    async def set_qr_record(
        self,
        *,
        class_id: uuid.UUID,
        student_id: uuid.UUID,
        day: date,
        meeting_id: int | None,
        status: AttendanceStatus,
        checked_in_at: datetime,
    ) -> None:
        self.records.setdefault((str(student_id), day), RecordState(status, AttendanceSource.QR))

    async def record(self, class_id: uuid.UUID, student_id: uuid.UUID, day: date) -> RecordView | None:
        state = self.records.get((str(student_id), day))
        if state is None:
            return None
        return RecordView(
            uuid.uuid4(),
            class_id,
            student_id,
            "",
            day,
            None,
            state.status,
            0,
            None,
            None,
            state.source,
            False,
            None,
            START,
        )
