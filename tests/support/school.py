"""A school written straight into the database as its owner, and meetings put both there and into
the Zoom emulator with the same ids: what the registration tests start from."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx
import psycopg

from common.db import libpq_url

__all__ = ["SchoolClass", "SchoolMeeting", "add_meeting", "seed_class"]


@dataclass(frozen=True)
class SchoolClass:
    class_id: uuid.UUID
    admin: uuid.UUID
    teacher: uuid.UUID
    host_zoom_id: str
    students: tuple[uuid.UUID, ...]
    emails: dict[uuid.UUID, str]


@dataclass(frozen=True)
class SchoolMeeting:
    meeting_id: int
    meeting_type: int


def seed_class(database_url: str, size: int, *, foreign_emails: Sequence[str] = ()) -> SchoolClass:
    """An admin, a teacher (also the Zoom host), a class of `size` students at the allowed domain,
    plus one student per address in `foreign_emails` (to show the domain rule)."""
    tag = uuid.uuid4().hex[:8]
    admin, teacher, class_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    host = f"host-{tag}"
    emails = {uuid.uuid4(): f"student{i}.{tag}@r1.deped.gov.ph" for i in range(size)}
    emails.update({uuid.uuid4(): email for email in foreign_emails})
    with (
        psycopg.connect(libpq_url(database_url), autocommit=True) as owner,
        owner.transaction(),
        owner.cursor() as cursor,
    ):
        cursor.executemany(
            "INSERT INTO users (id, email, display_name, role, zoom_user_id) VALUES (%s, %s, %s, %s, %s)",
            [
                (admin, f"admin.{tag}@r1.deped.gov.ph", "Admin", "admin", None),
                (teacher, f"teacher.{tag}@r1.deped.gov.ph", "Teacher", "teacher", host),
                *((sid, email, f"Student {n} Cruz", "student", None) for n, (sid, email) in enumerate(emails.items())),
            ],
        )
        cursor.execute(
            "INSERT INTO classes (id, name, section, school_year, teacher_id) VALUES (%s, %s, 'A', '2026-2027', %s)",
            (class_id, f"Class {tag}", teacher),
        )
        cursor.executemany(
            "INSERT INTO enrollments (class_id, student_id) VALUES (%s, %s)", [(class_id, s) for s in emails]
        )
    return SchoolClass(class_id, admin, teacher, host, tuple(emails), emails)


def add_meeting(
    database_url: str,
    school: SchoolClass,
    emulator_root: str | None,
    *,
    start: datetime,
    meeting_type: int = 2,
    approval_type: int = 0,
    duration_minutes: int = 60,
) -> SchoolMeeting:
    """A meeting of the class in the database and, unless `emulator_root` is None, at the emulator."""
    meeting_id = random.randrange(10**10, 10**11)
    if emulator_root is not None:
        body = {
            "host_id": school.host_zoom_id,
            "topic": "Math",
            "type": meeting_type,
            "start_time": start.isoformat(),
            "duration": duration_minutes,
            "approval_type": approval_type,
        }
        httpx.put(f"{emulator_root}/_emulator/meetings/{meeting_id}", json=body, timeout=10).raise_for_status()
    with psycopg.connect(libpq_url(database_url), autocommit=True) as owner:
        owner.execute(
            "INSERT INTO zoom_meetings (id, class_id, host_id, topic, meeting_type, start_time, duration_minutes, "
            "approval_type) VALUES (%s, %s, %s, 'Math', %s, %s, %s, %s)",
            (meeting_id, school.class_id, school.host_zoom_id, meeting_type, start, duration_minutes, approval_type),
        )
    return SchoolMeeting(meeting_id, meeting_type)
