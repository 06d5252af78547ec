"""Typed operations: paths and encodings, pagination, parsing, and logs without personal data."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import httpx
import pytest

from common.zoom import (
    RegistrantRef,
    ZoomClient,
    ZoomProtocolError,
    ZoomRegistrantInput,
    ZoomValidationError,
)
from common.zoom._http import encode_meeting_id
from tests.unit.zoom.conftest import FakeZoom, json_response, meeting_body

STUDENT = ZoomRegistrantInput(email="maria.santos@school.example", first_name="Maria", last_name="Santos")


@pytest.mark.parametrize(
    ("meeting_id", "segment"),
    [
        (85746065432, "85746065432"),
        ("85746065432", "85746065432"),
        ("aDYlohsHRtCd4ii1uC2+hA==", "aDYlohsHRtCd4ii1uC2%2BhA%3D%3D"),
        ("ab/cd==", "ab%2Fcd%3D%3D"),
        ("/ajXp112QmuoKj4854875==", "%252FajXp112QmuoKj4854875%253D%253D"),
        ("ab//cd==", "ab%252F%252Fcd%253D%253D"),
    ],
)
def test_meeting_uuids_starting_with_slash_or_holding_double_slash_are_encoded_twice(
    meeting_id: int | str, segment: str
) -> None:
    assert encode_meeting_id(meeting_id) == segment


@pytest.mark.parametrize("meeting_id", ["", 0, -5, True])
def test_meaningless_meeting_ids_are_refused(meeting_id: int | str) -> None:
    with pytest.raises(ZoomValidationError):
        encode_meeting_id(meeting_id)


async def test_double_encoded_uuid_reaches_zoom_unaltered(zoom: FakeZoom, client: ZoomClient) -> None:
    zoom.api = lambda request: json_response(200, {"participants": []})

    _ = [p async for p in client.past_meeting_participants("/ajXp112QmuoKj4854875==")]

    assert zoom.api_requests[0].url.raw_path.startswith(
        b"/v2/past_meetings/%252FajXp112QmuoKj4854875%253D%253D/participants?"
    )


async def test_meeting_is_parsed_and_unknown_fields_ignored(client: ZoomClient) -> None:
    meeting = await client.get_meeting(85746065432)

    assert meeting.id == 85746065432
    assert meeting.start_time == datetime(2026, 11, 25, 1, tzinfo=UTC)
    assert (meeting.approval_type, meeting.registration_type, meeting.duration_minutes) == (0, 1, 60)
    assert "pwd" not in repr(meeting)


@pytest.mark.parametrize("missing", ["id", "uuid", "topic", "type", "host_id"])
async def test_meeting_missing_a_required_field_is_a_protocol_error(
    zoom: FakeZoom, client: ZoomClient, missing: str
) -> None:
    body = meeting_body()
    del body[missing]
    zoom.api = lambda request: json_response(200, body)

    with pytest.raises(ZoomProtocolError, match=missing):
        await client.get_meeting(1)


async def test_mistyped_field_is_a_protocol_error(zoom: FakeZoom, client: ZoomClient) -> None:
    zoom.api = lambda request: json_response(200, meeting_body(type="scheduled"))

    with pytest.raises(ZoomProtocolError, match="type"):
        await client.get_meeting(1)


async def test_add_registrant_sends_zoom_fields_and_reads_join_url(zoom: FakeZoom, client: ZoomClient) -> None:
    zoom.api = lambda request: json_response(
        201,
        {
            "id": 85746065432,
            "registrant_id": "fdgsfh2ey82fuh",
            "join_url": "https://zoom.us/w/85746065432?tk=abc",
            "topic": "Grade 7 Science",
            "start_time": "2026-11-25T01:00:00Z",
            "participant_pin_code": 380303,
        },
    )

    registrant = await client.add_registrant(85746065432, STUDENT, occurrence_ids=["1648194360000"])

    request = zoom.api_requests[0]
    assert request.url.path == "/v2/meetings/85746065432/registrants"
    assert request.url.params["occurrence_ids"] == "1648194360000"
    assert zoom.body() == {"email": "maria.santos@school.example", "first_name": "Maria", "last_name": "Santos"}
    assert registrant.registrant_id == "fdgsfh2ey82fuh"
    assert registrant.join_url == "https://zoom.us/w/85746065432?tk=abc"
    assert "tk=" not in repr(registrant)


async def test_manual_approval_registrant_has_no_join_url(zoom: FakeZoom, client: ZoomClient) -> None:
    zoom.api = lambda request: json_response(201, {"id": 1, "registrant_id": "r"})

    assert (await client.add_registrant(1, STUDENT)).join_url is None


async def test_add_registrant_answer_without_registrant_id_is_a_protocol_error(
    zoom: FakeZoom, client: ZoomClient
) -> None:
    zoom.api = lambda request: json_response(201, {"id": 1, "join_url": "https://zoom.us/w/1"})

    with pytest.raises(ZoomProtocolError, match="registrant_id"):
        await client.add_registrant(1, STUDENT)


def test_registrant_fields_over_zoom_limits_are_refused_locally() -> None:
    with pytest.raises(ZoomValidationError):
        ZoomRegistrantInput(email="a@b.example", first_name="x" * 65)
    with pytest.raises(ZoomValidationError):
        ZoomRegistrantInput(email="a" * 120 + "@b.example", first_name="A")
    with pytest.raises(ZoomValidationError):
        RegistrantRef()


async def test_list_registrants_follows_every_page(zoom: FakeZoom, client: ZoomClient) -> None:
    def api(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("next_page_token") or 0)
        rows = [{"id": f"r{page}-{i}", "email": f"s{page}-{i}@school.example", "status": "approved"} for i in range(3)]
        return json_response(200, {"registrants": rows, "next_page_token": str(page + 1) if page < 2 else ""})

    zoom.api = api

    records = [r async for r in client.list_registrants(1)]

    assert len(records) == 9
    assert {r.url.params["page_size"] for r in zoom.api_requests} == {"300"}
    assert [r.url.params.get("next_page_token") for r in zoom.api_requests] == [None, "1", "2"]
    assert zoom.api_requests[0].url.params["status"] == "approved"


async def test_repeated_page_token_is_a_protocol_error_not_an_endless_loop(zoom: FakeZoom, client: ZoomClient) -> None:
    zoom.api = lambda request: json_response(200, {"registrants": [], "next_page_token": "same"})

    with pytest.raises(ZoomProtocolError):
        _ = [r async for r in client.list_registrants(1)]


async def test_participants_report_asks_for_registrant_ids_and_parses_rows(zoom: FakeZoom, client: ZoomClient) -> None:
    row = {
        "id": "",
        "user_id": "16778240",
        "participant_user_id": "",
        "name": "Maria Santos",
        "user_email": "",
        "join_time": "2026-11-25T01:02:03Z",
        "leave_time": "2026-11-25T01:40:00Z",
        "duration": 2277,
        "registrant_id": "fdgsfh2ey82fuh",
        "status": "in_meeting",
        "failover": False,
        "customer_key": "S-0042",
        "bo_mtg_id": "",
        "new_field": 1,
    }
    zoom.api = lambda request: json_response(200, {"page_size": 300, "participants": [row], "next_page_token": ""})

    (participant,) = [p async for p in client.participants_report("aDYlohsHRtCd4ii1uC2+hA==")]

    params = zoom.api_requests[0].url.params
    assert (params["page_size"], params["include_fields"]) == ("300", "registrant_id")
    assert participant.duration_seconds == 2277
    assert participant.leave_time == datetime(2026, 11, 25, 1, 40, tzinfo=UTC)
    assert (participant.id, participant.user_email, participant.participant_user_id) == ("", None, None)
    assert participant.registrant_id == "fdgsfh2ey82fuh"
    assert "Maria" not in repr(participant)


async def test_participant_without_join_time_is_a_protocol_error(zoom: FakeZoom, client: ZoomClient) -> None:
    zoom.api = lambda request: json_response(200, {"participants": [{"user_id": "1", "name": "x"}]})

    with pytest.raises(ZoomProtocolError, match="join_time"):
        _ = [p async for p in client.past_meeting_participants(1)]


async def test_meeting_instances(zoom: FakeZoom, client: ZoomClient) -> None:
    zoom.api = lambda request: json_response(
        200, {"meetings": [{"uuid": "/a//b==", "start_time": "2026-11-20T01:00:00Z"}]}
    )

    (instance,) = await client.meeting_instances(85746065432)

    assert instance.uuid == "/a//b=="
    assert zoom.api_requests[0].url.path == "/v2/past_meetings/85746065432/instances"


async def test_status_update_and_delete(zoom: FakeZoom, client: ZoomClient) -> None:
    zoom.api = lambda request: json_response(204)

    await client.update_registrant_status(
        1, "cancel", [RegistrantRef(registrant_id="r1"), RegistrantRef(email="e@x.example")]
    )
    await client.delete_registrant(1, "r1")

    put, delete = zoom.api_requests
    assert (put.method, put.url.path) == ("PUT", "/v2/meetings/1/registrants/status")
    assert zoom.body(0) == {"action": "cancel", "registrants": [{"id": "r1"}, {"email": "e@x.example"}]}
    assert (delete.method, delete.url.path) == ("DELETE", "/v2/meetings/1/registrants/r1")


async def test_batch_registrants(zoom: FakeZoom, client: ZoomClient) -> None:
    zoom.api = lambda request: json_response(
        201,
        {"registrants": [{"email": STUDENT.email, "registrant_id": "r1", "join_url": "https://zoom.us/w/1?tk=a"}]},
    )

    (created,) = await client.batch_registrants(1, [STUDENT])

    assert created.registrant_id == "r1"
    assert zoom.body() == {
        "auto_approve": True,
        "registrants_confirmation_email": False,
        "registrants": [{"email": STUDENT.email, "first_name": "Maria", "last_name": "Santos"}],
    }


async def test_logs_name_ids_and_numbers_never_people_tokens_or_links(
    zoom: FakeZoom, client: ZoomClient, caplog: pytest.LogCaptureFixture
) -> None:
    answers = [json_response(503, None)]
    join_url = "https://zoom.us/w/85746065432?tk=SECRET_TK"
    zoom.api = lambda request: (
        answers.pop()
        if answers
        else json_response(201, {"id": 85746065432, "registrant_id": "r1", "join_url": join_url})
    )
    caplog.set_level(logging.DEBUG, logger="rollcall.zoom")

    await client.add_registrant(85746065432, STUDENT)

    requests = [r for r in caplog.records if r.getMessage() == "zoom.request"]
    assert [(r.status, r.attempt) for r in requests] == [(503, 1), (201, 2)]  # type: ignore[attr-defined]
    first = requests[0]
    assert first.path == "/meetings/{id}/registrants"  # type: ignore[attr-defined]
    assert first.meeting_id == 85746065432  # type: ignore[attr-defined]
    assert first.category == "Light"  # type: ignore[attr-defined]
    assert isinstance(first.latency_ms, int)  # type: ignore[attr-defined]
    everything = " ".join(str(vars(r)) for r in caplog.records)
    for secret in ("maria", "Maria", "Santos", "token-1", "SECRET", "tk="):
        assert secret not in everything
