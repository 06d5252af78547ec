"""Two attendance replicas against one database and one Zoom account: the automatic syncs after
`meeting.ended` are shared without any meeting synced twice, the live roster reaches watchers of
either replica through LISTEN/NOTIFY, and Zoom's limits hold. A registration replica stopped by
SIGTERM mid-job exits cleanly and the other finishes the job, each pair registered once.

The registration side is shown by
`tests/integration/registration/test_class_registration_job.py::test_two_replicas_share_one_job_without_exceeding_zoom_limits`
(two replicas split one class job by their Prometheus counters, every pair registered once, no 429).
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
import httpx
import psycopg
import pytest
from rollcall.attendance.v1 import attendance_service_pb2 as pb
from rollcall.attendance.v1 import attendance_service_pb2_grpc as rpc
from rollcall.registration.v1 import registration_service_pb2 as registration_pb

from common.db import libpq_url
from tests.conftest import service_env
from tests.integration.attendance.conftest import (
    EmulatorAdmin,
    gateway_md,
    owner_connection,
    seed_meeting,
    seed_school,
    zoom_event,
)
from tests.integration.registration.conftest import start_replica, stored_registrants, zoom_registrants
from tests.support.database import fresh_database
from tests.support.emulator import EmulatorProcess, running_emulator
from tests.support.grpc_health import is_serving
from tests.support.polling import eventually, eventually_sync
from tests.support.processes import ChildProcess, free_port, start_python_module
from tests.support.school import add_meeting, seed_class
from tests.support.tokens import bearer

C = pb.RosterChangeType
MEETINGS = 10
# Each report fetch takes at least this long, so both replicas' workers are busy at once.
ZOOM_LATENCY_MS = 150


@dataclass
class AttendanceReplica:
    name: str
    target: str
    process: ChildProcess
    metrics_port: int

    def metric(self, name: str, **labels: str) -> float:
        """The sum of a series' samples on this replica's /metrics whose labels include `labels`."""
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        wanted = [f'{key}="{value}"' for key, value in labels.items()]
        total = 0.0
        for line in text.splitlines():
            series, _, value = line.rpartition(" ")
            if (series == name or series.startswith(name + "{")) and all(w in series for w in wanted):
                total += float(value)
        return total


def _start_replica(name: str, database_url: str, emulator: EmulatorProcess) -> AttendanceReplica:
    port, metrics_port = free_port(), free_port()
    env = service_env(
        database_url,
        ROLLCALL_ATTENDANCE_PORT=str(port),
        ROLLCALL_ATTENDANCE_METRICS_PORT=str(metrics_port),
        ROLLCALL_ATTENDANCE_SYNC_DELAYS_SECONDS="0.3,0.6,1.0",
        ZOOM_PLAN="pro",
        **emulator.zoom_env(),
    )
    process = start_python_module(name, "attendance_service", env)
    target = f"127.0.0.1:{port}"
    try:
        eventually_sync(functools.partial(is_serving, target), within=30, what=f"{name} serving")
    except AssertionError:
        process.stop()
        raise AssertionError(f"{name} did not start:\n{process.log()}") from None
    return AttendanceReplica(name, target, process, metrics_port)


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    """A database of this module's own: workers of other folders' service processes (pointed at
    other emulators) would otherwise claim these replicas' job items and syncs."""
    with fresh_database() as url:
        yield url


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorProcess]:
    with running_emulator("--plan", "pro", "--seed", "11") as process:
        yield process


@pytest.fixture(scope="module")
def replicas(database_url: str, emulator: EmulatorProcess) -> Iterator[tuple[AttendanceReplica, AttendanceReplica]]:
    first = _start_replica("attendance-a", database_url, emulator)
    try:
        second = _start_replica("attendance-b", database_url, emulator)
    except AssertionError:
        first.process.stop()
        raise
    try:
        yield first, second
    finally:
        first.process.stop()
        second.process.stop()


def _zoom_state(emulator: EmulatorProcess) -> dict[str, dict[str, int]]:
    response = emulator.admin().get("/_emulator/state")
    response.raise_for_status()
    state: dict[str, dict[str, int]] = response.json()
    return state


async def _ingest(replica: AttendanceReplica, body: bytes) -> None:
    async with grpc.aio.insecure_channel(replica.target) as channel:
        reply = await rpc.AttendanceServiceStub(channel).IngestZoomEvent(
            pb.IngestZoomEventRequest(body=body, request_timestamp=int(datetime.now(UTC).timestamp())),
            metadata=gateway_md(),
            timeout=10,
        )
    assert not reply.duplicate


