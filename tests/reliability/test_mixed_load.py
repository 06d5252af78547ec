"""Mixed load: participants reads, attendance reads, class registration jobs and live webhook
traffic (joins and leaves at the emulator, which sends Zoom's signed webhooks through a relay that
plays the gateway into IngestZoomEvent), all at once for DURATION seconds after a warm-up.

Zero errors anywhere, every job's pairs registered exactly once, p50/p99 latencies printed, and the
resident memory of each service process grows at most 10 % between the first and the last WINDOW
seconds. Short: 10 s; ROLLCALL_SOAK=1: 60 s.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from statistics import mean

import grpc
import httpx
import psutil
import pytest
from rollcall.attendance.v1 import attendance_service_pb2 as attendance_pb
from rollcall.attendance.v1 import attendance_service_pb2_grpc as attendance_rpc
from rollcall.registration.v1 import registration_service_pb2 as registration_pb
from rollcall.registration.v1 import registration_service_pb2_grpc as registration_rpc

from tests.conftest import service_env
from tests.integration.attendance.conftest import School
from tests.integration.registration.conftest import Replica, start_replica
from tests.reliability.conftest import Report, by_mode
from tests.reliability.meetings import held_meeting, live_meeting, sync_once
from tests.reliability.registration_history import History, read_history
from tests.support.emulator import EmulatorProcess
from tests.support.grpc_health import is_serving
from tests.support.polling import eventually, eventually_sync
from tests.support.processes import ChildProcess, free_port, start_python_module
from tests.support.school import SchoolClass, SchoolMeeting, add_meeting, seed_class
from tests.support.tokens import bearer

WARM_UP, DURATION, WINDOW = by_mode((3.0, 10.0, 3.0), (10.0, 60.0, 10.0))
CLASS_SIZE = by_mode(60, 150)  # students per registration job (two meetings each)
LIVE_CLASS = 30  # students who join and leave the live meeting
MAX_RSS_GROWTH = 0.10
WEBHOOK_SECRET = "mixed-load-" + uuid.uuid4().hex


@dataclass
class Load:
    """What the workers saw; latencies count only inside the measured window."""

    measuring: bool = False
    latencies: dict[str, list[float]] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)  # the relay's threads record too

    def record(self, kind: str, seconds: float, error: str | None = None) -> None:
        with self.lock:
            self.calls[kind] += 1
            if error is not None:
                self.errors[f"{kind} {error}"] += 1
            elif self.measuring:
                self.latencies.setdefault(kind, []).append(seconds)

    def percentile(self, kind: str, share: float) -> float:
        values = sorted(self.latencies.get(kind, []))
        return values[min(len(values) - 1, int(share * len(values)))] * 1000 if values else float("nan")


class CountingRelay:
    """Plays the gateway for the emulator's webhooks: checks the signature, forwards the body to
    IngestZoomEvent as the gateway's service identity, and times and counts the answers."""

    def __init__(self, attendance_target: str, load: Load) -> None:
        channel = grpc.insecure_channel(attendance_target)
        stub = attendance_rpc.AttendanceServiceStub(channel)
        metadata = bearer(uuid.uuid4(), "service", "zoom.webhooks")

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                timestamp = self.headers.get("x-zm-request-timestamp", "")
                signed = f"v0:{timestamp}:".encode() + body
                expected = "v0=" + hmac.new(WEBHOOK_SECRET.encode(), signed, "sha256").hexdigest()
                if not hmac.compare_digest(expected, self.headers.get("x-zm-signature", "")):
                    load.record("webhook", 0.0, "bad signature")
                    self.send_response(401)
                    self.end_headers()
                    return
                started = time.perf_counter()
                try:
                    stub.IngestZoomEvent(
                        attendance_pb.IngestZoomEventRequest(body=body, request_timestamp=int(timestamp)),
                        metadata=metadata,
                        timeout=10,
                    )
                except grpc.RpcError as error:
                    load.record("webhook", time.perf_counter() - started, error.code().name)
                    self.send_response(500)
                else:
                    load.record("webhook", time.perf_counter() - started)
                    self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self._channel = channel
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhooks"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._channel.close()


@dataclass
class Stack:
    registration: Replica
    attendance: ChildProcess
    attendance_target: str
    load: Load


