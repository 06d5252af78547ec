"""The gateway in front of both services, all real processes on free ports, with the Zoom emulator
sending its signed webhooks to the gateway. A past meeting is simulated at the emulator and synced
through the gateway once per session; tests make their own ids otherwise."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest

from tests.conftest import service_env
from tests.integration.attendance.conftest import (
    School,
    manila,
    seed_meeting,
    seed_registrants,
    seed_school,
)
from tests.support.emulator import EmulatorProcess, running_emulator
from tests.support.grpc_health import is_serving
from tests.support.polling import eventually_sync
from tests.support.processes import ChildProcess, free_port, start_python_module
from tests.support.tokens import token_for

MAX_BODY_BYTES = 4096
TRUSTED_PROXY_HEADER = "x-forwarded-for"
START = manila(2026, 11, 24, 7, 30)


@dataclass(frozen=True)
class Gateway:
    url: str
    attendance_target: str
    registration_target: str
    attendance_metrics_url: str
    emulator: EmulatorProcess
    processes: tuple[ChildProcess, ...]

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)


@dataclass(frozen=True)
class PastMeeting:
    """A linked meeting that is over: Ana joined by her registration link, a guest by name."""

    school: School
    meeting_id: int
    ana_registrant_id: str

    def teacher_token(self) -> str:
        return token_for(self.school.teacher, "teacher")


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="package")
def gateway(database_url: str) -> Iterator[Gateway]:
    gateway_port, registration_port, attendance_port = free_port(), free_port(), free_port()
    url = f"http://127.0.0.1:{gateway_port}"
    with running_emulator(webhook_url=f"{url}/api/zoom/webhooks") as emulator:
        attendance_metrics_port = free_port()
        env = service_env(
            database_url,
            **emulator.zoom_env(),
            ROLLCALL_ATTENDANCE_METRICS_PORT=str(attendance_metrics_port),
            ROLLCALL_REGISTRATION_PORT=str(registration_port),
            ROLLCALL_ATTENDANCE_PORT=str(attendance_port),
            ROLLCALL_GATEWAY_PORT=str(gateway_port),
            ROLLCALL_REGISTRATION_TARGET=f"127.0.0.1:{registration_port}",
            ROLLCALL_ATTENDANCE_TARGET=f"127.0.0.1:{attendance_port}",
            ROLLCALL_ATTENDANCE_SYNC_DELAYS_SECONDS="0.3,0.6,1.0",
            ROLLCALL_GATEWAY_MAX_BODY_BYTES=str(MAX_BODY_BYTES),
            ROLLCALL_GATEWAY_TRUSTED_PROXY_HEADER=TRUSTED_PROXY_HEADER,
        )
        processes = (
            start_python_module("registration-gw", "registration_service", env),
            start_python_module("attendance-gw", "attendance_service", env),
            start_python_module("gateway-gw", "gateway", env),
        )
        try:
            for port, process in zip((registration_port, attendance_port), processes, strict=False):
                target = f"127.0.0.1:{port}"
                eventually_sync(functools.partial(is_serving, target), within=30, what=f"{process.name} serving")
            eventually_sync(functools.partial(_ready, url), within=30, what="gateway ready")
            yield Gateway(
                url,
                f"127.0.0.1:{attendance_port}",
                f"127.0.0.1:{registration_port}",
                f"http://127.0.0.1:{attendance_metrics_port}",
                emulator,
                processes,
            )
        finally:
            for process in reversed(processes):
                process.stop()


def _register_at_zoom(emulator: EmulatorProcess, meeting_id: int, email: str, name: str) -> str:
    first, _, last = name.partition(" ")
    response = httpx.post(
        f"{emulator.api_base}/meetings/{meeting_id}/registrants",
        json={"email": email, "first_name": first, "last_name": last},
        headers={"authorization": f"Bearer {emulator.token()}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["registrant_id"])


@pytest.fixture(scope="package")
def past_meeting(database_url: str, gateway: Gateway) -> PastMeeting:
    """Simulated at the emulator (whose webhooks reach the gateway), then synced through the gateway."""
    school = seed_school(database_url, ("Ana Cruz", "Ben Santos"))
    meeting_id = seed_meeting(database_url, school, start=START)
    admin = gateway.emulator.admin()
    meeting = {"host_id": school.host_zoom_id, "topic": "Math", "type": 2, "duration": 60}
    # Zoom takes registrants only before a meeting is over: register with a future start first.
    future = {**meeting, "start_time": (START + timedelta(days=30)).isoformat()}
    admin.put(f"/_emulator/meetings/{meeting_id}", json=future).raise_for_status()
    ana = school.student("Ana Cruz")
    registrant = _register_at_zoom(gateway.emulator, meeting_id, ana.email, ana.name)
    seed_registrants(database_url, meeting_id, {ana.id: registrant})
    admin.put(f"/_emulator/meetings/{meeting_id}", json={**meeting, "start_time": START.isoformat()}).raise_for_status()
    script = [
        {"at_seconds": 0, "action": "start"},
        {"at_seconds": 60, "action": "join", "registrant_id": registrant, "as": "ana"},
        {"at_seconds": 3000, "action": "leave", "as": "ana"},
        {"at_seconds": 120, "action": "join", "name": "Visitor", "guest": True, "as": "visitor"},
        {"at_seconds": 600, "action": "leave", "as": "visitor"},
        {"at_seconds": 3600, "action": "end"},
    ]
    simulated = admin.post(
        f"/_emulator/meetings/{meeting_id}/simulate", json={"start_time": START.isoformat(), "script": script}
    )
    simulated.raise_for_status()
    past = PastMeeting(school, meeting_id, registrant)
    with gateway.client(past.teacher_token()) as http:
        synced = http.post(f"/v1/meetings/{meeting_id}/attendance:sync", json={"request_id": f"sync-{meeting_id}"})
    assert synced.status_code == 200, synced.text
    return past
