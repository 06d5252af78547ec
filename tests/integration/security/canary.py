"""A stack of real processes for the canary log test: the Zoom emulator, the attendance and
registration services (debug logs, Zoom pointed at the emulator) and a webhook relay playing the
gateway; and a school whose people carry canary emails, names and addresses."""

from __future__ import annotations

import functools
import random
import secrets
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
import psycopg

from common.db import libpq_url
from tests.conftest import service_env
from tests.integration.attendance.conftest import WEBHOOK_SECRET, WebhookRelay
from tests.support.emulator import EmulatorProcess, running_emulator
from tests.support.grpc_health import is_serving
from tests.support.polling import eventually_sync
from tests.support.processes import ChildProcess, free_port, start_python_module
from tests.support.tokens import TEST_JWT_KEY, token_for

__all__ = ["CanarySchool", "CanaryStack", "Person", "canary_stack", "emulator_registrants", "seed_canary_school"]


@dataclass(frozen=True)
class Person:
    id: uuid.UUID
    email: str
    name: str


@dataclass
class CanarySchool:
    """People whose emails, names and client addresses must never reach a log line."""

    tag: str
    admin: Person
    teacher: Person
    students: tuple[Person, ...]
    host_zoom_id: str
    class_id: uuid.UUID
    meeting_id: int
    ipv4: str
    ipv6: str
    tokens: dict[str, str] = field(default_factory=dict)  # who -> bearer token used for every call
    seen: list[str] = field(default_factory=list)  # values the services answered with: join URLs

    def md(self, who: str, role: str, *scopes: str, user: uuid.UUID | None = None) -> tuple[tuple[str, str]]:
        """Metadata with one token per caller, kept so the scan can look for it."""
        if who not in self.tokens:
            self.tokens[who] = token_for(user or uuid.uuid4(), role, *scopes)
        return (("authorization", f"Bearer {self.tokens[who]}"),)

    def canaries(self) -> set[str]:
        """Every string that must not appear in any log line (compared case-insensitively)."""
        values: set[str] = {TEST_JWT_KEY, self.ipv4, self.ipv6}
        for person in (self.admin, self.teacher, *self.students):
            values |= {person.email, quote(person.email), person.name, *person.name.split()}
        for token in self.tokens.values():
            values |= {token, *token.split(".")}  # a header, payload or signature alone is a leak too
        values |= set(self.seen)
        return {value for value in values if len(value) >= 8}


def seed_canary_school(database_url: str, emulator: EmulatorProcess) -> CanarySchool:
    """Admin, teacher (the Zoom host), three students, a class and a meeting two days ahead that
    exists both in the database and at the emulator."""
    tag = secrets.token_hex(4)

    def person(label: str, number: int = 0) -> Person:
        return Person(
            uuid.uuid4(), f"canary.{label}{number}.{tag}@r1.deped.gov.ph", f"Zorb{label}{tag}{number} Quill{tag}"
        )

    school = CanarySchool(
        tag=tag,
        admin=person("admin"),
        teacher=person("teacher"),
        students=tuple(person("student", i) for i in range(3)),
        host_zoom_id=f"host{tag}",
        class_id=uuid.uuid4(),
        meeting_id=random.randrange(10**10, 10**11),
        ipv4=f"198.51.100.{random.randrange(2, 250)}",
        ipv6=f"2001:db8:{tag[:4]}:{tag[4:]}::{random.randrange(1, 0xFFFF):x}",
    )
    start = datetime.now(UTC) + timedelta(days=2)
    body = {"host_id": school.host_zoom_id, "topic": "Math", "type": 2, "start_time": start.isoformat(), "duration": 60}
    emulator.admin().put(f"/_emulator/meetings/{school.meeting_id}", json=body).raise_for_status()
    with psycopg.connect(libpq_url(database_url), autocommit=True) as owner, owner.transaction():
        owner.execute(
            "INSERT INTO users (id, email, display_name, role) VALUES (%s, %s, %s, 'admin')",
            (school.admin.id, school.admin.email, school.admin.name),
        )
        owner.execute(
            "INSERT INTO users (id, email, display_name, role, zoom_user_id) VALUES (%s, %s, %s, 'teacher', %s)",
            (school.teacher.id, school.teacher.email, school.teacher.name, school.host_zoom_id),
        )
        owner.execute(
            "INSERT INTO classes (id, name, section, school_year, teacher_id) VALUES (%s, %s, 'A', '2026-2027', %s)",
            (school.class_id, f"Class {tag}", school.teacher.id),
        )
        for student in school.students:
            owner.execute(
                "INSERT INTO users (id, email, display_name, role) VALUES (%s, %s, %s, 'student')",
                (student.id, student.email, student.name),
            )
            owner.execute(
                "INSERT INTO enrollments (class_id, student_id) VALUES (%s, %s)", (school.class_id, student.id)
            )
        owner.execute(
            "INSERT INTO zoom_meetings (id, class_id, host_id, topic, meeting_type, start_time, duration_minutes, "
            "approval_type) VALUES (%s, %s, %s, 'Math', 2, %s, 60, 0)",
            (school.meeting_id, school.class_id, school.host_zoom_id, start),
        )
    return school


