"""The attendance service as a real process on a free port, the Zoom emulator beside it, and a
school seeded as the database owner. Tests make their own ids, so they share one database."""

from __future__ import annotations

import functools
import hmac
import json
import random
import re
import threading
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import httpx
import psycopg
import pytest
from rollcall.attendance.v1 import attendance_service_pb2 as pb
from rollcall.attendance.v1 import attendance_service_pb2_grpc as rpc

from common.db import libpq_url
from tests.conftest import service_env
from tests.support.grpc_health import is_serving
from tests.support.polling import eventually_sync
from tests.support.processes import ChildProcess, free_port, start_python_module
from tests.support.tokens import bearer

ACCOUNT, CLIENT_ID, CLIENT_SECRET = "acct-attendance", "client-attendance", "secret-attendance-" + uuid.uuid4().hex
WEBHOOK_SECRET = "webhook-secret-" + uuid.uuid4().hex
GATEWAY = uuid.uuid4()  # the gateway's service identity, forwarding webhooks
# Automatic syncs retry fast in tests; production waits minutes (Zoom's report lags up to 30 min).
SYNC_DELAYS = "0.3,0.6,1.0"


@dataclass(frozen=True)
class Student:
    id: uuid.UUID
    email: str
    name: str


@dataclass(frozen=True)
class School:
    admin: uuid.UUID
    teacher: uuid.UUID
    host_zoom_id: str
    class_id: uuid.UUID
    students: tuple[Student, ...]

    def student(self, name: str) -> Student:
        return next(s for s in self.students if s.name == name)

    def teacher_md(self) -> tuple[tuple[str, str]]:
        return bearer(self.teacher, "teacher")


