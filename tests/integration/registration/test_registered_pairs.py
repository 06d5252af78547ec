"""Job creation asks the database which of the students it enrolls are registered already: only
those, whatever else the meeting holds (a meeting of thousands read whole for every 30 items made a
2,000-student job quadratic when the workers asked so; they now learn it from the claim itself)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import psycopg

from common.db import libpq_url
from tests.support.held_jobs import worker_database
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
        async with worker_database(database_url) as db, db.as_system() as repo:
            claimed = await repo.active_pairs([meeting.meeting_id], [first, second, fourth])
            whole = await repo.active_pairs([meeting.meeting_id], school.students)
        return set(claimed), set(whole)

    claimed, whole = asyncio.run(ask())
    assert claimed == {(meeting.meeting_id, first)}  # the cancelled one may be registered again
    assert whole == {(meeting.meeting_id, first), (meeting.meeting_id, third)}
