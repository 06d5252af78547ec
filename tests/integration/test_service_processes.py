"""Each service is its own process: health per service, reflection, UNIMPLEMENTED, clean stops."""

from __future__ import annotations

import signal
import time
import uuid
from typing import Any

import grpc
import httpx
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from rollcall.attendance.v1 import attendance_service_pb2, attendance_service_pb2_grpc
from rollcall.registration.v1 import registration_service_pb2, registration_service_pb2_grpc

from tests.conftest import ServiceStack, service_env
from tests.support.grpc_health import health_status, is_serving
from tests.support.polling import eventually_sync
from tests.support.processes import free_port, start_python_module
from tests.support.tokens import bearer


def _listed_services(target: str) -> set[str]:
    with grpc.insecure_channel(target) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5)
        return {service.name for reply in replies for service in reply.list_services_response.service}


def test_registration_process_serves_registration_and_audit_with_health_per_service(services: ServiceStack) -> None:
    assert {"rollcall.registration.v1.RegistrationService", "rollcall.audit.v1.AuditService"} <= _listed_services(
        services.registration_target
    )
    for name in ("", "rollcall.registration.v1.RegistrationService", "rollcall.audit.v1.AuditService"):
        assert health_status(services.registration_target, name) == "SERVING"


def test_attendance_process_serves_attendance(services: ServiceStack) -> None:
    assert "rollcall.attendance.v1.AttendanceService" in _listed_services(services.attendance_target)
    assert health_status(services.attendance_target, "rollcall.attendance.v1.AttendanceService") == "SERVING"


def test_health_of_an_unknown_service_is_not_found(services: ServiceStack) -> None:
    assert health_status(services.attendance_target, "rollcall.nothing.v1.Nothing") == "error:NOT_FOUND"


def test_a_method_the_server_does_not_have_answers_unimplemented(services: ServiceStack) -> None:
    with grpc.insecure_channel(services.attendance_target) as channel:
        call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
            "/rollcall.attendance.v1.AttendanceService/NoSuchMethod"
        )
        with pytest.raises(grpc.RpcError) as raised:
            call(b"", metadata=bearer(uuid.uuid4(), "admin"), timeout=5)
    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_every_call_gets_a_request_id_back(services: ServiceStack) -> None:
    with grpc.insecure_channel(services.registration_target) as channel:
        stub = registration_service_pb2_grpc.RegistrationServiceStub(channel)
        _, call = stub.ListClasses.with_call(
            registration_service_pb2.ListClassesRequest(),
            metadata=(("x-request-id", "req-123"), *bearer(uuid.uuid4(), "admin")),
            timeout=5,
        )
        with pytest.raises(grpc.RpcError) as refused:
            stub.ListClasses(
                registration_service_pb2.ListClassesRequest(page_size=-1),
                metadata=(("x-request-id", "req-456"), *bearer(uuid.uuid4(), "admin")),
                timeout=5,
            )
    assert _trailer(call.trailing_metadata(), "x-request-id") == "req-123"
    assert _trailer(refused.value.trailing_metadata(), "x-request-id") == "req-456"


def _trailer(metadata: Any, name: str) -> str:
    """One trailing metadata value; grpc hands back tuples on success and _Metadatum on errors."""
    for item in metadata or ():
        key, value = (item.key, item.value) if hasattr(item, "key") else item
        if key == name:
            return value.decode() if isinstance(value, bytes) else str(value)
    raise AssertionError(f"no {name} trailer")


def test_sigterm_stops_a_service_within_its_grace_period(database_url: str) -> None:
    port = free_port()
    process = start_python_module(
        "attendance-sigterm", "attendance_service", service_env(database_url, ROLLCALL_ATTENDANCE_PORT=str(port))
    )
    try:
        eventually_sync(lambda: is_serving(f"127.0.0.1:{port}"), within=30, what="attendance serving")
        started = time.monotonic()
        process.process.send_signal(signal.SIGTERM)
        assert process.process.wait(timeout=10) == 0
        assert time.monotonic() - started < 6
        assert "server.stopping" in process.log()
    finally:
        process.stop()


def test_a_bad_setting_stops_start_up_with_one_line_naming_it(database_url: str) -> None:
    process = start_python_module(
        "registration-badconfig", "registration_service", service_env(database_url, ROLLCALL_REGISTRATION_PORT="x")
    )
    assert process.process.wait(timeout=30) == 2
    lines = process.log().strip().splitlines()
    assert len(lines) == 1
    assert "ROLLCALL_REGISTRATION_PORT" in lines[0]
    assert "Traceback" not in process.log()


def test_a_database_without_the_schema_is_refused_at_start(database_url: str) -> None:
    unmigrated = (
        database_url.rsplit("/", 1)[0]
        + "/postgres"
        + ("?" + database_url.split("?", 1)[1] if "?" in database_url else "")
    )
    process = start_python_module(
        "attendance-noschema", "attendance_service", service_env(unmigrated, ROLLCALL_ATTENDANCE_PORT=str(free_port()))
    )
    assert process.process.wait(timeout=30) == 2
    assert "rollcall migrate" in process.log()


def _metric(port: str, name: str, **labels: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_rpcs_by_method_and_code(services: ServiceStack) -> None:
    port = services.env["ROLLCALL_ATTENDANCE_METRICS_PORT"]
    method = "/rollcall.attendance.v1.AttendanceService/GetMeetingAttendance"
    before = _metric(port, "rollcall_rpc_requests_total", method=method, code="UNAUTHENTICATED")
    with grpc.insecure_channel(services.attendance_target) as channel:
        stub = attendance_service_pb2_grpc.AttendanceServiceStub(channel)
        for _ in range(3):
            with pytest.raises(grpc.RpcError):
                stub.GetMeetingAttendance(attendance_service_pb2.GetMeetingAttendanceRequest(meeting_id=1), timeout=5)
    assert _metric(port, "rollcall_rpc_requests_total", method=method, code="UNAUTHENTICATED") == before + 3