async def test_two_replicas_share_automatic_syncs_and_sync_each_meeting_once(
    database_url: str, emulator: EmulatorProcess, replicas: tuple[AttendanceReplica, AttendanceReplica]
) -> None:
    school = seed_school(database_url, ("Ana Cruz", "Ben Santos"))
    zoom = EmulatorAdmin(emulator.root)
    ended: list[tuple[int, str, datetime]] = []
    try:
        for day in range(MEETINGS):
            start = datetime(2026, 11, 2, 0, 30, tzinfo=UTC) + timedelta(days=day)
            end = start + timedelta(minutes=60)
            meeting_id = seed_meeting(database_url, school, start=start)
            zoom.put_meeting(meeting_id, school.host_zoom_id, start)
            rows = [
                {
                    "user_id": str(random.randrange(16_000_000, 25_000_000)),
                    "name": s.name,
                    "user_email": s.email,
                    "join_time": start.isoformat(),
                    "leave_time": end.isoformat(),
                }
                for s in school.students
            ]
            report = zoom.call(
                "PUT",
                f"/_emulator/meetings/{meeting_id}/report",
                {"start_time": start.isoformat(), "end_time": end.isoformat(), "participants": rows},
            )
            ended.append((meeting_id, str(report["uuid"]), end))
    finally:
        zoom.close()
    emulator.admin().put("/_emulator/config", json={"latency_ms": ZOOM_LATENCY_MS}).raise_for_status()
    before = _zoom_state(emulator)
    done_before = [r.metric("rollcall_attendance_syncs_total", outcome="done") for r in replicas]
    lag_before = sum(r.metric("rollcall_attendance_sync_lag_seconds_count") for r in replicas)
    try:
        # A load balancer spreads the gateway's forwarded webhooks: every other one reaches each replica.
        for index, (meeting_id, meeting_uuid, end) in enumerate(ended):
            body = zoom_event("meeting.ended", meeting_id, meeting_uuid, 1_000 + index, end_time=end.isoformat())
            await _ingest(replicas[index % 2], body)

        uuids = [meeting_uuid for _, meeting_uuid, _ in ended]

        async def all_synced() -> bool:
            with owner_connection(database_url) as owner:
                row = owner.execute(
                    "SELECT count(*) FROM meeting_instances WHERE meeting_uuid = ANY(%s) AND sync_state = 'done'",
                    (uuids,),
                ).fetchone()
            return row is not None and row[0] == MEETINGS

        await eventually(all_synced, within=60, what="every ended meeting synced")
    finally:
        emulator.admin().put("/_emulator/config", json={"latency_ms": 0}).raise_for_status()
    after = _zoom_state(emulator)
    shares = [
        r.metric("rollcall_attendance_syncs_total", outcome="done") - b
        for r, b in zip(replicas, done_before, strict=True)
    ]
    with owner_connection(database_url) as owner:
        records = owner.execute(
            "SELECT count(*) FROM attendance_records WHERE class_id = %s", (school.class_id,)
        ).fetchone()

    assert sum(shares) == MEETINGS, shares
    assert all(share > 0 for share in shares), f"one replica did all the work: {shares}"
    # One report page per meeting (2 rows < 300 a page): no meeting was fetched, so synced, twice.
    assert after["calls"].get("Heavy", 0) - before["calls"].get("Heavy", 0) == MEETINGS
    assert after["rate_limited"] == before["rate_limited"]
    assert records == (2 * MEETINGS,)
    assert sum(r.metric("rollcall_attendance_sync_lag_seconds_count") for r in replicas) - lag_before == MEETINGS


