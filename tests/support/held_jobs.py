"""Registration jobs written straight into the database with every item held by a worker under a
day-long lease, so the service replicas sharing the test database never take them: what the tests
of concurrent transactions on one job start from."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import psycopg

from common.db import create_engine, create_session_factory, libpq_url
from common.db.engine import app_url, create_system_engine
from registration_service.repository import Database
from tests.support.school import SchoolClass, SchoolMeeting, add_meeting, seed_class

__all__ = ["item_states", "job_state", "job_with_items_held_by", "new_job", "waits_on_a_lock", "worker_database"]


def new_job(database_url: str, students: int, state: str) -> tuple[uuid.UUID, SchoolClass, SchoolMeeting]:
    """A job of a new class of `students` over one upcoming meeting, in `state`, with no items yet."""
    school = seed_class(database_url, students)
    meeting = add_meeting(database_url, school, None, start=datetime.now(UTC) + timedelta(days=2))
    job_id = uuid.uuid4()
    with psycopg.connect(libpq_url(database_url), autocommit=True) as owner:
        owner.execute(
            "INSERT INTO registration_jobs (id, class_id, state, meeting_ids) VALUES (%s, %s, %s, %s)",
            (job_id, school.class_id, state, [meeting.meeting_id]),
        )
    return job_id, school, meeting


def job_with_items_held_by(database_url: str, owners: Sequence[str]) -> tuple[uuid.UUID, list[int]]:
    """A running job of one item per owner, each in progress under that worker's lease."""
    job_id, school, meeting = new_job(database_url, len(owners), "running")
    with psycopg.connect(libpq_url(database_url), autocommit=True) as owner:
        items = [
            owner.execute(
                "INSERT INTO registration_job_items (job_id, meeting_id, student_id, state, lease_owner, "
                "lease_expires_at) VALUES (%s, %s, %s, 'in_progress', %s, now() + interval '1 day') RETURNING id",
                (job_id, meeting.meeting_id, student, worker),
            ).fetchone()[0]  # type: ignore[index]
            for student, worker in zip(school.students, owners, strict=True)
        ]
    return job_id, items


def job_state(database_url: str, job_id: uuid.UUID) -> str:
    with psycopg.connect(libpq_url(database_url)) as owner:
        row = owner.execute("SELECT state FROM registration_jobs WHERE id = %s", (job_id,)).fetchone()
    assert row is not None
    return str(row[0])


def item_states(database_url: str, job_id: uuid.UUID) -> list[str]:
    with psycopg.connect(libpq_url(database_url)) as owner:
        rows = owner.execute(
            "SELECT state FROM registration_job_items WHERE job_id = %s ORDER BY id", (job_id,)
        ).fetchall()
    return [str(row[0]) for row in rows]


def waits_on_a_lock(database_url: str, application_name: str) -> bool:
    """Whether a connection of that name is blocked on a row or transaction lock right now."""
    with psycopg.connect(libpq_url(database_url)) as owner:
        row = owner.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
            (application_name,),
        ).fetchone()
    return bool(row and row[0])


@asynccontextmanager
async def worker_database(database_url: str, application_name: str = "test-worker") -> AsyncIterator[Database]:
    """The registration service's unit of work as its job workers have it: their own work on a
    system engine of one connection named `application_name` (see `waits_on_a_lock`)."""
    callers = create_engine(app_url(database_url), pool_size=1)
    system = create_system_engine(app_url(database_url), pool_size=1, application_name=application_name)
    try:
        yield Database(create_session_factory(callers), system)
    finally:
        await system.dispose()
        await callers.dispose()