@pytest.fixture
def stack(database_url: str, emulator: EmulatorProcess) -> Iterator[Stack]:
    registration = start_replica(database_url, emulator)
    port = free_port()
    attendance = start_python_module(
        "attendance-mixed-load",
        "attendance_service",
        service_env(database_url, ROLLCALL_ATTENDANCE_PORT=str(port), **emulator.zoom_env()),
    )
    load = Load()
    relay: CountingRelay | None = None
    try:
        target = f"127.0.0.1:{port}"
        eventually_sync(functools.partial(is_serving, target), within=30, what="attendance serving")
        relay = CountingRelay(target, load)
        config = {"webhook_url": relay.url, "webhook_secret": WEBHOOK_SECRET, "latency_ms": 20, "jitter_ms": 20}
        emulator.admin().put("/_emulator/config", json=config).raise_for_status()
        yield Stack(registration, attendance, target, load)
    finally:
        emulator.admin().put("/_emulator/config", json={"webhook_url": None}).raise_for_status()
        if relay is not None:
            relay.close()
        attendance.stop()
        registration.stop()


async def _timed(load: Load, kind: str, call: Callable[[], Awaitable[object]]) -> None:
    started = time.perf_counter()
    try:
        await call()
    except grpc.aio.AioRpcError as error:
        load.record(kind, time.perf_counter() - started, error.code().name)
    else:
        load.record(kind, time.perf_counter() - started)


async def _reader(load: Load, calls: Sequence[tuple[str, Callable[[], Awaitable[object]]]]) -> None:
    while True:
        for kind, call in calls:
            await _timed(load, kind, call)


@dataclass
class Jobs:
    done: list[tuple[SchoolClass, list[SchoolMeeting], registration_pb.RegistrationJob]] = field(default_factory=list)


async def _registration_jobs(
    load: Load,
    stub: registration_rpc.RegistrationServiceAsyncStub,
    database_url: str,
    emulator: EmulatorProcess,
    jobs: Jobs,
) -> None:
    """One class job after the other, each for a new class, for as long as the load runs."""
    while True:
        school = await asyncio.to_thread(seed_class, database_url, CLASS_SIZE)
        soon = datetime.now(UTC) + timedelta(days=2)
        meetings = [
            await asyncio.to_thread(add_meeting, database_url, school, emulator.root, start=soon),
            await asyncio.to_thread(add_meeting, database_url, school, emulator.root, start=soon, meeting_type=8),
        ]
        admin = bearer(school.admin, "admin")
        started = time.perf_counter()
        job = (
            await stub.StartClassRegistration(
                registration_pb.StartClassRegistrationRequest(class_id=str(school.class_id)), metadata=admin, timeout=10
            )
        ).job
        load.record("job start", time.perf_counter() - started)
        request = registration_pb.GetRegistrationJobRequest(job_id=job.job_id)
        while job.state != registration_pb.JOB_STATE_COMPLETED:
            started = time.perf_counter()
            job = (await stub.GetRegistrationJob(request, metadata=admin, timeout=10)).job
            load.record("job poll", time.perf_counter() - started)
            await asyncio.sleep(0.2)  # the poll's pace, not a wait for a condition
        if job.progress.failed_count:
            load.record("job", 0.0, "FAILED_ITEMS")
        jobs.done.append((school, meetings, job))


async def _joins_and_leaves(load: Load, emulator: EmulatorProcess, school: School, meeting_id: int, seed: int) -> None:
    """Students join and leave the live meeting at random (seeded); each sends a webhook."""
    rng = random.Random(seed)
    present: dict[str, str] = {}  # user id -> email
    async with httpx.AsyncClient(base_url=emulator.root, timeout=10) as admin:
        while True:
            absent = [s.email for s in school.students if s.email not in present.values()]
            if present and (not absent or rng.random() < 0.45):
                user_id = rng.choice(sorted(present))
                response = await admin.post(
                    f"/_emulator/meetings/{meeting_id}/participants/leave", json={"user_id": user_id}
                )
                present.pop(user_id)
            else:
                email = rng.choice(absent)
                response = await admin.post(
                    f"/_emulator/meetings/{meeting_id}/participants/join", json={"email": email, "name": "Student"}
                )
                if response.status_code < 300:
                    present[str(response.json()["user_id"])] = email
            if response.status_code >= 300:
                load.record("emulator", 0.0, str(response.status_code))
            await asyncio.sleep(rng.uniform(0.02, 0.15))  # the traffic's pace


async def _sample_rss(processes: dict[str, psutil.Process], samples: dict[str, list[tuple[float, int]]]) -> None:
    while True:
        now = time.monotonic()
        for name, process in processes.items():
            samples.setdefault(name, []).append((now, process.memory_info().rss))
        await asyncio.sleep(0.5)  # the sampling rate


def _growth(samples: list[tuple[float, int]], start: float, end: float) -> float:
    first = [rss for t, rss in samples if start <= t <= start + WINDOW]
    last = [rss for t, rss in samples if end - WINDOW <= t <= end]
    return mean(last) / mean(first) - 1


