"""WatchRegistrationJob on one replica follows a job that another replica works, woken by the
workers' notices alone: the watching replica runs no workers and never re-reads on a timer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from rollcall.registration.v1 import registration_service_pb2 as pb

from tests.integration.registration.conftest import Replica, start_replica
from tests.support.emulator import EmulatorProcess
from tests.support.school import add_meeting, seed_class
from tests.support.tokens import bearer

SOON = datetime.now(UTC) + timedelta(days=2)


@pytest.fixture
def watcher(database_url: str, emulator: EmulatorProcess) -> Iterator[Replica]:
    running = start_replica(
        database_url, emulator, ROLLCALL_REGISTRATION_WORKERS="0", ROLLCALL_JOB_WATCH_REFRESH_SECONDS="3600"
    )
    yield running
    running.stop()


def test_a_watcher_follows_progress_made_by_another_replica_until_completed(
    database_url: str, emulator: EmulatorProcess, replica: Replica, watcher: Replica
) -> None:
    school = seed_class(database_url, 45)
    add_meeting(database_url, school, emulator.root, start=SOON, meeting_type=8)
    admin = bearer(school.admin, "admin")
    job = watcher.stub.StartClassRegistration(
        pb.StartClassRegistrationRequest(class_id=str(school.class_id)), metadata=admin
    ).job

    updates = [
        u.job
        for u in watcher.stub.WatchRegistrationJob(
            pb.WatchRegistrationJobRequest(job_id=job.job_id), metadata=admin, timeout=60
        )
    ]

    assert updates[-1].state == pb.JOB_STATE_COMPLETED
    assert updates[-1].progress.registered_count == 45
    # 45 single adds at Zoom's pace take over a second: the stream shows the way, not just the end.
    assert any(0 < u.progress.registered_count < 45 for u in updates)
    registered = [u.progress.registered_count for u in updates]
    assert registered == sorted(registered)


def test_a_watcher_sees_a_cancel_made_on_another_replica(
    database_url: str, emulator: EmulatorProcess, replica: Replica, watcher: Replica
) -> None:
    school = seed_class(database_url, 100)
    add_meeting(database_url, school, emulator.root, start=SOON, meeting_type=8)
    emulator.admin().put("/_emulator/config", json={"latency_ms": 150}).raise_for_status()
    admin = bearer(school.admin, "admin")
    job = replica.stub.StartClassRegistration(
        pb.StartClassRegistrationRequest(class_id=str(school.class_id)), metadata=admin
    ).job

    last, cancelled = None, False
    for update in watcher.stub.WatchRegistrationJob(
        pb.WatchRegistrationJobRequest(job_id=job.job_id), metadata=admin, timeout=60
    ):
        last = update.job
        if not cancelled and last.progress.registered_count > 0:
            replica.stub.CancelRegistrationJob(pb.CancelRegistrationJobRequest(job_id=job.job_id), metadata=admin)
            cancelled = True

    assert last is not None
    assert last.state == pb.JOB_STATE_CANCELLED
    assert last.progress.registered_count < 100
