"""HTTP request to protobuf message: path variables, query parameters and JSON bodies, and the 400s."""

from __future__ import annotations

import pytest
from rollcall.attendance.v1 import attendance_service_pb2 as attendance_pb
from rollcall.audit.v1 import audit_service_pb2 as audit_pb

from gateway.errors import ApiError
from gateway.routes import ApiRoute, build_route_table
from gateway.transcode import build_request, message_to_dict

TABLE = build_route_table()


def _route(name: str) -> ApiRoute:
    return next(route for route in TABLE.routes if route.method.name == name)


def _violations(error: ApiError) -> list[str]:
    return [v["field"] for d in error.details for v in d.get("field_violations", [])]


def test_path_variables_fill_int64_fields() -> None:
    request = build_request(_route("GetMeetingParticipants"), {"meeting_id": "81234567890"}, [], b"")
    assert request == attendance_pb.GetMeetingParticipantsRequest(meeting_id=81234567890)


def test_query_parameters_fill_repeated_enums_by_name_or_number_and_ints() -> None:
    query = [("statuses", "ATTENDANCE_STATUS_LATE"), ("statuses", "4"), ("page_size", "50"), ("class_id", "c")]
    request = build_request(_route("ListAttendanceRecords"), {}, query, b"")
    assert isinstance(request, attendance_pb.ListAttendanceRecordsRequest)
    assert list(request.statuses) == [attendance_pb.ATTENDANCE_STATUS_LATE, attendance_pb.ATTENDANCE_STATUS_ABSENT]
    assert request.page_size == 50
    assert request.class_id == "c"


def test_dotted_query_parameters_reach_nested_fields_and_timestamps() -> None:
    query = [("filter.start_time", "2026-11-24T00:00:00Z"), ("filter.outcome", "AUDIT_OUTCOME_FAILURE")]
    request = build_request(_route("ListAuditEvents"), {}, query, b"")
    assert isinstance(request, audit_pb.ListAuditEventsRequest)
    assert request.filter.start_time.seconds == 1795478400
    assert request.filter.outcome == audit_pb.AUDIT_OUTCOME_FAILURE


def test_a_body_star_route_merges_path_variables_over_the_body() -> None:
    body = b'{"request_id": "r1", "meeting_id": "1"}'
    request = build_request(_route("SyncMeetingAttendance"), {"meeting_id": "81234567890"}, [], body)
    assert request == attendance_pb.SyncMeetingAttendanceRequest(request_id="r1", meeting_id=81234567890)


def test_an_empty_body_is_an_empty_message() -> None:
    request = build_request(_route("SyncMeetingAttendance"), {"meeting_id": "7"}, [], b"")
    assert request == attendance_pb.SyncMeetingAttendanceRequest(meeting_id=7)


@pytest.mark.parametrize(
    ("name", "path", "query", "body", "field"),
    [
        ("GetMeetingParticipants", {"meeting_id": "abc"}, [], b"", "meeting_id"),
        ("GetMeetingParticipants", {"meeting_id": "99999999999999999999"}, [], b"", "meeting_id"),
        ("ListAttendanceRecords", {}, [("colour", "red")], b"", "colour"),
        ("ListAttendanceRecords", {}, [("page_size", "1"), ("page_size", "2")], b"", "page_size"),
        ("ListAttendanceRecords", {}, [("statuses", "NOT_A_STATUS")], b"", "statuses"),
        ("GetMeetingParticipants", {"meeting_id": "1"}, [("meeting_id", "2")], b"", "meeting_id"),
        ("SyncMeetingAttendance", {"meeting_id": "1"}, [], b"{not json", "body"),
        ("SyncMeetingAttendance", {"meeting_id": "1"}, [], b"[1]", "body"),
        ("SyncMeetingAttendance", {"meeting_id": "1"}, [], b'{"colour": 1}', "colour"),
        ("SyncMeetingAttendance", {"meeting_id": "1"}, [], b'{"request_id": 5}', "request_id"),
        ("SyncMeetingAttendance", {"meeting_id": "1"}, [], b"\xff\xfe", "body"),
        ("SyncMeetingAttendance", {"meeting_id": "1"}, [], b"[" * 5000, "body"),
        ("SyncMeetingAttendance", {"meeting_id": "1"}, [("request_id", "x")], b"{}", "request_id"),
        ("GetMeetingAttendance", {"meeting_id": "1"}, [], b'{"a": 1}', "body"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    name: str, path: dict[str, str], query: list[tuple[str, str]], body: bytes, field: str
) -> None:
    with pytest.raises(ApiError) as raised:
        build_request(_route(name), path, query, body)
    assert raised.value.status == 400
    assert raised.value.code == "INVALID_ARGUMENT"
    assert field in _violations(raised.value)


def test_bool_query_values_must_be_true_or_false() -> None:
    from gateway.transcode import _scalar

    field = attendance_pb.GetMeetingParticipantsResponse.DESCRIPTOR.fields_by_name["live"]
    assert _scalar(field, "live", "true") is True
    assert _scalar(field, "live", "0") is False
    with pytest.raises(ApiError):
        _scalar(field, "live", "yes")


def test_responses_keep_snake_case_names_and_zero_values() -> None:
    reply = attendance_pb.GetMeetingParticipantsResponse(
        participants=[
            attendance_pb.Participant(display_name="Ana", segments=[attendance_pb.Segment(registrant_id="r")])
        ]
    )
    reply.participants[0].segments[0].join_time.FromSeconds(1795478400)
    body = message_to_dict(reply)
    assert body["participants"][0]["segments"][0] == {
        "join_time": "2026-11-24T00:00:00Z",
        "zoom_user_id": "",
        "registrant_id": "r",
        "display_name": "",
    }
    assert body["live"] is False
    assert body["expected_attendees"] == []
