"""Zoom's error codes become one exception each; only 5xx, transport errors and per-second 429s
are retried, and only within the caller's deadline."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from common.zoom import (
    ZoomAccessDenied,
    ZoomCapacityReached,
    ZoomClient,
    ZoomConfigurationError,
    ZoomError,
    ZoomHostCannotRegister,
    ZoomMeetingOver,
    ZoomNotFound,
    ZoomNotHost,
    ZoomNotScheduledMeeting,
    ZoomProtocolError,
    ZoomRegistrantInput,
    ZoomRegistrationDisabled,
    ZoomUnavailable,
    ZoomValidationError,
)
from tests.unit.zoom.conftest import FakeClock, FakeZoom, json_response, make_config, meeting_body

MANILA = timezone(timedelta(hours=8))
CLASS_START = datetime(2026, 11, 25, 9, 0, tzinfo=MANILA)  # 01:00 UTC
STUDENT = ZoomRegistrantInput(email="juan.delacruz@school.example", first_name="Juan", last_name="Dela Cruz")


@pytest.mark.parametrize(
    ("status", "code", "message", "expected"),
    [
        (404, 3001, "Meeting 1 is not found or has expired.", ZoomNotFound),
        (400, 3001, "Meeting does not exist: 1.", ZoomNotFound),
        (400, 12702, "Can not access meeting information more than 1 year ago.", ZoomNotFound),
        (404, 404, "Registration has not been enabled for this meeting: 1.", ZoomRegistrationDisabled),
        (400, 3043, "Meeting has reached maximum attendee capacity.", ZoomCapacityReached),
        (404, 3043, "Meeting has reached maximum attendee capacity.", ZoomCapacityReached),
        (400, 3038, "Meeting is over, you can not register now.", ZoomMeetingOver),
        (400, 303, "This API can only be used for scheduled meeting(meeting type: 2).", ZoomNotScheduledMeeting),
        (400, 300, "Validation Failed.", ZoomValidationError),
        (400, 3003, "You are not the meeting host.", ZoomNotHost),
        (400, 3000, "Cannot access meeting info.", ZoomAccessDenied),
        (400, 3027, "Host cannot register.", ZoomHostCannotRegister),
        (403, 4711, "Invalid access token, does not contain scopes.", ZoomConfigurationError),
        (400, 9999, "Something new.", ZoomError),
    ],
)
async def test_error_code_maps_to_its_exception_and_is_never_retried(
    zoom: FakeZoom, client: ZoomClient, status: int, code: int, message: str, expected: type[ZoomError]
) -> None:
    zoom.api = lambda request: json_response(status, {"code": code, "message": message})

    with pytest.raises(expected) as caught:
        await client.add_registrant(1, STUDENT)

    assert type(caught.value) is expected
    assert (caught.value.http_status, caught.value.code, caught.value.message) == (status, code, message)
    assert len(zoom.api_requests) == 1


async def test_validation_error_carries_zoom_field_errors(zoom: FakeZoom, client: ZoomClient) -> None:
    zoom.api = lambda request: json_response(
        400,
        {"code": 300, "message": "Validation Failed.", "errors": [{"field": "email", "message": "Invalid field."}]},
    )

    with pytest.raises(ZoomValidationError) as caught:
        await client.add_registrant(1, STUDENT)

    assert [(e.field, e.message) for e in caught.value.field_errors] == [("email", "Invalid field.")]


async def test_error_body_that_is_not_json_still_maps_by_status(zoom: FakeZoom, client: ZoomClient) -> None:
    zoom.api = lambda request: httpx.Response(404, text="<html>not found</html>")

    with pytest.raises(ZoomError) as caught:
        await client.get_meeting(1)

    assert caught.value.code is None
    assert caught.value.http_status == 404


async def test_server_errors_are_retried_until_zoom_answers(zoom: FakeZoom, client: ZoomClient) -> None:
    answers = iter([json_response(500, {"code": 500, "message": "oops"}), json_response(503, None)])
    zoom.api = lambda request: next(answers, None) or json_response(200, meeting_body())

    meeting = await client.get_meeting(1)

    assert meeting.id == 85746065432
    assert len(zoom.api_requests) == 3


async def test_server_errors_escape_only_at_the_deadline(zoom: FakeZoom, clock: FakeClock, client: ZoomClient) -> None:
    zoom.api = lambda request: json_response(502, None)
    started = clock.now

    with pytest.raises(ZoomUnavailable) as caught:
        await client.get_meeting(1, timeout_seconds=5)

    assert caught.value.http_status == 502
    assert len(zoom.api_requests) > 3
    assert clock.now - started <= 5
    # Full-jitter backoff keeps at most ~2 s (the cap) between the last attempt and the deadline.
    assert clock.now - started > 5 - 2.5


async def test_transport_errors_are_retried(zoom: FakeZoom, client: ZoomClient) -> None:
    failures = [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("reset")]

    def api(request: httpx.Request) -> httpx.Response:
        if failures:
            raise failures.pop(0)
        return json_response(200, meeting_body())

    zoom.api = api

    assert (await client.get_meeting(1)).id == 85746065432
    assert len(zoom.api_requests) == 4


async def test_lost_answer_to_create_meeting_is_not_retried(zoom: FakeZoom, client: ZoomClient) -> None:
    def api(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("connection reset after the request was sent")

    zoom.api = api

    with pytest.raises(ZoomUnavailable) as caught:
        await client.create_meeting("host@school.example", topic="Math", start_time=CLASS_START, duration_minutes=45)

    assert caught.value.may_have_been_applied
    assert len(zoom.api_requests) == 1  # a retry could create a second meeting


async def test_create_meeting_is_retried_when_the_request_surely_was_not_sent(
    zoom: FakeZoom, client: ZoomClient
) -> None:
    failures = [httpx.ConnectError("refused")]

    def api(request: httpx.Request) -> httpx.Response:
        if failures:
            raise failures.pop(0)
        return json_response(201, meeting_body())

    zoom.api = api

    meeting = await client.create_meeting(
        "KDcuGIm1QgePTO8WbOqwIQ", topic="Math", start_time=CLASS_START, duration_minutes=45
    )

    assert meeting.takes_registrants
    assert zoom.body() == {
        "topic": "Math",
        "type": 2,
        "start_time": "2026-11-25T01:00:00Z",
        "duration": 45,
        "timezone": "UTC",
        "settings": {"approval_type": 0, "registration_type": 1},
    }


async def test_success_body_that_is_not_json_is_a_protocol_error(zoom: FakeZoom, client: ZoomClient) -> None:
    zoom.api = lambda request: httpx.Response(200, text="<html>")

    with pytest.raises(ZoomProtocolError):
        await client.get_meeting(1)


async def test_errors_never_repeat_an_email_zoom_put_in_its_message(zoom: FakeZoom, client: ZoomClient) -> None:
    zoom.api = lambda request: json_response(
        400, {"code": 3003, "message": "Registrant juan.delacruz@school.example see https://zoom.us/w/1?tk=abc"}
    )

    with pytest.raises(ZoomNotHost) as caught:
        await client.add_registrant(1, STUDENT)

    assert "juan" not in str(caught.value)
    assert "tk=" not in str(caught.value)


async def test_bad_settings_stop_at_construction() -> None:
    with pytest.raises(ZoomConfigurationError):
        make_config(reserved_share=1.0)
    with pytest.raises(ZoomConfigurationError):
        make_config(client_secret="")
    assert "SECRET" not in repr(make_config())
