"""A job is completed exactly when its last items settle, even when two workers settle the last
ones at once: each worker's record takes the job's lock first, so the second waits for the first
to commit and then sees its items done (without the lock each would see the other's items still in
progress and neither complete the job)."""

from __future__ import annotations

import asyncio
import uuid

from registration_service.repository.jobs import ItemResult
from tests.support.held_jobs import job_state, job_with_items_held_by, waits_on_a_lock, worker_database
from tests.support.polling import eventually


def test_two_workers_settling_the_last_items_at_once_complete_the_job(database_url: str) -> None:
    job_id, (first_item, second_item) = job_with_items_held_by(database_url, ("worker-a", "worker-b"))
    name_b = f"worker-b-{uuid.uuid4().hex[:8]}"

    async def settle_concurrently() -> list[uuid.UUID]:
        async with worker_database(database_url) as a, worker_database(database_url, name_b) as b:
            a_locked = asyncio.Event()

            async def worker_b() -> list[uuid.UUID]:
                await a_locked.wait()
                async with b.as_system() as repo:
                    await repo.lock_jobs([job_id])
                    await repo.finish_items("worker-b", [ItemResult(second_item, "registered")])
                    return await repo.complete_finished_jobs([job_id])

            b_task = asyncio.create_task(worker_b())
            async with a.as_system() as repo:
                await repo.lock_jobs([job_id])
                a_locked.set()
                await repo.finish_items("worker-a", [ItemResult(first_item, "registered")])

                async def b_blocked() -> bool:
                    return await asyncio.to_thread(waits_on_a_lock, database_url, name_b)

                await eventually(b_blocked, within=20, what="worker B waits for A's lock on the job")
                a_completed = await repo.complete_finished_jobs([job_id])  # B's item is in progress to A
            return [*a_completed, *await asyncio.wait_for(b_task, timeout=20)]

    assert asyncio.run(settle_concurrently()) == [job_id]
    assert job_state(database_url, job_id) == "completed"
