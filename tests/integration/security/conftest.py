"""A school seeded as the database owner with one person in every relation the policy knows, and
gRPC clients of the real service processes (the session's `services`: no Zoom credentials, so
calls that reach Zoom stop after authorization with a status of their own)."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
import psycopg
import pytest
from rollcall.attendance.v1 import attendance_service_pb2_grpc as attendance_rpc
from rollcall.audit.v1 import audit_service_pb2_grpc as audit_rpc
from rollcall.registration.v1 import registration_service_pb2_grpc as registration_rpc

from common.db import libpq_url
from tests.conftest import ServiceStack

__all__ = ["Clients", "World", "seed_world"]


@dataclass(frozen=True)
class World:
    """One class with its teacher, a teacher of another class who hosts the class's meeting, an
    enrolled student, a student of the other class, and the class's meeting, job and registrants."""

    admin: uuid.UUID
    class_teacher: uuid.UUID
    other_teacher: uuid.UUID
    host: uuid.UUID
    student: uuid.UUID
    other_student: uuid.UUID
    registered_student: uuid.UUID  # enrolled, with an approved registrant for the meeting
    cancelled_student: uuid.UUID  # enrolled, with a cancelled registrant for the meeting
    service: uuid.UUID
    class_id: uuid.UUID
    meeting_id: int
    job_id: uuid.UUID

    def missing_meeting_id(self) -> int:
        """A meeting id no row has (meeting ids of seeded meetings are 11 digits)."""
        return random.randrange(10**12, 10**13)


def seed_world(database_url: str) -> World:
    tag = uuid.uuid4().hex[:8]
    people = {name: uuid.uuid4() for name in ("admin", "class_teacher", "other_teacher", "host")}
    students = {name: uuid.uuid4() for name in ("student", "other_student", "registered_student", "cancelled_student")}
    class_id, other_class = uuid.uuid4(), uuid.uuid4()
    meeting_id = random.randrange(10**10, 10**11)
    start = datetime.now(UTC) + timedelta(days=7)
    with psycopg.connect(libpq_url(database_url), autocommit=True) as owner, owner.transaction():
        for name, user_id in people.items():
            role = "admin" if name == "admin" else "teacher"
            owner.execute(
                "INSERT INTO users (id, email, display_name, role, zoom_user_id) VALUES (%s, %s, %s, %s, %s)",
                (user_id, f"{name}.{tag}@r1.deped.gov.ph", name.title(), role, f"zoom-{name}-{tag}"),
            )
        for name, user_id in students.items():
            owner.execute(
                "INSERT INTO users (id, email, display_name, role) VALUES (%s, %s, %s, 'student')",
                (user_id, f"{name}.{tag}@r1.deped.gov.ph", f"{name.title()} Cruz"),
            )
        for school_class, teacher, section in (
            (class_id, people["class_teacher"], "A"),
            (other_class, people["other_teacher"], "B"),
        ):
            owner.execute(
                "INSERT INTO classes (id, name, section, school_year, teacher_id) VALUES (%s, %s, %s, '2026-2027', %s)",
                (school_class, f"Class {tag}", section, teacher),
            )
        for name in ("student", "registered_student", "cancelled_student"):
            owner.execute("INSERT INTO enrollments (class_id, student_id) VALUES (%s, %s)", (class_id, students[name]))
        owner.execute(
            "INSERT INTO enrollments (class_id, student_id) VALUES (%s, %s)", (other_class, students["other_student"])
        )
        owner.execute(
            "INSERT INTO zoom_meetings (id, class_id, host_id, topic, meeting_type, start_time, duration_minutes, "
            "approval_type) VALUES (%s, %s, %s, 'Math', 2, %s, 60, 0)",
            (meeting_id, class_id, f"zoom-host-{tag}", start),
        )
        for name, status in (("registered_student", "approved"), ("cancelled_student", "cancelled")):
            owner.execute(
                "INSERT INTO meeting_registrants (meeting_id, student_id, zoom_registrant_id, status) "
                "VALUES (%s, %s, %s, %s)",
                (meeting_id, students[name], f"reg-{name}-{tag}", status),
            )
        job = owner.execute(
            "INSERT INTO registration_jobs (class_id, meeting_ids, created_by) VALUES (%s, %s, %s) RETURNING id",
            (class_id, [meeting_id], people["admin"]),
        ).fetchone()
    assert job is not None
    return World(
        **people,
        **students,
        service=uuid.uuid4(),
        class_id=class_id,
        meeting_id=meeting_id,
        job_id=job[0],
    )


@pytest.fixture(scope="module")
def world(database_url: str) -> World:
    return seed_world(database_url)


@dataclass(frozen=True)
class Clients:
    attendance: attendance_rpc.AttendanceServiceAsyncStub
    registration: registration_rpc.RegistrationServiceAsyncStub
    audit: audit_rpc.AuditServiceAsyncStub


@pytest.fixture
async def clients(services: ServiceStack) -> AsyncIterator[Clients]:
    async with (
        grpc.aio.insecure_channel(services.attendance_target) as attendance,
        grpc.aio.insecure_channel(services.registration_target) as registration,
    ):
        yield Clients(
            attendance_rpc.AttendanceServiceStub(attendance),
            registration_rpc.RegistrationServiceStub(registration),
            audit_rpc.AuditServiceStub(registration),
        )