async def test_reads_jobs_and_webhooks_together_answer_without_errors_or_memory_growth(
    stack: Stack, database_url: str, emulator: EmulatorProcess, base_seed: int, report: Report
) -> None:
    load = stack.load
    webhooks_before = len(emulator.admin().get("/_emulator/state").json()["webhooks"])
    async with (
        grpc.aio.insecure_channel(stack.registration.target) as registration_channel,
        grpc.aio.insecure_channel(stack.attendance_target) as attendance_channel,
    ):
        registration = registration_rpc.RegistrationServiceStub(registration_channel)
        attendance = attendance_rpc.AttendanceServiceStub(attendance_channel)
        held_school, held = await asyncio.to_thread(held_meeting, database_url, emulator)
        await sync_once(attendance, held_school, held)
        live_school, live = await asyncio.to_thread(live_meeting, database_url, emulator, LIVE_CLASS)
        held_teacher, live_teacher = bearer(held_school.teacher, "teacher"), bearer(live_school.teacher, "teacher")
        participants = [
            (
                "participants",
                functools.partial(
                    attendance.GetMeetingParticipants,
                    attendance_pb.GetMeetingParticipantsRequest(meeting_id=meeting),
                    metadata=teacher,
                    timeout=10,
                ),
            )
            for meeting, teacher in ((live, live_teacher), (held, held_teacher))
        ]
        sheets = [
            (
                "attendance",
                functools.partial(
                    attendance.GetMeetingAttendance,
                    attendance_pb.GetMeetingAttendanceRequest(meeting_id=meeting),
                    metadata=teacher,
                    timeout=10,
                ),
            )
            for meeting, teacher in ((held, held_teacher), (live, live_teacher))
        ]
        jobs = Jobs()
        rss: dict[str, list[tuple[float, int]]] = {}
        processes = {
            "registration": psutil.Process(stack.registration.process.process.pid),
            "attendance": psutil.Process(stack.attendance.process.pid),
        }
        tasks = [
            *(asyncio.create_task(_reader(load, participants)) for _ in range(3)),
            *(asyncio.create_task(_reader(load, sheets)) for _ in range(2)),
            asyncio.create_task(_registration_jobs(load, registration, database_url, emulator, jobs)),
            asyncio.create_task(_joins_and_leaves(load, emulator, live_school, live, base_seed)),
            asyncio.create_task(_sample_rss(processes, rss)),
        ]
        try:
            await asyncio.sleep(WARM_UP)  # the load runs unmeasured while caches and pools fill
            load.measuring = True
            measured_from = time.monotonic()
            await asyncio.sleep(DURATION)  # the measured window
            measured_to = time.monotonic()
            load.measuring = False
        finally:
            for task in tasks:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
        crashed = [r for r in results if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)]
        assert crashed == []

        async def webhooks_delivered() -> bool:
            sent = len(emulator.admin().get("/_emulator/state").json()["webhooks"]) - webhooks_before
            return load.calls["webhook"] >= sent

        await eventually(webhooks_delivered, within=30, what="every webhook the emulator sent delivered")

    history = History()
    for school, meetings, _ in jobs.done:
        history.add(await asyncio.to_thread(read_history, database_url, emulator, school, meetings))
    growth = {name: _growth(samples, measured_from, measured_to) for name, samples in rss.items()}
    kinds = ("participants", "attendance", "webhook", "job poll")
    report(
        "mixed-load",
        "Mixed load",
        [
            f"{DURATION:.0f} s measured after {WARM_UP:.0f} s of warm-up; calls "
            + ", ".join(f"{kind} {n}" for kind, n in sorted(load.calls.items()))
            + f"; errors {sum(load.errors.values())} {dict(load.errors) or ''}",
            "latency p50/p99 ms: "
            + ", ".join(f"{k} {load.percentile(k, 0.5):.1f}/{load.percentile(k, 0.99):.1f}" for k in kinds),
            f"class jobs completed {len(jobs.done)}, pairs {history.requested}, lost {history.lost}, "
            f"duplicated {history.duplicated}",
            "RSS growth first vs last window: "
            + ", ".join(f"{name} {share:+.1%} ({rss[name][-1][1] / 2**20:.0f} MiB)" for name, share in growth.items()),
        ],
        {
            "duration_seconds": DURATION,
            "calls": dict(load.calls),
            "errors": dict(load.errors),
            "p50_ms": {k: load.percentile(k, 0.5) for k in kinds},
            "p99_ms": {k: load.percentile(k, 0.99) for k in kinds},
            "jobs": len(jobs.done),
            "pairs": history.requested,
            "lost": history.lost,
            "duplicated": history.duplicated,
            "rss_growth": growth,
        },
    )
    assert load.errors == Counter()
    assert jobs.done, "no class job completed within the window"
    assert (history.lost, history.duplicated) == (0, 0), history.problems
    assert all(share <= MAX_RSS_GROWTH for share in growth.values()), growth