async def test_a_webhook_ingested_by_one_replica_reaches_watchers_of_both(
    database_url: str, replicas: tuple[AttendanceReplica, AttendanceReplica]
) -> None:
    school = seed_school(database_url, ("Ana Cruz",))
    ana = school.student("Ana Cruz")
    start = datetime.now(UTC).replace(microsecond=0)
    meeting_id = seed_meeting(database_url, school, start=start)
    meeting_uuid = f"scale-{random.randrange(10**9)}=="
    channels = [grpc.aio.insecure_channel(r.target) for r in replicas]
    try:
        streams = [
            rpc.AttendanceServiceStub(channel)
            .WatchMeetingParticipants(
                pb.WatchMeetingParticipantsRequest(meeting_id=meeting_id), metadata=school.teacher_md()
            )
            .__aiter__()
            for channel in channels
        ]
        snapshots = [await asyncio.wait_for(anext(s), timeout=10) for s in streams]
        assert [s.change_type for s in snapshots] == [C.ROSTER_CHANGE_TYPE_SNAPSHOT] * 2

        participant = {"user_id": "16000001", "user_name": ana.name, "email": ana.email}
        steps = (
            (replicas[0], zoom_event("meeting.started", meeting_id, meeting_uuid, 1, start_time=start.isoformat())),
            (
                replicas[1],
                zoom_event(
                    "meeting.participant_joined",
                    meeting_id,
                    meeting_uuid,
                    2,
                    participant={**participant, "join_time": (start + timedelta(seconds=5)).isoformat()},
                ),
            ),
            (
                replicas[0],
                zoom_event(
                    "meeting.participant_left",
                    meeting_id,
                    meeting_uuid,
                    3,
                    participant={**participant, "leave_time": (start + timedelta(minutes=9)).isoformat()},
                ),
            ),
        )
        expected = (C.ROSTER_CHANGE_TYPE_MEETING_STARTED, C.ROSTER_CHANGE_TYPE_JOINED, C.ROSTER_CHANGE_TYPE_LEFT)
        for (replica, body), change in zip(steps, expected, strict=True):
            await _ingest(replica, body)
            seen = await asyncio.gather(*(asyncio.wait_for(anext(s), timeout=2) for s in streams))
            assert [m.change_type for m in seen] == [change, change]
            if change != C.ROSTER_CHANGE_TYPE_MEETING_STARTED:
                assert [m.participant.student_id for m in seen] == [str(ana.id)] * 2
    finally:
        for channel in channels:
            await channel.close()


def test_sigterm_mid_job_stops_a_registration_replica_cleanly_and_the_job_completes_once(
    database_url: str, emulator: EmulatorProcess
) -> None:
    school = seed_class(database_url, 120)
    meeting = add_meeting(
        database_url, school, emulator.root, start=datetime.now(UTC) + timedelta(days=2), meeting_type=8
    )
    emulator.admin().put("/_emulator/config", json={"latency_ms": 80}).raise_for_status()
    refused_before = _zoom_state(emulator)["rate_limited"]
    admin = bearer(school.admin, "admin")
    first, second = start_replica(database_url, emulator), start_replica(database_url, emulator)
    try:
        job_id = first.stub.StartClassRegistration(
            registration_pb.StartClassRegistrationRequest(class_id=str(school.class_id)), metadata=admin
        ).job.job_id

        def progress() -> registration_pb.JobProgress:
            request = registration_pb.GetRegistrationJobRequest(job_id=job_id)
            return second.stub.GetRegistrationJob(request, metadata=admin).job.progress

        eventually_sync(lambda: progress().registered_count >= 20, within=30, what="progress")
        first.channel.close()
        pid = first.process.process.pid
        exit_code = first.process.stop()  # SIGTERM: drain, stop the job workers, close the engine
        held_after_stop = _items_held_by(database_url, pid)
        eventually_sync(lambda: progress().pending_count == 0, within=60, what="the job finishing")
        done = progress()
    finally:
        first.stop()
        second.stop()
        emulator.admin().put("/_emulator/config", json={"latency_ms": 0}).raise_for_status()

    assert exit_code == 0
    assert "shutdown.hook_failed" not in first.process.log()
    assert held_after_stop == 0  # handed back at once, not after the lease
    assert "registration.items_released" in first.process.log()
    assert done.registered_count == 120
    at_zoom = zoom_registrants(emulator, meeting.meeting_id)
    assert len(at_zoom) == 120
    assert sorted(stored_registrants(database_url, meeting.meeting_id).values()) == sorted(
        str(r["id"]) for r in at_zoom
    )
    assert _zoom_state(emulator)["rate_limited"] == refused_before


def _items_held_by(database_url: str, pid: int) -> int:
    """Job items leased by the replica with process id `pid` (lease owners are host:pid)."""
    with psycopg.connect(libpq_url(database_url)) as owner:
        row = owner.execute(
            "SELECT count(*) FROM registration_job_items WHERE state = 'in_progress' AND lease_owner LIKE %s",
            (f"%:{pid}",),
        ).fetchone()
    assert row is not None
    return int(row[0])
