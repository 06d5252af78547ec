"""The live roster: the emulator's joins and leaves reach every watcher within a second, through
signed webhooks, IngestZoomEvent and PostgreSQL LISTEN/NOTIFY; a replayed webhook changes nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from rollcall.attendance.v1 import attendance_service_pb2 as pb
from rollcall.attendance.v1 import attendance_service_pb2_grpc as rpc

from tests.integration.attendance.conftest import (
    EmulatorAdmin,
    School,
    Service,
    WebhookRelay,
    gateway_md,
    seed_meeting,
    seed_registrants,
    seed_school,
    zoom_event,
)
from tests.support.polling import eventually
from tests.support.tokens import bearer

C = pb.RosterChangeType
WITHIN = 1.0  # seconds from the emulator's call to every watcher's message


async def _next(stream: AsyncIterator[pb.WatchMeetingParticipantsResponse]) -> pb.WatchMeetingParticipantsResponse:
    return await asyncio.wait_for(anext(stream), timeout=WITHIN)


async def _all_see(
    streams: list[AsyncIterator[pb.WatchMeetingParticipantsResponse]], change: pb.RosterChangeType.ValueType
) -> list[pb.WatchMeetingParticipantsResponse]:
    started = time.monotonic()
    messages = await asyncio.gather(*(_next(s) for s in streams))
    assert time.monotonic() - started < WITHIN
    assert [m.change_type for m in messages] == [change] * len(streams)
    return messages


@pytest.fixture
def live_meeting(database_url: str, zoom: EmulatorAdmin, relay: WebhookRelay) -> tuple[School, int, str]:
    school = seed_school(database_url, ("Ana Cruz", "Ben Santos"))
    start = datetime.now(UTC).replace(microsecond=0)
    meeting_id = seed_meeting(database_url, school, start=start)
    zoom.put_meeting(meeting_id, school.host_zoom_id, start + timedelta(minutes=5))
    registrant = zoom.register(meeting_id, school.student("Ana Cruz"))
    seed_registrants(database_url, meeting_id, {school.student("Ana Cruz").id: registrant})
    return school, meeting_id, registrant


async def test_every_watcher_follows_joins_and_leaves_within_a_second(
    attendance: Service, zoom: EmulatorAdmin, live_meeting: tuple[School, int, str]
) -> None:
    school, meeting_id, registrant = live_meeting
    ana = school.student("Ana Cruz")
    async with grpc.aio.insecure_channel(attendance.target) as channel:
        stub = rpc.AttendanceServiceStub(channel)
        callers = [school.teacher_md(), school.teacher_md(), bearer(school.admin, "admin")]
        calls = [
            stub.WatchMeetingParticipants(pb.WatchMeetingParticipantsRequest(meeting_id=meeting_id), metadata=md)
            for md in callers
        ]
        streams = [call.__aiter__() for call in calls]
        snapshots = [await asyncio.wait_for(anext(s), timeout=10) for s in streams]
        assert [s.change_type for s in snapshots] == [C.ROSTER_CHANGE_TYPE_SNAPSHOT] * 3
        assert snapshots[0].statistics.expected_count == 2

        zoom.call("POST", f"/_emulator/meetings/{meeting_id}/start")
        await _all_see(streams, C.ROSTER_CHANGE_TYPE_MEETING_STARTED)

        user_id = zoom.call(
            "POST", f"/_emulator/meetings/{meeting_id}/participants/join", {"registrant_id": registrant}
        )["user_id"]
        joined = await _all_see(streams, C.ROSTER_CHANGE_TYPE_JOINED)
        assert joined[0].participant.student_id == str(ana.id)
        assert joined[0].participant.in_meeting
        assert joined[0].statistics.joined_count == 1

        sheet = await stub.GetMeetingAttendance(
            pb.GetMeetingAttendanceRequest(meeting_id=meeting_id), metadata=school.teacher_md(), timeout=5
        )
        assert sheet.provisional
        assert [p.student_id for p in sheet.live_participants] == [str(ana.id)]

        zoom.call("POST", f"/_emulator/meetings/{meeting_id}/participants/join", {"name": "Visitor", "guest": True})
        guest = await _all_see(streams, C.ROSTER_CHANGE_TYPE_JOINED)
        assert guest[0].participant.match_method == pb.MATCH_METHOD_UNMATCHED
        assert guest[0].statistics.total_participants == 2

        zoom.call("POST", f"/_emulator/meetings/{meeting_id}/participants/leave", {"user_id": user_id})
        left = await _all_see(streams, C.ROSTER_CHANGE_TYPE_LEFT)
        assert left[0].participant.student_id == str(ana.id)
        assert not left[0].participant.in_meeting

        zoom.call("POST", f"/_emulator/meetings/{meeting_id}/end")
        # The guest's leave (sent by the meeting's end) may race the end itself; the end closes the stream.
        for stream in streams:
            while (await asyncio.wait_for(anext(stream), timeout=5)).change_type != C.ROSTER_CHANGE_TYPE_MEETING_ENDED:
                pass
            with pytest.raises(StopAsyncIteration):
                await asyncio.wait_for(anext(stream), timeout=5)


async def test_a_webhook_replayed_twice_changes_nothing(
    stub: rpc.AttendanceServiceAsyncStub,
    zoom: EmulatorAdmin,
    relay: WebhookRelay,
    live_meeting: tuple[School, int, str],
) -> None:
    school, meeting_id, registrant = live_meeting
    first = zoom.webhook_count()
    zoom.call("POST", f"/_emulator/meetings/{meeting_id}/start")
    zoom.call("POST", f"/_emulator/meetings/{meeting_id}/participants/join", {"registrant_id": registrant})
    zoom.call("POST", f"/_emulator/meetings/{meeting_id}/participants/join", {"name": "Visitor", "guest": True})
    zoom.call("POST", f"/_emulator/meetings/{meeting_id}/end")
    count = zoom.webhook_count()

    async def delivered() -> bool:
        return len(relay.received) >= count and not any(
            not e["delivered"] for e in zoom.call("GET", "/_emulator/state")["webhooks"][first:]
        )

    await eventually(delivered, within=5, what="the webhooks delivered")

    attendance = pb.GetMeetingAttendanceRequest(meeting_id=meeting_id)
    final = pb.GetMeetingAttendanceResponse()

    async def records_are_final() -> bool:
        # meeting.ended schedules the report sync, which replaces the live segments with Zoom's report.
        nonlocal final
        final = await stub.GetMeetingAttendance(attendance, metadata=school.teacher_md(), timeout=5)
        return len(final.records) == 2 and not final.provisional

    await eventually(records_are_final, within=10, what="the automatic sync after meeting.ended")
    request = pb.GetMeetingParticipantsRequest(meeting_id=meeting_id)
    before = await stub.GetMeetingParticipants(request, metadata=school.teacher_md(), timeout=5)
    duplicates = relay.duplicates()
    for index in range(first, count):
        for _ in range(2):
            zoom.call("POST", "/_emulator/webhooks/replay", {"index": index})

    async def all_refused() -> bool:
        return relay.duplicates() == duplicates + 2 * (count - first)

    await eventually(all_refused, within=5, what="every replay answered as a duplicate")
    after = await stub.GetMeetingParticipants(request, metadata=school.teacher_md(), timeout=5)
    assert after.participants == before.participants
    assert after.statistics == before.statistics
    assert after.meeting == before.meeting
    assert await stub.GetMeetingAttendance(attendance, metadata=school.teacher_md(), timeout=5) == final


async def test_a_forwarded_event_needs_the_gateways_scope(
    stub: rpc.AttendanceServiceAsyncStub, live_meeting: tuple[School, int, str]
) -> None:
    school, meeting_id, _ = live_meeting
    body = zoom_event("meeting.started", meeting_id, "u-1", 1)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.IngestZoomEvent(
            pb.IngestZoomEventRequest(body=body, request_timestamp=1), metadata=school.teacher_md(), timeout=5
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as malformed:
        await stub.IngestZoomEvent(
            pb.IngestZoomEventRequest(body=b"{not json", request_timestamp=1), metadata=gateway_md(), timeout=5
        )
    assert malformed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
