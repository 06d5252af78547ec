"""The schema's constraints hold in PostgreSQL itself, whatever the code does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from common.db import libpq_url, migrate


@pytest.fixture
def connection(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(libpq_url(database_url), autocommit=True) as connection:
        yield connection


def _student(connection: psycopg.Connection) -> uuid.UUID:
    student = uuid.uuid4()
    connection.execute(
        "INSERT INTO users (id, email, display_name, role) VALUES (%s, %s, 'Test Student', 'student')",
        (student, f"{student.hex}@r1.deped.gov.ph"),
    )
    return student


def _meeting(connection: psycopg.Connection, meeting_id: int) -> int:
    connection.execute(
        "INSERT INTO zoom_meetings (id, host_id, topic, meeting_type, duration_minutes, approval_type) "
        "VALUES (%s, 'host', 'Topic', 2, 60, 0)",
        (meeting_id,),
    )
    return meeting_id


def test_zoom_meeting_ids_beyond_32_bits_are_stored_exactly(connection: psycopg.Connection) -> None:
    meeting_id = _meeting(connection, 98_765_432_109 + uuid.uuid4().int % 1000)
    row = connection.execute("SELECT id FROM zoom_meetings WHERE id = %s", (meeting_id,)).fetchone()
    assert row == (meeting_id,)


def test_a_student_is_registered_at_most_once_per_meeting(connection: psycopg.Connection) -> None:
    meeting_id = _meeting(connection, 90_000_000_000 + uuid.uuid4().int % 10**9)
    student = _student(connection)
    insert = (
        "INSERT INTO meeting_registrants (meeting_id, student_id, zoom_registrant_id, status) "
        "VALUES (%s, %s, %s, 'approved')"
    )
    connection.execute(insert, (meeting_id, student, "r-1"))
    with pytest.raises(psycopg.errors.UniqueViolation):
        connection.execute(insert, (meeting_id, student, "r-2"))


def test_emails_are_unique_whatever_their_case(connection: psycopg.Connection) -> None:
    student = _student(connection)
    with pytest.raises(psycopg.errors.UniqueViolation):
        connection.execute(
            "INSERT INTO users (email, display_name, role) VALUES (%s, 'Copy', 'student')",
            (f"{student.hex.upper()}@R1.DEPED.GOV.PH",),
        )


@pytest.mark.parametrize(
    ("statement", "values"),
    [
        ("INSERT INTO users (email, display_name, role) VALUES (%s, 'x', 'principal')", ("p@r1.deped.gov.ph",)),
        (
            "INSERT INTO zoom_meetings (id, host_id, topic, meeting_type, duration_minutes, approval_type) "
            "VALUES (%s, 'h', 't', 5, 60, 0)",
            (91_000_000_001,),
        ),
    ],
)
def test_impossible_values_are_refused_by_check_constraints(
    connection: psycopg.Connection, statement: str, values: tuple[object, ...]
) -> None:
    with pytest.raises(psycopg.errors.CheckViolation):
        connection.execute(statement, values)


def test_audit_events_can_be_added_but_never_changed_or_removed(connection: psycopg.Connection) -> None:
    connection.execute(
        "INSERT INTO audit_events (actor_role, action, target_type, target_id, outcome) "
        "VALUES ('admin', 'test.append', 'test', %s, 'success')",
        (uuid.uuid4().hex,),
    )
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        connection.execute("UPDATE audit_events SET outcome = 'failure'")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        connection.execute("DELETE FROM audit_events")


def test_migrating_an_up_to_date_database_changes_nothing(database_url: str, connection: psycopg.Connection) -> None:
    before = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    migrate(database_url)
    assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == before
