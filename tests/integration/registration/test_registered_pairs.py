"""A worker asks the database which of the students it claimed are registered already: only
those, whatever else the meeting holds (a meeting of thousands would otherwise be read whole for
every 30 items, which made a 2,000-student job quadratic)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import psycopg

from common.db import create_engine, create_session_factory, libpq_url
from common.db.engine import app_url
from registration_service.repository import Database
from tests.support.school import add_meeting, seed_class


def test_a_claimed_group_learns_which_of_its_own_students_are_registered(database_url: str) -> None:
    school = seed_class(database_url, 4)
    meeting = add_meeting(database_url, school, None, start=datetime.now(UTC) + timedelta(days=2))
    first, second, third, fourth = school.students
    with psycopg.connect(libpq_url(database_url), autocommit=True) as owner:
        for student, status in ((first, "approved"), (second, "cancelled"), (third, "pending")):
            owner.execute(
                "INSERT INTO meeting_registrants (meeting_id, student_id, zoom_registrant_id, status) "
                "VALUES (%s, %s, %s, %s)",
                (meeting.meeting_id, student, f"r-{student.hex[:8]}", status),
            )

    async def ask() -> tuple[set[object], set[object]]:
        engine = create_engine(app_url(database_url), pool_size=1)
        try:
            async with Database(create_session_factory(engine)).as_system() as repo:
                claimed = await repo.active_pairs([meeting.meeting_id], [first, second, fourth])
                whole = await repo.active_pairs([meeting.meeting_id], school.students)
            return set(claimed), set(whole)
        finally:
            await engine.dispose()

    claimed, whole = asyncio.run(ask())
    assert claimed == {(meeting.meeting_id, first)}  # the cancelled one may be registered again
    assert whole == {(meeting.meeting_id, first), (meeting.meeting_id, third)}
