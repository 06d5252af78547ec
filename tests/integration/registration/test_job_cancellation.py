"""Cancelling a job while a worker puts items back (a retry later, or a graceful stop) leaves no
pending item in the cancelled job, whichever transaction commits first. Before the job row was
locked ahead of its items, a worker could read the job as running while the cancel was not yet
committed and leave items pending that nobody would ever claim or cancel."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import text

from common.db import libpq_url
from registration_service.repository import Database
from registration_service.repository.jobs import JobQueries
from tests.support.database import fresh_database
from tests.support.held_jobs import (
    item_states,
    job_state,
    job_with_items_held_by,
    new_job,
    waits_on_a_lock,
    worker_database,
)
from tests.support.polling import eventually


async def _put_back(repo: JobQueries, how: str, job_id: uuid.UUID, item: int) -> None:
    """What worker A does with its item: defer it (its record transaction) or hand it back (a stop)."""
    if how == "defer":
        await repo.lock_jobs([job_id])
        await repo.defer_items("worker-a", [item], datetime.now(UTC) + timedelta(days=1), "retry later")
    else:
        await repo.release_items("worker-a")


@pytest.mark.parametrize("how", ["defer", "release"])
@pytest.mark.parametrize("first", ["worker", "cancel"])
def test_a_cancel_racing_a_worker_putting_items_back_leaves_none_pending(
    database_url: str, how: str, first: str
) -> None:
    job_id, (held_by_a, _) = job_with_items_held_by(database_url, ("worker-a", "worker-b"))
    second_name = f"second-{uuid.uuid4().hex[:8]}"

    async def race() -> None:
        async with worker_database(database_url) as db_first, worker_database(database_url, second_name) as db_second:

            async def worker(db: Database) -> None:
                async with db.as_system() as repo:
                    await _put_back(repo, how, job_id, held_by_a)

            async def cancel(db: Database) -> None:
                async with db.as_system() as repo:
                    await repo.cancel_job(job_id)

            async with db_first.as_system() as repo:
                if first == "worker":
                    await _put_back(repo, how, job_id, held_by_a)
                    second = asyncio.create_task(cancel(db_second))
                else:
                    await repo.cancel_job(job_id)
                    second = asyncio.create_task(worker(db_second))

                # The first commits only once the second has run or waits for it.
                async def second_ran_or_blocked() -> bool:
                    return second.done() or await asyncio.to_thread(waits_on_a_lock, database_url, second_name)

                await eventually(second_ran_or_blocked, within=20, what="the second transaction ran or waits")
            await asyncio.wait_for(second, timeout=20)

    asyncio.run(race())
    assert job_state(database_url, job_id) == "cancelled"
    # Worker A's item is cancelled; worker B's, being sent, finishes and keeps its outcome.
    assert item_states(database_url, job_id) == ["cancelled", "in_progress"]  # in id order


def test_a_claim_does_not_wait_for_a_job_row_another_transaction_holds() -> None:
    """A claim holds its items when it marks the job running; waiting there for a cancel that
    holds the job and wants those items would deadlock, so the claim leaves a held job as it is."""
    with fresh_database() as url:  # its own database: no replica may claim the pending item first
        job_id, school, meeting = new_job(url, 1, "queued")
        with psycopg.connect(libpq_url(url), autocommit=True) as owner:
            owner.execute(
                "INSERT INTO registration_job_items (job_id, meeting_id, student_id) VALUES (%s, %s, %s)",
                (job_id, meeting.meeting_id, school.students[0]),
            )

        async def claim_beside_a_held_job() -> int:
            async with worker_database(url) as holder, worker_database(url) as claimer:
                async with holder.as_system() as held:
                    await held.lock_jobs([job_id])
                    async with claimer.as_system() as repo:
                        await repo.session.execute(text("SET LOCAL lock_timeout = '5s'"))  # waiting would fail
                        items = await repo.claim("worker-c", timedelta(minutes=1), 30, 30)
                return len(items)

        assert asyncio.run(claim_beside_a_held_job()) == 1
        assert item_states(url, job_id) == ["in_progress"]
