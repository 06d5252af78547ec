"""The whole stack for browser journeys, as `rollcall run` starts it but on free ports and a fresh
database: the Zoom emulator (its signed webhooks go to the gateway), both services, the gateway,
and the demo school loaded into the database and the emulator."""

from __future__ import annotations

import functools
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
import psycopg

from common.db import libpq_url
from common.demo_school import DemoClass, DemoMeeting, DemoSchool, DemoUser, build_demo_school
from tests.conftest import service_env
from tests.support.database import PROJECT_ROOT
from tests.support.emulator import EmulatorProcess, running_emulator
from tests.support.grpc_health import is_serving
from tests.support.polling import eventually_sync
from tests.support.processes import ChildProcess, free_port, start_python_module
from tests.support.tokens import token_for

__all__ = ["Stack", "running_stack"]

_MANILA = ZoneInfo("Asia/Manila")


@dataclass(frozen=True)
class Stack:
    """Where the gateway listens, the emulator behind it, and the demo school it serves."""

    url: str
    database_url: str
    emulator: EmulatorProcess
    school: DemoSchool
    processes: tuple[ChildProcess, ...]

    def school_class(self, section: str) -> DemoClass:
        return next(c for c in self.school.classes if c.section == section)

    def meetings_of(self, school_class: DemoClass, status: str) -> list[DemoMeeting]:
        return [m for m in self.school.meetings if m.class_id == school_class.id and m.status == status]

    def token(self, user: DemoUser) -> str:
        return token_for(user.id, user.role)

    def api(self, user: DemoUser) -> httpx.Client:
        """The gateway's JSON API as `user`, for arranging what a journey starts from."""
        return httpx.Client(base_url=self.url, headers={"authorization": f"Bearer {self.token(user)}"}, timeout=15)

    def zoom(self) -> httpx.Client:
        """The emulator's admin API: start meetings, make people join and leave."""
        return self.emulator.admin()

    def add_meeting(self, school_class: DemoClass, start: datetime, *, duration_minutes: int = 60) -> int:
        """A scheduled meeting of the class, in the database (as the schema owner) and at the
        emulator with the same id, as the demo loader puts them; nobody is registered."""
        meeting_id = random.randrange(10**10, 10**11)
        host = f"demo-host-{school_class.section.lower()}"
        with psycopg.connect(libpq_url(self.database_url), autocommit=True) as owner:
            owner.execute(
                "INSERT INTO zoom_meetings (id, class_id, host_id, topic, meeting_type, start_time, duration_minutes, "
                "timezone, approval_type) VALUES (%s, %s, %s, %s, 2, %s, %s, 'Asia/Manila', 0)",
                (meeting_id, school_class.id, host, f"{school_class.name}: e2e class", start, duration_minutes),
            )
        body = {
            "host_id": host,
            "topic": f"{school_class.name}: e2e class",
            "type": 2,
            "start_time": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration": duration_minutes,
            "timezone": "Asia/Manila",
            "approval_type": 0,
        }
        self.zoom().put(f"/_emulator/meetings/{meeting_id}", json=body).raise_for_status()
        return meeting_id


def _serving(process: ChildProcess, target: str) -> bool:
    """Serving yet; a process that exited (a bad setting) fails at once, with its log."""
    if process.process.poll() is not None:
        raise RuntimeError(f"{process.name} exited:\n{process.log()[-2000:]}")
    return is_serving(target)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _load_demo(database_url: str, emulator_root: str) -> None:
    """`rollcall demo load`, as a developer runs it (its own process: the fixture runs inside
    pytest-asyncio's event loop)."""
    subprocess.run(
        [sys.executable, "-m", "rollcall_cli", "demo", "load", "--emulator-url", emulator_root],
        env={**os.environ, "DATABASE_URL": database_url},
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
        timeout=60,
    )


@contextmanager
def running_stack(database_url: str) -> Iterator[Stack]:
    gateway_port, registration_port, attendance_port = free_port(), free_port(), free_port()
    url = f"http://127.0.0.1:{gateway_port}"
    with running_emulator(webhook_url=f"{url}/api/zoom/webhooks") as emulator:
        _load_demo(database_url, emulator.root)
        env = service_env(
            database_url,
            **emulator.zoom_env(),
            ROLLCALL_REGISTRATION_PORT=str(registration_port),
            ROLLCALL_ATTENDANCE_PORT=str(attendance_port),
            ROLLCALL_GATEWAY_PORT=str(gateway_port),
            ROLLCALL_REGISTRATION_TARGET=f"127.0.0.1:{registration_port}",
            ROLLCALL_ATTENDANCE_TARGET=f"127.0.0.1:{attendance_port}",
            ROLLCALL_PUBLIC_URL=url,
            # After `meeting.ended` the final report is pulled within a second, not minutes.
            ROLLCALL_ATTENDANCE_SYNC_DELAYS_SECONDS="0.3,0.6,1.0",
            # A new QR check-in code every 5 s (the least allowed), so a journey sees the page rotate it.
            ROLLCALL_QR_ROTATION_SECONDS="5",
            # A Zoom outage is answered within seconds (the journey that shows it waits for it).
            ZOOM_DEADLINE_SECONDS="5",
        )
        processes = (
            start_python_module("registration-e2e", "registration_service", env),
            start_python_module("attendance-e2e", "attendance_service", env),
            start_python_module("gateway-e2e", "gateway", env),
        )
        try:
            for port, process in zip((registration_port, attendance_port), processes, strict=False):
                check = functools.partial(_serving, process, f"127.0.0.1:{port}")
                eventually_sync(check, within=30, what=f"{process.name} serving")
            eventually_sync(functools.partial(_ready, url), within=30, what="gateway ready")
            school = build_demo_school(datetime.now(_MANILA).date())
            yield Stack(url, database_url, emulator, school, processes)
        finally:
            for process in reversed(processes):
                process.stop()
