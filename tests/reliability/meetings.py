"""Meetings for the attendance side of the reliability suites: one held last week (synced once,
so its participants and records never change after) and one in progress (participants join and
leave through the emulator, which sends Zoom's signed webhooks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
from rollcall.attendance.v1 import attendance_service_pb2 as pb
from rollcall.attendance.v1 import attendance_service_pb2_grpc as rpc

from tests.integration.attendance.conftest import School, seed_meeting, seed_school
from tests.support.emulator import EmulatorProcess
from tests.support.polling import eventually
from tests.support.tokens import bearer

__all__ = ["held_meeting", "live_meeting", "sync_once"]

NAMES = ("Ana Cruz", "Ben Santos", "Carla Reyes", "Dan Lopez")


def _put_meeting(emulator: EmulatorProcess, school: School, meeting_id: int, start: datetime) -> None:
    body = {"host_id": school.host_zoom_id, "topic": "Math", "type": 2, "start_time": start.isoformat(), "duration": 60}
    emulator.admin().put(f"/_emulator/meetings/{meeting_id}", json=body).raise_for_status()


def held_meeting(database_url: str, emulator: EmulatorProcess) -> tuple[School, int]:
    """A meeting of a new class held a week ago: two students, a guest; two students absent."""
    school = seed_school(database_url, NAMES)
    start = (datetime.now(UTC) - timedelta(days=7)).replace(microsecond=0)
    meeting_id = seed_meeting(database_url, school, start=start)
    _put_meeting(emulator, school, meeting_id, start)
    script = [
        {"at_seconds": 0, "action": "start"},
        {"at_seconds": 0, "action": "join", "email": school.students[0].email, "name": NAMES[0], "as": "a"},
        {"at_seconds": 600, "action": "join", "email": school.students[1].email, "name": NAMES[1], "as": "b"},
        {"at_seconds": 1800, "action": "leave", "as": "b"},
        {"at_seconds": 60, "action": "join", "name": "Visitor", "guest": True, "as": "v"},
        {"at_seconds": 3600, "action": "end"},
    ]
    emulator.admin().post(
        f"/_emulator/meetings/{meeting_id}/simulate", json={"start_time": start.isoformat(), "script": script}
    ).raise_for_status()
    return school, meeting_id


def live_meeting(database_url: str, emulator: EmulatorProcess, size: int) -> tuple[School, int]:
    """A meeting of a new class of `size` students, started at the emulator a moment ago."""
    school = seed_school(database_url, [f"Student{n} Santos" for n in range(size)])
    start = datetime.now(UTC).replace(microsecond=0)
    meeting_id = seed_meeting(database_url, school, start=start)
    _put_meeting(emulator, school, meeting_id, start)
    emulator.admin().post(f"/_emulator/meetings/{meeting_id}/start", json={}).raise_for_status()
    return school, meeting_id


async def sync_once(stub: rpc.AttendanceServiceAsyncStub, school: School, meeting_id: int) -> None:
    """Syncs the meeting's attendance from Zoom's report, as its teacher, once the report is there."""

    async def synced() -> bool:
        try:
            reply = await stub.SyncMeetingAttendance(
                pb.SyncMeetingAttendanceRequest(meeting_id=meeting_id),
                metadata=bearer(school.teacher, "teacher"),
                timeout=15,
            )
        except grpc.aio.AioRpcError:
            return False  # Zoom's report may lag the meeting's end, as it does at Zoom
        return reply.report_row_count > 0

    await eventually(synced, within=30, what="the held meeting synced")
