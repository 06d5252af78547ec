"""The OpenAPI document comes from the same descriptors as the routes and is valid OpenAPI 3.1."""

from __future__ import annotations

import schemathesis

from gateway.docs import docs_page
from gateway.openapi import openapi_document
from gateway.proto_comments import proto_comments
from gateway.routes import build_route_table

TABLE = build_route_table()


def test_the_document_is_valid_openapi_with_or_without_proto_comments() -> None:
    for comments in ({}, proto_comments()):
        schemathesis.openapi.from_dict(openapi_document(TABLE, version="1", comments=comments)).validate()


def test_every_route_is_an_operation_with_its_path_parameters() -> None:
    document = openapi_document(TABLE, version="1")
    for route in TABLE.routes:
        operation = document["paths"][route.template][route.http_method.lower()]
        assert operation["operationId"] == route.operation_id
        path_names = [p["name"] for p in operation["parameters"] if p["in"] == "path"]
        assert path_names == list(route.path_fields)


def test_query_parameters_are_the_request_fields_not_in_the_path() -> None:
    document = openapi_document(TABLE, version="1")
    listing = document["paths"]["/v1/attendance-records"]["get"]["parameters"]
    assert [p["name"] for p in listing] == [
        "class_id",
        "student_id",
        "start_date",
        "end_date",
        "statuses",
        "page_size",
        "page_token",
    ]
    statuses = next(p for p in listing if p["name"] == "statuses")
    assert statuses["explode"] is True
    audit = document["paths"]["/v1/audit-events"]["get"]["parameters"]
    assert "filter.start_time" in [p["name"] for p in audit]


def test_body_star_bodies_leave_out_the_path_fields() -> None:
    document = openapi_document(TABLE, version="1")
    body = document["paths"]["/v1/meetings/{meeting_id}/attendance:sync"]["post"]["requestBody"]
    properties = body["content"]["application/json"]["schema"]["properties"]
    assert set(properties) == {"request_id", "meeting_uuid"}


def test_responses_name_their_message_and_streams_their_media_type() -> None:
    document = openapi_document(TABLE, version="1")
    participants = document["paths"]["/api/zoom/meetings/{meeting_id}/participants"]["get"]["responses"]["200"]
    assert participants["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/rollcall.attendance.v1.GetMeetingParticipantsResponse"
    }
    watch = document["paths"]["/v1/meetings/{meeting_id}/participants:watch"]["get"]["responses"]["200"]
    assert "text/event-stream" in watch["content"]
    segment = document["components"]["schemas"]["rollcall.attendance.v1.Segment"]["properties"]
    assert segment["join_time"]["format"] == "date-time"


def test_proto_comments_become_descriptions_and_formats() -> None:
    document = openapi_document(TABLE, version="1", comments=proto_comments())
    operation = document["paths"]["/api/zoom/meetings/{meeting_id}/participants"]["get"]
    assert "merged join segments" in operation["description"]
    register = document["components"]["schemas"]["rollcall.registration.v1.RegisterStudentRequest"]
    assert register["properties"]["class_id"]["format"] == "uuid"


def test_the_docs_page_has_a_form_per_operation_and_no_inline_script() -> None:
    page = docs_page(openapi_document(TABLE, version="1"))
    assert page.count("<form ") == len(TABLE.routes) + 1  # and the webhook
    assert "<script>" not in page
    assert " style=" not in page
