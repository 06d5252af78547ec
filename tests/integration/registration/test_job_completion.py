"""A job is completed exactly when its last items settle, even when two workers settle the last
ones in concurrent transactions (each would otherwise see the other's items still in progress)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from common.db import create_engine, create_session_factory, libpq_url
from common.db.engine import app_url
from registration_service.repository import Database
from registration_service.repository.jobs import ItemResult
from tests.support.polling import eventually
from tests.support.school import add_meeting, seed_class


def _job_with_items_held_by(database_url: str, owners: tuple[str, str]) -> tuple[uuid.UUID, list[int]]:
    """A running job of two items, each in progress under its own worker's lease (a day long, so
    no replica of this folder's session takes them)."""
    school = seed_class(database_url, 2)
    meeting = add_meeting(database_url, school, None, start=datetime.now(UTC) + timedelta(days=2))
    job_id = uuid.uuid4()
    with psycopg.connect(libpq_url(database_url), autocommit=True) as owner:
        owner.execute(
            "INSERT INTO registration_jobs (id, class_id, state, meeting_ids) VALUES (%s, %s, 'running', %s)",
            (job_id, school.class_id, [meeting.meeting_id]),
        )
        items = [
            owner.execute(
                "INSERT INTO registration_job_items (job_id, meeting_id, student_id, state, lease_owner, "
                "lease_expires_at) VALUES (%s, %s, %s, 'in_progress', %s, now() + interval '1 day') RETURNING id",
                (job_id, meeting.meeting_id, student, worker),
            ).fetchone()[0]  # type: ignore[index]
            for student, worker in zip(school.students, owners, strict=True)
        ]
    return job_id, items


def _job_state(database_url: str, job_id: uuid.UUID) -> str:
    with psycopg.connect(libpq_url(database_url)) as owner:
        row = owner.execute("SELECT state FROM registration_jobs WHERE id = %s", (job_id,)).fetchone()
    assert row is not None
    return str(row[0])


def _waits_on_a_lock(database_url: str, application_name: str) -> bool:
    with psycopg.connect(libpq_url(database_url)) as owner:
        row = owner.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
            (application_name,),
        ).fetchone()
    return bool(row and row[0])


def test_two_workers_settling_the_last_items_at_once_complete_the_job(database_url: str) -> None:
    job_id, (first_item, second_item) = _job_with_items_held_by(database_url, ("worker-a", "worker-b"))
    name_b = f"worker-b-{uuid.uuid4().hex[:8]}"

    async def settle_concurrently() -> list[uuid.UUID]:
        engine_a = create_engine(app_url(database_url), pool_size=1)
        engine_b = create_engine(app_url(database_url), pool_size=1, application_name=name_b)
        a, b = Database(create_session_factory(engine_a)), Database(create_session_factory(engine_b))
        try:
            a_checked, b_settled, b_checking = asyncio.Event(), asyncio.Event(), asyncio.Event()

            async def worker_b() -> list[uuid.UUID]:
                async with b.as_system() as repo:
                    await repo.finish_items("worker-b", [ItemResult(second_item, "registered")])
                    b_settled.set()
                    await a_checked.wait()
                    b_checking.set()
                    return await repo.complete_finished_jobs([job_id])

            b_task = asyncio.create_task(worker_b())
            async with a.as_system() as repo:
                await repo.finish_items("worker-a", [ItemResult(first_item, "registered")])
                await b_settled.wait()
                a_completed = await repo.complete_finished_jobs([job_id])  # B's item is in progress to A
                a_checked.set()
                await b_checking.wait()

                # A commits only once B's check has either run (both saw the other's item still in
                # progress: the job would never complete) or waits for A's lock on the job.
                async def b_checked_or_blocked() -> bool:
                    return b_task.done() or await asyncio.to_thread(_waits_on_a_lock, database_url, name_b)

                await eventually(b_checked_or_blocked, within=20, what="worker B's check ran or waits")
            return [*a_completed, *await asyncio.wait_for(b_task, timeout=20)]
        finally:
            await engine_a.dispose()
            await engine_b.dispose()

    assert asyncio.run(settle_concurrently()) == [job_id]
    assert _job_state(database_url, job_id) == "completed"
