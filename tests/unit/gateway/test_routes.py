"""The route table comes from the protos' google.api.http annotations, all of them, and nothing else."""

from __future__ import annotations

from types import ModuleType

import pytest
from google.api import annotations_pb2

from gateway.routes import SERVED_PROTOS, Match, ResponseKind, RouteTable, build_route_table
from gateway.routes import _compile as compile_template


def _annotated(modules: tuple[tuple[ModuleType, str], ...]) -> set[str]:
    names = set()
    for module, _ in modules:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                if method.GetOptions().HasExtension(annotations_pb2.http):
                    names.add(method.full_name)
    return names


def _match(table: RouteTable, method: str, path: str) -> Match:
    found = table.match(method, path)
    assert isinstance(found, Match), found
    return found


def test_every_annotated_rpc_has_a_route() -> None:
    table = build_route_table()
    assert {route.method.full_name for route in table.routes} == _annotated(SERVED_PROTOS)
    assert len(table.routes) >= 20


def test_rpcs_without_an_annotation_get_no_route() -> None:
    names = {route.method.name for route in build_route_table().routes}
    assert "IngestZoomEvent" not in names
    assert "StreamAttendanceRecords" not in names


def test_the_seeds_paths_are_routed_exactly() -> None:
    table = build_route_table()
    register = _match(table, "POST", "/api/zoom/meetings/register-student")
    participants = _match(table, "GET", "/api/zoom/meetings/81234567890/participants")
    attendance = _match(table, "GET", "/api/zoom/meetings/81234567890/attendance")
    assert register.route.grpc_path == "/rollcall.registration.v1.RegistrationService/RegisterStudent"
    assert register.route.body == "*"
    assert participants.route.grpc_path == "/rollcall.attendance.v1.AttendanceService/GetMeetingParticipants"
    assert participants.path_values == {"meeting_id": "81234567890"}
    assert attendance.route.backend == "attendance"


def test_a_custom_verb_never_matches_the_plain_path() -> None:
    table = build_route_table()
    watch = _match(table, "GET", "/v1/registration-jobs/job-1:watch")
    get = _match(table, "GET", "/v1/registration-jobs/job-1")
    assert watch.route.method.name == "WatchRegistrationJob"
    assert watch.path_values == {"job_id": "job-1"}
    assert get.route.method.name == "GetRegistrationJob"


def test_path_values_are_percent_decoded_after_matching() -> None:
    found = _match(build_route_table(), "GET", "/v1/registration-jobs/a%2Fb%3Ac")
    assert found.path_values == {"job_id": "a/b:c"}
    assert found.route.method.name == "GetRegistrationJob"


def test_a_known_path_with_another_method_lists_the_allowed_ones() -> None:
    assert build_route_table().match("DELETE", "/v1/classes/c1/meetings") == ["GET", "POST"]
    assert build_route_table().match("GET", "/v1/unknown") is None


def test_streams_are_event_streams_and_http_bodies_downloads() -> None:
    kinds = {route.method.name: route.kind for route in build_route_table().routes}
    assert kinds["WatchMeetingParticipants"] is ResponseKind.EVENT_STREAM
    assert kinds["WatchRegistrationJob"] is ResponseKind.EVENT_STREAM
    assert kinds["ExportAttendanceCsv"] is ResponseKind.DOWNLOAD
    assert kinds["ExportAuditEventsCsv"] is ResponseKind.DOWNLOAD
    assert kinds["GetMeetingAttendance"] is ResponseKind.JSON


def test_audit_service_calls_go_to_the_registration_process() -> None:
    backends = {route.method.containing_service.name: route.backend for route in build_route_table().routes}
    assert backends == {
        "RegistrationService": "registration",
        "AuditService": "registration",
        "AttendanceService": "attendance",
    }


@pytest.mark.parametrize(
    ("template", "path", "values"),
    [
        ("/v1/{name=shelves/*}/books", "/v1/shelves/s1/books", ("shelves/s1",)),
        ("/v1/files/{path=**}", "/v1/files/a/b/c", ("a/b/c",)),
        ("/v1/things/{a.b}:do", "/v1/things/x:do", ("x",)),
    ],
)
def test_templates_follow_http_proto(template: str, path: str, values: tuple[str, ...]) -> None:
    pattern, _ = compile_template(template)
    found = pattern.match(path)
    assert found is not None
    assert found.groups() == values


def test_a_template_without_a_leading_slash_is_refused() -> None:
    with pytest.raises(ValueError, match="must start with"):
        compile_template("v1/things")
