"""What the registration use cases read and return: plain values, free of SQL and protobuf."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from registration_service.domain import MeetingRef

__all__ = [
    "ClassInfo",
    "ClassMeetingView",
    "MeetingRow",
    "Page",
    "RegistrantView",
    "StoredRegistration",
    "StudentInfo",
]


@dataclass(frozen=True, slots=True)
class ClassInfo:
    class_id: uuid.UUID
    name: str
    section: str
    school_year: str
    timezone: str
    teacher_id: uuid.UUID
    teacher_name: str = ""
    teacher_zoom_user_id: str | None = None
    student_count: int = 0


@dataclass(frozen=True, slots=True)
class StudentInfo:
    student_id: uuid.UUID
    email: str = field(repr=False)
    display_name: str = field(repr=False)
    enrolled: bool


@dataclass(frozen=True, slots=True)
class MeetingRow:
    """A stored meeting of a class, as registration sees it."""

    meeting_id: int
    class_id: uuid.UUID | None
    topic: str
    meeting_type: int
    approval_type: int
    start_time: datetime | None
    duration: timedelta
    timezone: str
    status: str
    host_id: str
    uuid: str | None = None
    join_url: str | None = field(default=None, repr=False)
    registrant_count: int = 0

    @property
    def ref(self) -> MeetingRef:
        return MeetingRef(
            self.meeting_id,
            self.meeting_type,
            self.approval_type,
            self.start_time,
            self.duration,
            self.status == "ended",
        )


ClassMeetingView = MeetingRow


@dataclass(frozen=True, slots=True)
class StoredRegistration:
    """A row of meeting_registrants: at most one per (meeting, student)."""

    meeting_id: int
    student_id: uuid.UUID
    registrant_id: str
    join_url: str | None = field(repr=False)
    status: str

    @property
    def active(self) -> bool:
        return self.status in ("approved", "pending")


@dataclass(frozen=True, slots=True)
class RegistrantView:
    meeting_id: int
    student_id: uuid.UUID
    email: str = field(repr=False)
    display_name: str = field(repr=False)
    registrant_id: str = ""
    join_url: str | None = field(default=None, repr=False)
    status: str = "approved"
    registered_at: datetime | None = None
    cancelled_at: datetime | None = None


_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Page(Generic[_T]):
    items: tuple[_T, ...]
    next_page_token: str = ""
    total: int = 0
