"""Class registration jobs through real processes: batches, crashes, faults, replicas, cancel."""

from __future__ import annotations

import signal
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import grpc
from rollcall.registration.v1 import registration_service_pb2 as pb

from tests.integration.registration.conftest import (
    Replica,
    set_faults,
    start_replica,
    stored_registrants,
    zoom_registrants,
)
from tests.support.emulator import EmulatorProcess
from tests.support.polling import eventually_sync
from tests.support.school import SchoolClass, SchoolMeeting, add_meeting, seed_class
from tests.support.tokens import bearer

SOON = datetime.now(UTC) + timedelta(days=2)
FINAL = (pb.JOB_STATE_COMPLETED, pb.JOB_STATE_CANCELLED)


def _start(replica: Replica, school: SchoolClass, request_id: str = "") -> pb.RegistrationJob:
    answer = replica.stub.StartClassRegistration(
        pb.StartClassRegistrationRequest(request_id=request_id, class_id=str(school.class_id)),
        metadata=bearer(school.admin, "admin"),
    )
    return answer.job


def _job(replica: Replica, school: SchoolClass, job_id: str) -> pb.RegistrationJob:
    return replica.stub.GetRegistrationJob(
        pb.GetRegistrationJobRequest(job_id=job_id), metadata=bearer(school.admin, "admin")
    ).job


def _finished(replica: Replica, school: SchoolClass, job_id: str, within: float = 60) -> pb.RegistrationJob:
    eventually_sync(lambda: _job(replica, school, job_id).state in FINAL, within=within, what="the job finishing")
    return _job(replica, school, job_id)


def _assert_exactly_once(
    database_url: str, emulator: EmulatorProcess, school: SchoolClass, meeting: SchoolMeeting, expected: int
) -> list[dict[str, object]]:
    """One registrant per student at Zoom, one stored row per student, with the same registrant ids."""
    at_zoom = zoom_registrants(emulator, meeting.meeting_id)
    stored = stored_registrants(database_url, meeting.meeting_id)
    emails = Counter(str(r["email"]).lower() for r in at_zoom)
    assert len(at_zoom) == expected
    assert set(emails.values()) == {1}
    assert len(stored) == expected
    assert sorted(stored.values()) == sorted(str(r["id"]) for r in at_zoom)
    by_email = {school.emails[uuid.UUID(s)].lower(): r for s, r in stored.items()}
    assert all(by_email[str(r["email"]).lower()] == r["id"] for r in at_zoom)
    return at_zoom


def test_class_job_registers_every_pair_once_in_batches_and_streams_progress(
    database_url: str, emulator: EmulatorProcess, replica: Replica
) -> None:
    school = seed_class(database_url, 62, foreign_emails=[f"kid{uuid.uuid4().hex[:6]}@gmail.com"])
    scheduled = add_meeting(database_url, school, emulator.root, start=SOON)
    recurring = add_meeting(database_url, school, emulator.root, start=SOON, meeting_type=8)
    heavy_before = emulator.admin().get("/_emulator/state").json()["calls"].get("Heavy", 0)
    replica.stub.RegisterStudent(  # one pair is registered before the job
        pb.RegisterStudentRequest(class_id=str(school.class_id), student_id=str(school.students[0])),
        metadata=bearer(school.admin, "admin"),
    )

    job = _start(replica, school)
    updates = list(
        replica.stub.WatchRegistrationJob(
            pb.WatchRegistrationJobRequest(job_id=job.job_id), metadata=bearer(school.admin, "admin"), timeout=60
        )
    )

    done = updates[-1].job
    assert done.state == pb.JOB_STATE_COMPLETED
    assert done.progress.total_count == 63 * 2
    assert done.progress.already_registered_count == 2
    assert done.progress.not_eligible_count == 2  # the gmail student, in both meetings
    assert done.progress.registered_count == 61 * 2 - 0
    assert done.progress.pending_count == 0
    assert done.progress.failed_count == 0
    assert sorted(done.meeting_ids) == sorted([scheduled.meeting_id, recurring.meeting_id])
    for meeting in (scheduled, recurring):
        at_zoom = _assert_exactly_once(database_url, emulator, school, meeting, 62)
        assert {r["add_calls"] for r in at_zoom} == {1}
    heavy_calls = emulator.admin().get("/_emulator/state").json()["calls"]["Heavy"] - heavy_before
    # 61 students of the scheduled meeting in batches of up to 30 (a lone last one is a single add).
    assert 2 <= heavy_calls <= 3


def test_a_job_survives_sigkill_of_its_service_and_registers_each_pair_once(
    database_url: str, emulator: EmulatorProcess
) -> None:
    school = seed_class(database_url, 120)
    meeting = add_meeting(database_url, school, emulator.root, start=SOON, meeting_type=8)
    emulator.admin().put("/_emulator/config", json={"latency_ms": 80}).raise_for_status()
    first = start_replica(database_url, emulator)
    job = _start(first, school)
    eventually_sync(lambda: _job(first, school, job.job_id).progress.registered_count >= 20, within=30, what="progress")

    first.process.process.send_signal(signal.SIGKILL)
    first.process.process.wait()
    first.channel.close()
    second = start_replica(database_url, emulator)
    try:
        done = _finished(second, school, job.job_id)
    finally:
        second.stop()

    assert done.state == pb.JOB_STATE_COMPLETED
    assert done.progress.registered_count == 120
    assert done.progress.failed_count == 0
    at_zoom = _assert_exactly_once(database_url, emulator, school, meeting, 120)
    # Only pairs in flight at the kill were sent twice (Zoom answered with the same registrant).
    assert max(int(str(r["add_calls"])) for r in at_zoom) <= 2


