"""Row-level security holds for the services' role itself, whatever the Python code does."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import psycopg
import pytest
from sqlalchemy import text

from common.db import create_engine, libpq_url
from common.db.engine import app_url, create_system_engine

SCHOOL_TABLES = (
    "users",
    "classes",
    "enrollments",
    "zoom_meetings",
    "meeting_registrants",
    "zoom_participants",
    "attendance_records",
    "qr_checkins",
    "audit_events",
    "registration_jobs",
    "registration_job_items",
    "webhook_events",
)


@dataclass(frozen=True)
class School:
    teacher_a: uuid.UUID
    teacher_b: uuid.UUID
    class_a: uuid.UUID
    class_b: uuid.UUID
    student_a: uuid.UUID
    student_b: uuid.UUID


@pytest.fixture(scope="module")
def school(database_url: str) -> School:
    ids = [uuid.uuid4() for _ in range(6)]
    school = School(*ids)
    with psycopg.connect(libpq_url(database_url), autocommit=True) as owner:
        for user, role in (
            (school.teacher_a, "teacher"),
            (school.teacher_b, "teacher"),
            (school.student_a, "student"),
            (school.student_b, "student"),
        ):
            owner.execute(
                "INSERT INTO users (id, email, display_name, role) VALUES (%s, %s, 'Someone', %s)",
                (user, f"{user.hex}@r1.deped.gov.ph", role),
            )
        for class_id, teacher, student in (
            (school.class_a, school.teacher_a, school.student_a),
            (school.class_b, school.teacher_b, school.student_b),
        ):
            owner.execute(
                "INSERT INTO classes (id, name, section, school_year, teacher_id) "
                "VALUES (%s, %s, 'S', '2026-2027', %s)",
                (class_id, class_id.hex, teacher),
            )
            owner.execute("INSERT INTO enrollments (class_id, student_id) VALUES (%s, %s)", (class_id, student))
            owner.execute(
                "INSERT INTO attendance_records (class_id, student_id, attendance_date, status, source) "
                "VALUES (%s, %s, %s, 'present', 'zoom')",
                (class_id, student, date(2026, 11, 25)),
            )
        owner.execute(
            "INSERT INTO audit_events (actor_role, action, target_type, target_id, outcome) "
            "VALUES ('admin', 'test.rls', 'class', %s, 'success')",
            (str(school.class_a),),
        )
    return school


@pytest.fixture
def app_connection(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(libpq_url(app_url(database_url))) as connection:
        yield connection


def _as(connection: psycopg.Connection, user: uuid.UUID | None, role: str) -> None:
    connection.execute(
        "SELECT set_config('app.user_id', %s, true), set_config('app.role', %s, true)",
        ("" if user is None else str(user), role),
    )


def test_the_services_role_can_bypass_nothing(app_connection: psycopg.Connection) -> None:
    row = app_connection.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user").fetchone()
    assert row == (False, False)


@pytest.mark.parametrize("table", SCHOOL_TABLES)
def test_rls_is_enabled_and_forced_on_every_school_table(app_connection: psycopg.Connection, table: str) -> None:
    row = app_connection.execute(
        "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = %s", (table,)
    ).fetchone()
    assert row == (True, True)


@pytest.mark.parametrize("table", SCHOOL_TABLES)
def test_without_an_identity_every_school_table_is_empty(
    school: School, app_connection: psycopg.Connection, table: str
) -> None:
    assert app_connection.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)


def test_a_teacher_sees_their_class_and_nothing_of_another(school: School, app_connection: psycopg.Connection) -> None:
    _as(app_connection, school.teacher_a, "teacher")
    classes = {row[0] for row in app_connection.execute("SELECT id FROM classes")}
    records = {row[0] for row in app_connection.execute("SELECT class_id FROM attendance_records")}
    students = {row[0] for row in app_connection.execute("SELECT id FROM users WHERE role = 'student'")}
    assert school.class_a in classes
    assert school.class_b not in classes
    assert records == {school.class_a}
    assert school.student_a in students
    assert school.student_b not in students


def test_a_teacher_cannot_write_into_another_class(school: School, app_connection: psycopg.Connection) -> None:
    _as(app_connection, school.teacher_a, "teacher")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app_connection.execute(
            "INSERT INTO attendance_records (class_id, student_id, attendance_date, status, source) "
            "VALUES (%s, %s, %s, 'excused', 'manual')",
            (school.class_b, school.student_b, date(2026, 11, 26)),
        )


def test_a_student_sees_only_their_own_records(school: School, app_connection: psycopg.Connection) -> None:
    _as(app_connection, school.student_a, "student")
    rows = app_connection.execute("SELECT student_id FROM attendance_records").fetchall()
    assert rows == [(school.student_a,)]


def test_audit_events_cannot_be_updated_or_deleted_by_the_services(
    school: School, app_connection: psycopg.Connection
) -> None:
    _as(app_connection, None, "admin")
    assert app_connection.execute("SELECT count(*) FROM audit_events").fetchone()[0] >= 1  # type: ignore[index]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app_connection.execute("UPDATE audit_events SET outcome = 'failure'")
    app_connection.rollback()
    _as(app_connection, None, "admin")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app_connection.execute("DELETE FROM audit_events")


def test_identity_set_in_one_transaction_does_not_leak_into_the_next(
    school: School, app_connection: psycopg.Connection
) -> None:
    _as(app_connection, None, "admin")
    assert app_connection.execute("SELECT count(*) FROM classes").fetchone()[0] >= 2  # type: ignore[index]
    app_connection.commit()
    assert app_connection.execute("SELECT count(*) FROM classes").fetchone() == (0,)


def test_a_system_engine_acts_as_the_system_and_the_callers_engine_as_nobody(school: School, database_url: str) -> None:
    """`create_system_engine` sets the identity once per connection, committed, so it holds in
    autocommit, after a rollback and on a reused connection; the callers' engine, from the same
    URL, carries none (each caller transaction sets its own)."""

    async def count_classes() -> tuple[list[int], int]:
        system = create_system_engine(app_url(database_url), pool_size=1, application_name="rls-system")
        callers = create_engine(app_url(database_url), pool_size=1)
        try:
            seen = []
            async with system.connect() as connection:
                seen.append((await connection.execute(text("SELECT count(*) FROM classes"))).scalar_one())
                await connection.rollback()
            async with system.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
                seen.append((await connection.execute(text("SELECT count(*) FROM classes"))).scalar_one())
            async with system.connect() as connection:
                seen.append((await connection.execute(text("SELECT count(*) FROM classes"))).scalar_one())
            async with callers.connect() as connection:
                nobody = (await connection.execute(text("SELECT count(*) FROM classes"))).scalar_one()
            return seen, nobody
        finally:
            await system.dispose()
            await callers.dispose()

    seen, nobody = asyncio.run(count_classes())

    assert all(count >= 2 for count in seen), seen
    assert nobody == 0
