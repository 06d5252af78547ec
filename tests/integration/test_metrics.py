"""The Prometheus series operators need, scraped from a running registration process after a
class job, and the shared-state gauges computed from PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import REGISTRY
from rollcall.registration.v1 import registration_service_pb2 as pb

from common.db import create_engine
from common.db.engine import app_url
from common.metrics import DatabaseGauges, job_item_gauges, sync_queue_gauges
from common.zoom._ratelimit import heavy_daily_limit
from tests.integration.attendance.conftest import owner_connection
from tests.integration.registration.conftest import Replica, start_replica
from tests.support.emulator import EmulatorProcess, running_emulator
from tests.support.polling import eventually_sync
from tests.support.school import add_meeting, seed_class
from tests.support.tokens import bearer

SOON = datetime.now(UTC) + timedelta(days=2)
POOL_SIZE = 3
START_CLASS = "/rollcall.registration.v1.RegistrationService/StartClassRegistration"


def _samples(replica: Replica) -> dict[str, float]:
    """Every sample on the replica's /metrics, keyed by its series text (name and labels)."""
    text = httpx.get(f"http://127.0.0.1:{replica.metrics_port}/metrics", timeout=5).text
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            samples[series] = float(value)
    return samples


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorProcess]:
    with running_emulator("--plan", "pro", "--seed", "13") as process:
        yield process


@pytest.fixture(scope="module")
def replica(database_url: str, emulator: EmulatorProcess) -> Iterator[Replica]:
    running = start_replica(database_url, emulator, ROLLCALL_DB_POOL_SIZE=str(POOL_SIZE))
    try:
        yield running
    finally:
        running.stop()


def test_a_class_job_moves_rpc_zoom_budget_and_job_series(
    database_url: str, emulator: EmulatorProcess, replica: Replica
) -> None:
    school = seed_class(database_url, 5)
    add_meeting(database_url, school, emulator.root, start=SOON)  # scheduled: one Heavy batch call
    before = _samples(replica)
    admin = bearer(school.admin, "admin")

    job = replica.stub.StartClassRegistration(
        pb.StartClassRegistrationRequest(class_id=str(school.class_id)), metadata=admin
    ).job

    def finished() -> bool:
        got = replica.stub.GetRegistrationJob(pb.GetRegistrationJobRequest(job_id=job.job_id), metadata=admin).job
        return got.state == pb.JOB_STATE_COMPLETED

    eventually_sync(finished, within=30, what="the job completed")
    limit = heavy_daily_limit("pro", 0.1)
    heavy_left = '{scope="account-heavy"}'
    eventually_sync(
        lambda: _samples(replica).get(f"rollcall_zoom_daily_remaining{heavy_left}", limit) < limit,
        within=15,
        what="the Heavy daily quota gauge refreshed",
    )
    after = _samples(replica)

    def moved(series: str) -> float:
        return after.get(series, 0.0) - before.get(series, 0.0)

    assert moved(f'rollcall_rpc_requests_total{{code="OK",method="{START_CLASS}"}}') == 1
    assert moved(f'rollcall_rpc_latency_seconds_count{{method="{START_CLASS}"}}') == 1
    assert moved('rollcall_zoom_requests_total{category="Heavy",outcome="ok"}') >= 1
    assert moved('rollcall_zoom_budget_wait_seconds_count{category="Heavy"}') >= 1
    assert moved('rollcall_registration_items_total{outcome="registered"}') == 5
    assert after[f"rollcall_zoom_daily_remaining{heavy_left}"] <= limit - 1
    assert after['rollcall_zoom_pacing_backlog_seconds{category="Heavy"}'] >= 0
    assert after['rollcall_registration_job_items{state="pending"}'] >= 0
    assert after["process_resident_memory_bytes"] > 0
    assert after["process_cpu_seconds_total"] > 0


def _gauge(name: str, state: str) -> float:
    value = REGISTRY.get_sample_value(name, {"state": state})
    return 0.0 if value is None else value


async def test_database_gauges_count_items_of_unfinished_jobs_and_the_sync_queue(
    database_url: str, emulator: EmulatorProcess
) -> None:
    school = seed_class(database_url, 5)
    meeting = add_meeting(database_url, school, emulator.root, start=SOON)
    engine = create_engine(app_url(database_url))
    gauges = DatabaseGauges(engine, [job_item_gauges, sync_queue_gauges])
    running_job, finished_job = uuid.uuid4(), uuid.uuid4()
    instance = f"gauge-{uuid.uuid4()}"
    try:
        await gauges.refresh()
        before = {
            "pending": _gauge("rollcall_registration_job_items", "pending"),
            "registered": _gauge("rollcall_registration_job_items", "registered"),
            "queued syncs": _gauge("rollcall_attendance_sync_queue", "pending"),
            "overdue syncs": _gauge("rollcall_attendance_sync_queue", "overdue"),
        }
        # Rows no replica of another test may take: the pending items and the sync are not due for a day.
        with owner_connection(database_url) as owner:
            for job_id, state in ((running_job, "running"), (finished_job, "completed")):
                owner.execute(
                    "INSERT INTO registration_jobs (id, class_id, state, meeting_ids) VALUES (%s, %s, %s, %s)",
                    (job_id, school.class_id, state, [meeting.meeting_id]),
                )
                for index, student in enumerate(school.students):
                    owner.execute(
                        "INSERT INTO registration_job_items (job_id, meeting_id, student_id, state, lease_expires_at) "
                        "VALUES (%s, %s, %s, %s, now() + interval '1 day')",
                        (job_id, meeting.meeting_id, student, "pending" if index < 3 else "registered"),
                    )
            owner.execute(
                "INSERT INTO meeting_instances (meeting_uuid, meeting_id, end_time, sync_state, next_sync_at) "
                "VALUES (%s, %s, now(), 'pending', now() + interval '1 day')",
                (instance, meeting.meeting_id),
            )
        await gauges.refresh()

        assert _gauge("rollcall_registration_job_items", "pending") - before["pending"] == 3
        assert _gauge("rollcall_registration_job_items", "registered") - before["registered"] == 2
        assert _gauge("rollcall_attendance_sync_queue", "pending") - before["queued syncs"] == 1
        assert _gauge("rollcall_attendance_sync_queue", "overdue") - before["overdue syncs"] == 0
    finally:
        with owner_connection(database_url) as owner:
            owner.execute("DELETE FROM registration_jobs WHERE id = ANY(%s)", ([running_job, finished_job],))
            owner.execute("DELETE FROM meeting_instances WHERE meeting_uuid = %s", (instance,))
        await engine.dispose()


POOLS = ("callers", "system")


def test_the_pool_gauges_show_the_configured_size_and_nothing_held_at_rest(replica: Replica) -> None:
    samples = _samples(replica)
    for pool in POOLS:
        assert samples[f'rollcall_db_pool_connections{{pool="{pool}",state="size"}}'] == POOL_SIZE

    def idle() -> bool:
        now = _samples(replica)
        return all(now[f'rollcall_db_pool_connections{{pool="{p}",state="in_use"}}'] == 0 for p in POOLS)

    eventually_sync(idle, within=10, what="every pooled connection returned")