def test_a_job_under_20_percent_zoom_faults_loses_and_duplicates_nothing(
    database_url: str, emulator: EmulatorProcess, replica: Replica
) -> None:
    school = seed_class(database_url, 70)
    scheduled = add_meeting(database_url, school, emulator.root, start=SOON)
    recurring = add_meeting(database_url, school, emulator.root, start=SOON, meeting_type=8)
    faults_before = sum(emulator.admin().get("/_emulator/state").json()["faults"].values())
    set_faults(emulator, 0.2, seed=41)

    done = _finished(replica, school, _start(replica, school).job_id, within=90)

    assert done.state == pb.JOB_STATE_COMPLETED
    assert done.progress.registered_count == 140
    assert done.progress.failed_count == 0
    for meeting in (scheduled, recurring):
        _assert_exactly_once(database_url, emulator, school, meeting, 70)
    assert sum(emulator.admin().get("/_emulator/state").json()["faults"].values()) - faults_before >= 10


def test_two_replicas_share_one_job_without_exceeding_zoom_limits(database_url: str, emulator: EmulatorProcess) -> None:
    school = seed_class(database_url, 150)
    meeting = add_meeting(database_url, school, emulator.root, start=SOON, meeting_type=8)
    emulator.admin().put("/_emulator/config", json={"latency_ms": 50}).raise_for_status()
    refused_before = emulator.admin().get("/_emulator/state").json()["rate_limited"]["QPS"]
    replicas = [start_replica(database_url, emulator), start_replica(database_url, emulator)]
    try:
        done = _finished(replicas[0], school, _start(replicas[0], school).job_id)
        shares = [r.items_done() for r in replicas]
    finally:
        for running in replicas:
            running.stop()

    assert done.progress.registered_count == 150
    assert all(share > 0 for share in shares), shares
    _assert_exactly_once(database_url, emulator, school, meeting, 150)
    assert emulator.admin().get("/_emulator/state").json()["rate_limited"]["QPS"] == refused_before


def test_cancelling_a_job_keeps_registered_pairs_and_cancels_the_rest(
    database_url: str, emulator: EmulatorProcess, replica: Replica
) -> None:
    school = seed_class(database_url, 100)
    meeting = add_meeting(database_url, school, emulator.root, start=SOON, meeting_type=8)
    emulator.admin().put("/_emulator/config", json={"latency_ms": 150}).raise_for_status()
    job = _start(replica, school)
    eventually_sync(
        lambda: _job(replica, school, job.job_id).progress.registered_count >= 5, within=30, what="progress"
    )

    cancelled = replica.stub.CancelRegistrationJob(
        pb.CancelRegistrationJobRequest(job_id=job.job_id), metadata=bearer(school.admin, "admin")
    ).job
    eventually_sync(lambda: _job(replica, school, job.job_id).progress.pending_count == 0, within=30, what="settled")
    final = _job(replica, school, job.job_id)

    assert cancelled.state == pb.JOB_STATE_CANCELLED
    assert final.state == pb.JOB_STATE_CANCELLED
    assert final.progress.cancelled_count > 0
    assert final.progress.registered_count + final.progress.cancelled_count == 100
    assert len(stored_registrants(database_url, meeting.meeting_id)) == final.progress.registered_count


def test_starting_twice_with_one_request_id_returns_the_same_job(
    database_url: str, emulator: EmulatorProcess, replica: Replica
) -> None:
    school = seed_class(database_url, 3)
    add_meeting(database_url, school, emulator.root, start=SOON)
    key = f"start-{uuid.uuid4()}"

    first = _start(replica, school, key)
    second = _start(replica, school, key)

    assert second.job_id == first.job_id
    _finished(replica, school, first.job_id)


def test_teachers_may_watch_but_not_start_their_class_job(
    database_url: str, emulator: EmulatorProcess, replica: Replica
) -> None:
    school = seed_class(database_url, 2)
    add_meeting(database_url, school, emulator.root, start=SOON)
    job = _start(replica, school)
    teacher = bearer(school.teacher, "teacher")
    stranger = bearer(uuid.uuid4(), "teacher")

    seen = replica.stub.GetRegistrationJob(pb.GetRegistrationJobRequest(job_id=job.job_id), metadata=teacher).job
    denied = []
    for call, metadata in (
        (
            lambda m: replica.stub.StartClassRegistration(
                pb.StartClassRegistrationRequest(class_id=str(school.class_id)), metadata=m
            ),
            teacher,
        ),
        (
            lambda m: replica.stub.GetRegistrationJob(pb.GetRegistrationJobRequest(job_id=job.job_id), metadata=m),
            stranger,
        ),
        (
            lambda m: replica.stub.GetRegistrationJob(
                pb.GetRegistrationJobRequest(job_id=str(uuid.uuid4())), metadata=m
            ),
            stranger,
        ),
    ):
        try:
            call(metadata)
        except grpc.RpcError as error:
            denied.append(error.code())

    assert seen.job_id == job.job_id
    assert denied == [grpc.StatusCode.PERMISSION_DENIED] * 3
