"""Server streams through the gateway: the live roster as Server-Sent Events, fed by the emulator's
webhooks arriving at the gateway; CSV exports as streamed downloads."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.integration.attendance.conftest import seed_meeting, seed_school
from tests.integration.gateway.conftest import Gateway, PastMeeting
from tests.support.polling import eventually
from tests.support.tokens import token_for

WITHIN = 5.0


async def _events(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    """(event name, parsed data) for each Server-Sent Event; keepalive comments are skipped."""
    name, data = "message", ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = line.removeprefix("data: ")
        elif line == "" and data:
            yield name, json.loads(data)
            name, data = "message", ""


async def test_the_live_roster_streams_as_server_sent_events(database_url: str, gateway: Gateway) -> None:
    school = seed_school(database_url, ("Ana Cruz",))
    start = datetime.now(UTC).replace(microsecond=0)
    meeting_id = seed_meeting(database_url, school, start=start)
    zoom = gateway.emulator.admin()
    meeting = {"host_id": school.host_zoom_id, "topic": "Math", "type": 2, "duration": 60}
    zoom.put(f"/_emulator/meetings/{meeting_id}", json={**meeting, "start_time": start.isoformat()}).raise_for_status()
    headers = {"authorization": f"Bearer {token_for(school.teacher, 'teacher')}"}
    async with (
        httpx.AsyncClient(base_url=gateway.url, headers=headers, timeout=10) as http,
        http.stream("GET", f"/v1/meetings/{meeting_id}/participants:watch") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _events(response)
        name, snapshot = await asyncio.wait_for(anext(events), WITHIN)
        assert (name, snapshot["change_type"]) == ("message", "ROSTER_CHANGE_TYPE_SNAPSHOT")
        assert snapshot["statistics"]["expected_count"] == 1

        zoom.post(f"/_emulator/meetings/{meeting_id}/start").raise_for_status()
        _, started = await asyncio.wait_for(anext(events), WITHIN)
        assert started["change_type"] == "ROSTER_CHANGE_TYPE_MEETING_STARTED"

        joined_at = zoom.post(
            f"/_emulator/meetings/{meeting_id}/participants/join", json={"name": "Visitor", "guest": True}
        )
        joined_at.raise_for_status()
        _, joined = await asyncio.wait_for(anext(events), WITHIN)
        assert joined["change_type"] == "ROSTER_CHANGE_TYPE_JOINED"
        assert joined["participant"]["display_name"] == "Visitor"
        assert joined["participant"]["segments"][0]["join_time"].endswith("Z")

        zoom.post(f"/_emulator/meetings/{meeting_id}/end").raise_for_status()
        names = []
        async for name, event in events:
            names.append(name)
            if name == "end":
                break
            assert event["change_type"] in ("ROSTER_CHANGE_TYPE_LEFT", "ROSTER_CHANGE_TYPE_MEETING_ENDED")
        assert names[-1] == "end"


async def test_a_refused_stream_gets_its_http_status_not_an_event(gateway: Gateway, past_meeting: PastMeeting) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as http:
        response = await http.get(f"/v1/meetings/{past_meeting.meeting_id}/participants:watch")
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHENTICATED"


def _watch_calls_finished(gateway: Gateway) -> float:
    text = httpx.get(f"{gateway.attendance_metrics_url}/metrics", timeout=5).text
    method = "/rollcall.attendance.v1.AttendanceService/WatchMeetingParticipants"
    prefix = f'rollcall_rpc_latency_seconds_count{{method="{method}"}}'
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))


async def test_a_client_going_away_cancels_the_grpc_stream(database_url: str, gateway: Gateway) -> None:
    school = seed_school(database_url, ("Ana Cruz",))
    meeting_id = seed_meeting(database_url, school, start=datetime.now(UTC) + timedelta(hours=1))
    before = _watch_calls_finished(gateway)
    headers = {"authorization": f"Bearer {token_for(school.teacher, 'teacher')}"}
    async with (
        httpx.AsyncClient(base_url=gateway.url, headers=headers, timeout=10) as http,
        http.stream("GET", f"/v1/meetings/{meeting_id}/participants:watch") as response,
    ):
        _, snapshot = await asyncio.wait_for(anext(_events(response)), WITHIN)
        assert snapshot["change_type"] == "ROSTER_CHANGE_TYPE_SNAPSHOT"

    async def service_saw_the_end() -> bool:
        return _watch_calls_finished(gateway) > before

    await eventually(service_saw_the_end, within=WITHIN, what="the attendance service's stream to end")


def test_attendance_csv_streams_as_a_text_csv_download(gateway: Gateway, past_meeting: PastMeeting) -> None:
    path = f"/v1/classes/{past_meeting.school.class_id}/attendance:exportCsv"
    with gateway.client(past_meeting.teacher_token()) as http:
        response = http.get(path, params={"start_date": "2026-11-24", "end_date": "2026-11-24"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="attendance.csv"'
    lines = response.text.splitlines()
    assert len(lines) == 3  # the header and the two students
    assert any("Ana Cruz" in line for line in lines)


def test_audit_csv_comes_from_the_registration_process(gateway: Gateway, past_meeting: PastMeeting) -> None:
    with gateway.client(token_for(past_meeting.school.admin, "admin")) as http:
        response = http.get("/v1/audit-events:exportCsv", params={"filter.action": "attendance.read_participants"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="audit-events.csv"'
