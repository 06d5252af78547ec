"""Through the real service: every participants read the policy allows leaves exactly one audit
row, committed before the answer, whether the read appended it itself (the facts it was last
allowed on still hold) or a second statement did (they changed); a refused read leaves none."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import grpc
import pytest
from rollcall.attendance.v1 import attendance_service_pb2 as pb
from rollcall.attendance.v1 import attendance_service_pb2_grpc as rpc

from attendance_service.read_models import ReadAudit
from attendance_service.repository.participants import CallerStatements
from attendance_service.service import meeting_facts
from common.db.engine import app_url
from common.db.statement_pipeline import StatementPipeline
from common.security.principal import Principal
from tests.integration.attendance.conftest import School, owner_connection, seed_meeting, seed_school

START = datetime(2026, 11, 20, 0, 30, tzinfo=UTC)


def _reads_audited(database_url: str, actor: uuid.UUID, meeting_id: int) -> int:
    with owner_connection(database_url) as owner:
        row = owner.execute(
            "SELECT count(*) FROM audit_events WHERE actor_id = %s AND action = 'attendance.read_participants' "
            "AND target_type = 'meeting' AND target_id = %s AND outcome = 'success'",
            (actor, str(meeting_id)),
        ).fetchone()
    assert row is not None
    count = row[0]
    assert isinstance(count, int)
    return count


async def _read(
    stub: rpc.AttendanceServiceAsyncStub, school: School, meeting_id: int
) -> pb.GetMeetingParticipantsResponse:
    return await stub.GetMeetingParticipants(
        pb.GetMeetingParticipantsRequest(meeting_id=meeting_id), metadata=school.teacher_md(), timeout=5
    )


async def test_each_read_of_a_teacher_is_audited_once(stub: rpc.AttendanceServiceAsyncStub, database_url: str) -> None:
    school = seed_school(database_url, ["Ana Cruz", "Ben Santos"])
    meeting_id = seed_meeting(database_url, school, start=START)
    for expected in range(1, 6):
        reply = await _read(stub, school, meeting_id)
        assert len(reply.expected_attendees) == 2
        assert _reads_audited(database_url, school.teacher, meeting_id) == expected


async def test_a_read_after_the_host_changed_is_audited_once(
    stub: rpc.AttendanceServiceAsyncStub, database_url: str
) -> None:
    school = seed_school(database_url, ["Ana Cruz"])
    meeting_id = seed_meeting(database_url, school, start=START)
    await _read(stub, school, meeting_id)
    await _read(stub, school, meeting_id)
    with owner_connection(database_url) as owner:
        owner.execute("UPDATE zoom_meetings SET host_id = 'someone-else' WHERE id = %s", (meeting_id,))
    reply = await _read(stub, school, meeting_id)  # still the class's teacher: allowed on the new facts
    assert reply.meeting.meeting_id == meeting_id
    assert _reads_audited(database_url, school.teacher, meeting_id) == 3
    await _read(stub, school, meeting_id)
    assert _reads_audited(database_url, school.teacher, meeting_id) == 4


async def test_a_teacher_moved_off_the_class_is_refused_and_not_audited(
    stub: rpc.AttendanceServiceAsyncStub, database_url: str
) -> None:
    school = seed_school(database_url, ["Ana Cruz"])
    successor = seed_school(database_url, [])
    meeting_id = seed_meeting(database_url, school, start=START)
    await _read(stub, school, meeting_id)
    await _read(stub, school, meeting_id)
    with owner_connection(database_url) as owner:
        owner.execute("UPDATE classes SET teacher_id = %s WHERE id = %s", (successor.teacher, school.class_id))
        owner.execute("UPDATE zoom_meetings SET host_id = %s WHERE id = %s", (successor.host_zoom_id, meeting_id))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _read(stub, school, meeting_id)
    assert refused.value.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND)
    assert _reads_audited(database_url, school.teacher, meeting_id) == 2


async def test_the_read_appends_its_audit_row_only_while_the_facts_are_those_given(database_url: str) -> None:
    school = seed_school(database_url, ["Ana Cruz"])
    meeting_id = seed_meeting(database_url, school, start=START)
    teacher = Principal(school.teacher, "teacher")
    async with StatementPipeline(app_url(database_url), size=1, application_name="test") as pipeline:
        store = CallerStatements(pipeline, teacher)
        found = await store.meeting_roster(meeting_id, None)
        assert found is not None
        facts = meeting_facts(found[0])
        stale = replace(facts, meeting_host_id="someone-else")
        for given, appended in ((facts, True), (stale, False), (None, False), (facts, True)):
            audit = ReadAudit("attendance.read_participants", "meeting", str(meeting_id), given) if given else None
            again = await store.meeting_roster(meeting_id, found[1], audit)
            assert again is not None
            assert again[2] is appended
    assert _reads_audited(database_url, school.teacher, meeting_id) == 2