@dataclass
class CanaryStack:
    emulator: EmulatorProcess
    attendance: ChildProcess
    attendance_target: str
    registration: ChildProcess
    registration_target: str
    relay: WebhookRelay

    def stop(self) -> None:
        """SIGTERM to both services, so every line they would write is in their logs."""
        for process in (self.attendance, self.registration):
            process.stop()

    def logs(self) -> dict[str, list[str]]:
        return {p.name: p.log().splitlines() for p in (self.attendance, self.registration)}


def _serving(name: str, module: str, env: dict[str, str], port: int) -> tuple[ChildProcess, str]:
    process = start_python_module(name, module, env)
    target = f"127.0.0.1:{port}"
    try:
        eventually_sync(functools.partial(is_serving, target), within=30, what=f"{name} serving")
    except AssertionError:
        process.stop()
        raise AssertionError(f"{name} did not start:\n{process.log()}") from None
    return process, target


@contextmanager
def canary_stack(database_url: str) -> Iterator[CanaryStack]:
    with ExitStack() as stack:
        emulator = stack.enter_context(running_emulator("--plan", "pro", "--seed", "11"))
        attendance_port, registration_port = free_port(), free_port()
        env = service_env(
            database_url,
            ROLLCALL_LOG_LEVEL="DEBUG",
            ROLLCALL_ATTENDANCE_PORT=str(attendance_port),
            ROLLCALL_REGISTRATION_PORT=str(registration_port),
            ROLLCALL_ATTENDANCE_SYNC_DELAYS_SECONDS="0.3,0.6,1.0",
            ZOOM_PLAN="pro",
            **emulator.zoom_env(),
        )
        attendance, attendance_target = _serving("attendance-canary", "attendance_service", env, attendance_port)
        stack.callback(attendance.stop)
        registration, registration_target = _serving(
            "registration-canary", "registration_service", env, registration_port
        )
        stack.callback(registration.stop)
        relay = WebhookRelay(attendance_target)
        stack.callback(relay.close)
        config = {"webhook_url": relay.url, "webhook_secret": WEBHOOK_SECRET}
        emulator.admin().put("/_emulator/config", json=config).raise_for_status()
        yield CanaryStack(emulator, attendance, attendance_target, registration, registration_target, relay)


def emulator_registrants(emulator: EmulatorProcess, meeting_id: int) -> list[dict[str, object]]:
    response: httpx.Response = emulator.admin().get(f"/_emulator/meetings/{meeting_id}")
    response.raise_for_status()
    registrants: list[dict[str, object]] = response.json()["registrants"]
    return registrants
