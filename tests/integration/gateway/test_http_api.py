"""The seed's HTTP paths and the gateway's error answers, through real processes over real sockets."""

from __future__ import annotations

import uuid

import httpx

from tests.integration.gateway.conftest import MAX_BODY_BYTES, Gateway, PastMeeting
from tests.support.tokens import token_for


def test_participants_path_answers_the_seeds_snake_case_json(gateway: Gateway, past_meeting: PastMeeting) -> None:
    with gateway.client(past_meeting.teacher_token()) as http:
        response = http.get(f"/api/zoom/meetings/{past_meeting.meeting_id}/participants")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["meeting"]["meeting_id"] == str(past_meeting.meeting_id)  # proto3 JSON: int64 as a string
    ana = next(p for p in body["participants"] if p["display_name"] == "Ana Cruz")
    segment = ana["segments"][0]
    assert segment["registrant_id"] == past_meeting.ana_registrant_id
    assert segment["join_time"].endswith("Z")
    assert segment["leave_time"].endswith("Z")
    assert ana["match_method"] == "MATCH_METHOD_REGISTRANT_ID"
    assert [p["display_name"] for p in body["unmatched_participants"]] == ["Visitor"]
    expected = {a["display_name"]: a["attended"] for a in body["expected_attendees"]}
    assert expected == {"Ana Cruz": True, "Ben Santos": False}  # zero values are sent, not left out
    assert body["statistics"]["attendance_rate_percent"] == 50.0
    assert body["live"] is False


def test_attendance_path_answers_counts_and_records(gateway: Gateway, past_meeting: PastMeeting) -> None:
    with gateway.client(past_meeting.teacher_token()) as http:
        response = http.get(f"/api/zoom/meetings/{past_meeting.meeting_id}/attendance")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["linked"] is True
    assert body["attendance_date"] == "2026-11-24"
    assert body["counts"]["present_count"] == 1
    assert body["counts"]["absent_count"] == 1
    statuses = {r["student_display_name"]: r["status"] for r in body["records"]}
    assert statuses == {"Ana Cruz": "ATTENDANCE_STATUS_PRESENT", "Ben Santos": "ATTENDANCE_STATUS_ABSENT"}


def test_a_call_without_a_token_is_401_json(gateway: Gateway, past_meeting: PastMeeting) -> None:
    with gateway.client() as http:
        response = http.get(f"/api/zoom/meetings/{past_meeting.meeting_id}/participants")
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHENTICATED"


def test_another_teachers_meeting_is_403_json(gateway: Gateway, past_meeting: PastMeeting) -> None:
    stranger = token_for(uuid.uuid4(), "teacher")
    with gateway.client(stranger) as http:
        response = http.get(f"/api/zoom/meetings/{past_meeting.meeting_id}/participants")
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "PERMISSION_DENIED"


def test_an_unknown_meeting_is_404_json(gateway: Gateway, past_meeting: PastMeeting) -> None:
    # Only an admin learns that a meeting does not exist; others get 403 either way.
    with gateway.client(token_for(past_meeting.school.admin, "admin")) as http:
        response = http.get("/api/zoom/meetings/99999999999/attendance")
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "NOT_FOUND"


def test_a_bad_meeting_id_is_400_with_the_services_field_violation(gateway: Gateway, past_meeting: PastMeeting) -> None:
    with gateway.client(past_meeting.teacher_token()) as http:
        response = http.get("/api/zoom/meetings/-5/participants")
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "INVALID_ARGUMENT"
    (detail,) = body["details"]
    assert detail["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert detail["field_violations"][0]["field"] == "meeting_id"


def test_a_meeting_id_that_is_no_number_is_400_from_the_gateway(gateway: Gateway) -> None:
    response = httpx.get(f"{gateway.url}/api/zoom/meetings/abc/participants", timeout=5)
    assert response.status_code == 400
    assert response.json()["details"][0]["field_violations"][0]["field"] == "meeting_id"


def test_malformed_json_unknown_fields_and_wrong_types_are_400(gateway: Gateway) -> None:
    path = f"/v1/classes/{uuid.uuid4()}/qr-codes"
    headers = {"content-type": "application/json"}
    with gateway.client(token_for(uuid.uuid4(), "teacher")) as http:
        malformed = http.post(path, content=b'{"meeting_id": ', headers=headers)
        unknown = http.post(path, json={"meeting_id": "1", "colour": "red"})
        wrong_type = http.post(path, json={"meeting_id": {"nested": True}})
        not_an_object = http.post(path, json=[1, 2])
    for response in (malformed, unknown, wrong_type, not_an_object):
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "INVALID_ARGUMENT"
        assert "Traceback" not in response.text
    assert "not valid JSON" in malformed.json()["message"]
    assert unknown.json()["details"][0]["field_violations"] == [{"field": "colour", "description": "unknown field"}]


def test_an_oversized_body_is_400_before_any_call(gateway: Gateway) -> None:
    body = b'{"code": "' + b"x" * MAX_BODY_BYTES + b'"}'
    response = httpx.post(
        f"{gateway.url}/v1/qr-check-ins", content=body, headers={"content-type": "application/json"}, timeout=5
    )
    assert response.status_code == 400
    assert f"exceeds {MAX_BODY_BYTES} bytes" in response.json()["message"]


def test_the_request_id_is_echoed_or_made(gateway: Gateway) -> None:
    given = httpx.get(f"{gateway.url}/v1/classes", headers={"x-request-id": "req-123"}, timeout=5)
    made = httpx.get(f"{gateway.url}/v1/classes", timeout=5)
    assert given.headers["x-request-id"] == "req-123"
    assert len(made.headers["x-request-id"]) == 32


def test_unknown_api_paths_are_json_404_and_never_the_web_page(gateway: Gateway) -> None:
    for path in ("/api/nothing", "/v1/nothing/here", "/api", "/v1"):
        response = httpx.get(f"{gateway.url}{path}", timeout=5)
        assert response.status_code == 404, path
        assert response.json()["code"] == "NOT_FOUND"
    wrong_method = httpx.delete(f"{gateway.url}/v1/classes", timeout=5)
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "GET"


def test_the_web_page_is_served_at_the_root(gateway: Gateway) -> None:
    response = httpx.get(f"{gateway.url}/", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


def test_every_response_carries_the_security_headers_and_no_cors(gateway: Gateway) -> None:
    for path in ("/", "/api/nothing", "/docs", "/healthz", "/api/zoom/meetings/1/participants"):
        response = httpx.get(f"{gateway.url}{path}", headers={"origin": "https://evil.example"}, timeout=5)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "img-src 'self' data:" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "access-control-allow-origin" not in response.headers


def test_ready_when_both_services_serve(gateway: Gateway) -> None:
    response = httpx.get(f"{gateway.url}/readyz", timeout=5)
    assert response.status_code == 200
    assert response.json()["services"] == {"registration": "serving", "attendance": "serving"}


def test_metrics_count_requests_by_route_template_and_status(gateway: Gateway) -> None:
    httpx.get(f"{gateway.url}/api/zoom/meetings/123/attendance", timeout=5)
    text = httpx.get(f"{gateway.url}/metrics", timeout=5).text
    assert (
        'rollcall_gateway_requests_total{method="GET",route="/api/zoom/meetings/{meeting_id}/attendance",'
        'status="401"}' in text
    )