def owner_connection(database_url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(libpq_url(database_url), autocommit=True)


def seed_school(database_url: str, names: Sequence[str], **thresholds: int) -> School:
    """A teacher (also the Zoom host), an admin, a class with `thresholds`, and its students."""
    tag = uuid.uuid4().hex[:8]
    admin, teacher, class_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    host = f"host-{tag}"
    students = tuple(Student(uuid.uuid4(), f"s{i}.{tag}@r1.deped.gov.ph", name) for i, name in enumerate(names))
    with owner_connection(database_url) as owner:
        owner.execute(
            "INSERT INTO users (id, email, display_name, role) VALUES (%s, %s, 'Admin', 'admin')",
            (admin, f"admin.{tag}@r1.deped.gov.ph"),
        )
        owner.execute(
            "INSERT INTO users (id, email, display_name, role, zoom_user_id) VALUES (%s, %s, 'Teacher', 'teacher', %s)",
            (teacher, f"teacher.{tag}@r1.deped.gov.ph", host),
        )
        columns = ", ".join(["id", "name", "section", "school_year", "teacher_id", *thresholds])
        values = [class_id, f"Class {tag}", "A", "2026-2027", teacher, *thresholds.values()]
        owner.execute(
            f"INSERT INTO classes ({columns}) VALUES ({', '.join(['%s'] * len(values))})",
            values,
        )
        for s in students:
            owner.execute(
                "INSERT INTO users (id, email, display_name, role) VALUES (%s, %s, %s, 'student')",
                (s.id, s.email, s.name),
            )
            owner.execute("INSERT INTO enrollments (class_id, student_id) VALUES (%s, %s)", (class_id, s.id))
    return School(admin, teacher, host, class_id, students)


def seed_meeting(
    database_url: str,
    school: School,
    *,
    start: datetime,
    duration_minutes: int = 60,
    registrants: dict[uuid.UUID, str] | None = None,
    meeting_id: int | None = None,
) -> int:
    """A scheduled meeting of the class, with the given students registered (student -> registrant id)."""
    meeting_id = meeting_id or random.randrange(10**10, 10**11)
    with owner_connection(database_url) as owner:
        owner.execute(
            "INSERT INTO zoom_meetings (id, uuid, class_id, host_id, topic, meeting_type, start_time, "
            "duration_minutes, approval_type) VALUES (%s, NULL, %s, %s, 'Math', 2, %s, %s, 0)",
            (meeting_id, school.class_id, school.host_zoom_id, start, duration_minutes),
        )
    seed_registrants(database_url, meeting_id, registrants or {})
    return meeting_id


def seed_registrants(database_url: str, meeting_id: int, registrants: dict[uuid.UUID, str]) -> None:
    """Registrations as the registration service stores them (student -> Zoom registrant id)."""
    with owner_connection(database_url) as owner:
        for student_id, registrant_id in registrants.items():
            owner.execute(
                "INSERT INTO meeting_registrants (meeting_id, student_id, zoom_registrant_id, status) "
                "VALUES (%s, %s, %s, 'approved')",
                (meeting_id, student_id, registrant_id),
            )


def zoom_event(event: str, meeting_id: int, meeting_uuid: str, event_ts: int, **obj: object) -> bytes:
    """A webhook body in Zoom's exact shape (participant events carry the meeting id as a string)."""
    participant_event = event.startswith("meeting.participant_")
    body = {
        "event": event,
        "event_ts": event_ts,
        "payload": {
            "account_id": ACCOUNT,
            "object": {
                "id": str(meeting_id) if participant_event else meeting_id,
                "uuid": meeting_uuid,
                "host_id": "host",
                "topic": "Math",
                "type": 2,
                "duration": 60,
                "timezone": "Asia/Manila",
                **obj,
            },
        },
    }
    return json.dumps(body).encode()


def gateway_md() -> tuple[tuple[str, str]]:
    return bearer(GATEWAY, "service", "zoom.webhooks")


@dataclass(frozen=True)
class Emulator:
    url: str
    process: ChildProcess


@pytest.fixture(scope="package")
def emulator() -> Iterator[Emulator]:
    """The Zoom emulator on a free port (it prints the address it listens on)."""
    process = start_python_module(
        "zoom-emulator-attendance",
        "zoom_emulator",
        {},
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--account-id",
        ACCOUNT,
        "--client-id",
        CLIENT_ID,
        "--client-secret",
        CLIENT_SECRET,
        "--seed",
        "7",
        stdout_pipe=True,
    )
    try:
        assert process.process.stdout is not None
        line = process.process.stdout.readline().decode()
        found = re.search(r"listening on (http://\S+)", line)
        assert found, f"the emulator did not start: {line!r}\n{process.log()}"
        yield Emulator(found.group(1), process)
    finally:
        process.stop()
        if process.process.stdout is not None:
            process.process.stdout.close()


class EmulatorAdmin:
    """The emulator's admin API and the two Zoom calls tests need (token, add registrant)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._http = httpx.Client(base_url=url, timeout=10)

    def call(self, method: str, path: str, body: object | None = None) -> Any:
        response = self._http.request(method, path, json=body)
        assert response.status_code < 300, response.text
        return response.json()

    def put_meeting(self, meeting_id: int, host_id: str, start: datetime, duration_minutes: int = 60) -> str:
        body = {
            "host_id": host_id,
            "topic": "Math",
            "type": 2,
            "start_time": start.isoformat(),
            "duration": duration_minutes,
        }
        return str(self.call("PUT", f"/_emulator/meetings/{meeting_id}", body)["uuid"])

    def register(self, meeting_id: int, student: Student) -> str:
        """Adds a registrant through Zoom's API, as the registration service would."""
        token = self._http.post(
            "/oauth/token",
            content=f"grant_type=account_credentials&account_id={ACCOUNT}",
            headers={"content-type": "application/x-www-form-urlencoded"},
            auth=(CLIENT_ID, CLIENT_SECRET),
        ).json()["access_token"]
        first, _, last = student.name.partition(" ")
        response = self._http.post(
            f"/v2/meetings/{meeting_id}/registrants",
            json={"email": student.email, "first_name": first, "last_name": last},
            headers={"authorization": f"Bearer {token}"},
        )
        assert response.status_code == 201, response.text
        return str(response.json()["registrant_id"])

    def close(self) -> None:
        self._http.close()

    def webhook_count(self) -> int:
        return len(self.call("GET", "/_emulator/state")["webhooks"])


class WebhookRelay:
    """Plays the gateway: receives the emulator's signed webhooks on a real HTTP port, checks the
    signature and forwards each body to IngestZoomEvent as the gateway's service identity."""

    def __init__(self, attendance_target: str) -> None:
        self.received: list[tuple[bytes, bool]] = []  # (body, duplicate as the service answered)
        self._lock = threading.Lock()
        self._channel = grpc.insecure_channel(attendance_target)
        self._stub = rpc.AttendanceServiceStub(self._channel)
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                timestamp = self.headers.get("x-zm-request-timestamp", "")
                expected = (
                    "v0=" + hmac.new(WEBHOOK_SECRET.encode(), f"v0:{timestamp}:".encode() + body, "sha256").hexdigest()
                )
                if not hmac.compare_digest(expected, self.headers.get("x-zm-signature", "")):
                    self.send_response(401)
                    self.end_headers()
                    return
                reply = relay._stub.IngestZoomEvent(
                    pb.IngestZoomEventRequest(body=body, request_timestamp=int(timestamp)),
                    metadata=gateway_md(),
                    timeout=10,
                )
                with relay._lock:
                    relay.received.append((body, reply.duplicate))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhooks"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._channel.close()

    def duplicates(self) -> int:
        with self._lock:
            return sum(1 for _, duplicate in self.received if duplicate)


@dataclass(frozen=True)
class Service:
    target: str
    process: ChildProcess


@pytest.fixture(scope="package")
def attendance(database_url: str, emulator: Emulator) -> Iterator[Service]:
    port = free_port()
    env = service_env(
        database_url,
        ROLLCALL_ATTENDANCE_PORT=str(port),
        ZOOM_API_BASE_URL=f"{emulator.url}/v2",
        ZOOM_OAUTH_URL=emulator.url,
        ZOOM_ACCOUNT_ID=ACCOUNT,
        ZOOM_CLIENT_ID=CLIENT_ID,
        ZOOM_CLIENT_SECRET=CLIENT_SECRET,
        ROLLCALL_ATTENDANCE_SYNC_DELAYS_SECONDS=SYNC_DELAYS,
    )
    process = start_python_module("attendance-it", "attendance_service", env)
    target = f"127.0.0.1:{port}"
    try:
        eventually_sync(functools.partial(is_serving, target), within=30, what="attendance serving")
        yield Service(target, process)
    finally:
        process.stop()


@pytest.fixture(scope="package")
def zoom(emulator: Emulator) -> Iterator[EmulatorAdmin]:
    admin = EmulatorAdmin(emulator.url)
    try:
        yield admin
    finally:
        admin.close()


@pytest.fixture(scope="package")
def relay(attendance: Service, zoom: EmulatorAdmin) -> Iterator[WebhookRelay]:
    relay = WebhookRelay(attendance.target)
    zoom.call("PUT", "/_emulator/config", {"webhook_url": relay.url, "webhook_secret": WEBHOOK_SECRET})
    try:
        yield relay
    finally:
        relay.close()


@pytest.fixture
async def stub(attendance: Service) -> AsyncIterator[rpc.AttendanceServiceAsyncStub]:
    async with grpc.aio.insecure_channel(attendance.target) as channel:
        yield rpc.AttendanceServiceStub(channel)


def manila(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A Manila wall-clock time as an aware UTC datetime (Manila is UTC+8, no DST)."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)
