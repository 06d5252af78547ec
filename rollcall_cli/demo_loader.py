"""Loads the demo school into the database and, when it is used, into the Zoom emulator.

Idempotent: rows are inserted only when absent, and the emulator's meetings are upserted with
the same ids, so a restarted emulator gets back the meetings the database refers to.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import httpx
from sqlalchemy import literal
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from common.db.models import Base, Enrollment, SchoolClass, User, ZoomMeeting
from common.demo_school import DemoMeeting, DemoSchool, DemoUser, build_demo_school

__all__ = ["LoadResult", "load_demo_school"]

_log = logging.getLogger("rollcall.demo")


@dataclass(frozen=True, slots=True)
class LoadResult:
    """How many rows this load added; all zero on a second load in the same week."""

    users: int
    classes: int
    enrollments: int
    meetings: int
    emulator_meetings: int


async def _insert_missing(engine: AsyncEngine, table: type[Base], rows: Sequence[Mapping[str, object]]) -> int:
    if not rows:
        return 0
    # RETURNING counts what was really inserted; rowcount is not reliable for multi-row inserts.
    statement = pg_insert(table).values(list(rows)).on_conflict_do_nothing().returning(literal(1))
    async with engine.begin() as connection:
        return len((await connection.execute(statement)).all())


async def _load_database(engine: AsyncEngine, school: DemoSchool) -> tuple[int, int, int, int]:
    hosts = {c.teacher.id: m.host_id for c in school.classes for m in school.meetings if m.class_id == c.id}
    users = [
        {"id": u.id, "email": u.email, "display_name": u.display_name, "role": u.role, "zoom_user_id": hosts.get(u.id)}
        for u in school.users
    ]
    classes = [
        {"id": c.id, "name": c.name, "section": c.section, "school_year": "2026-2027", "teacher_id": c.teacher.id}
        for c in school.classes
    ]
    enrollments = [{"class_id": c.id, "student_id": s.id} for c in school.classes for s in c.students]
    meetings = [
        {
            "id": m.id,
            "uuid": m.uuid,
            "class_id": m.class_id,
            "host_id": m.host_id,
            "topic": m.topic,
            "meeting_type": m.meeting_type,
            "start_time": m.start_time,
            "duration_minutes": m.duration_minutes,
            "timezone": "Asia/Manila",
            "approval_type": m.approval_type,
            "status": m.status,
            "join_url": f"https://zoom.example/j/{m.id}",
        }
        for m in school.meetings
    ]
    # Users first: everything else refers to them.
    return (
        await _insert_missing(engine, User, users),
        await _insert_missing(engine, SchoolClass, classes),
        await _insert_missing(engine, Enrollment, enrollments),
        await _insert_missing(engine, ZoomMeeting, meetings),
    )


def _attendance_script(meeting: DemoMeeting, students: tuple[DemoUser, ...]) -> list[dict[str, object]]:
    """Who came to a past demo meeting, drawn from the meeting id so every load draws the same:
    most on time, some late, a few leave early or rejoin, some absent, a guest and a dial-in."""
    draw = random.Random(meeting.id)
    minutes = meeting.duration_minutes
    script: list[dict[str, object]] = [{"at_seconds": 0, "action": "start"}]
    for index, student in enumerate(students):
        roll = draw.random()
        if roll < 0.12:
            continue  # absent
        joined = draw.uniform(0, 4) if roll < 0.75 else draw.uniform(11, 25)
        left = minutes - draw.uniform(0, 2) if draw.random() < 0.85 else max(joined + 5, draw.uniform(20, 40))
        label = f"s{index}"
        script.append(
            {
                "at_seconds": joined * 60,
                "action": "join",
                "email": student.email,
                "name": student.display_name,
                "as": label,
            }
        )
        if draw.random() < 0.15 and left - joined > 15:
            script.append({"at_seconds": (joined + 10) * 60, "action": "leave", "as": label})
            script.append(
                {
                    "at_seconds": (joined + 12) * 60,
                    "action": "join",
                    "email": student.email,
                    "name": student.display_name,
                    "as": f"{label}b",
                }
            )
            label = f"{label}b"
        script.append({"at_seconds": left * 60, "action": "leave", "as": label})
    script.append({"at_seconds": 300, "action": "join", "name": "Lola ni Andrea (guest)", "guest": True, "as": "guest"})
    script.append({"at_seconds": 360, "action": "join", "phone": True, "as": "phone"})
    script.append({"at_seconds": minutes * 60, "action": "end"})
    return script


async def _load_emulator(emulator_url: str, school: DemoSchool) -> int:
    students = {c.id: c.students for c in school.classes}
    async with httpx.AsyncClient(base_url=emulator_url, timeout=10.0) as client:
        for meeting in school.meetings:
            response = await client.put(
                f"/_emulator/meetings/{meeting.id}",
                json={
                    "uuid": meeting.uuid,
                    "host_id": meeting.host_id,
                    "topic": meeting.topic,
                    "type": meeting.meeting_type,
                    "start_time": meeting.start_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "duration": meeting.duration_minutes,
                    "timezone": "Asia/Manila",
                    "approval_type": meeting.approval_type,
                },
            )
            response.raise_for_status()
            if (
                meeting.status == "ended"
                and not (await client.get(f"/_emulator/meetings/{meeting.id}")).json()["instances"]
            ):
                simulated = await client.post(
                    f"/_emulator/meetings/{meeting.id}/simulate",
                    json={
                        "start_time": meeting.start_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "script": _attendance_script(meeting, students[meeting.class_id]),
                    },
                )
                simulated.raise_for_status()
    return len(school.meetings)


async def load_demo_school(engine: AsyncEngine, today: date, emulator_url: str | None) -> LoadResult:
    """Loads the school of `today`'s week; `emulator_url` is the emulator's root URL, if one runs."""
    school = build_demo_school(today)
    users, classes, enrollments, meetings = await _load_database(engine, school)
    emulator_meetings = await _load_emulator(emulator_url, school) if emulator_url else 0
    _log.info(
        "demo.loaded",
        extra={"users": users, "classes": classes, "enrollments": enrollments, "meetings": meetings},
    )
    return LoadResult(users, classes, enrollments, meetings, emulator_meetings)
