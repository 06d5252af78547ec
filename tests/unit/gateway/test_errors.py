"""gRPC status to HTTP: the canonical table, google.rpc details as JSON, Retry-After from RetryInfo."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

from gateway.errors import HTTP_STATUS, error_body, from_rpc_error


def _rpc_error(code: grpc.StatusCode, message: str, *details: object) -> grpc.aio.AioRpcError:
    status = status_pb2.Status(code=code.value[0], message=message)
    for detail in details:
        packed = any_pb2.Any()
        packed.Pack(detail)  # type: ignore[arg-type]
        status.details.append(packed)
    trailers = grpc.aio.Metadata(("grpc-status-details-bin", status.SerializeToString()))
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), trailers, message)


@pytest.mark.parametrize(
    ("code", "http"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, 400),
        (grpc.StatusCode.FAILED_PRECONDITION, 400),
        (grpc.StatusCode.UNAUTHENTICATED, 401),
        (grpc.StatusCode.PERMISSION_DENIED, 403),
        (grpc.StatusCode.NOT_FOUND, 404),
        (grpc.StatusCode.ALREADY_EXISTS, 409),
        (grpc.StatusCode.ABORTED, 409),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
        (grpc.StatusCode.UNIMPLEMENTED, 501),
        (grpc.StatusCode.UNAVAILABLE, 503),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 504),
        (grpc.StatusCode.INTERNAL, 500),
        (grpc.StatusCode.UNKNOWN, 500),
        (grpc.StatusCode.DATA_LOSS, 500),
    ],
)
def test_status_codes_map_the_canonical_way(code: grpc.StatusCode, http: int) -> None:
    assert HTTP_STATUS[code] == http
    assert from_rpc_error(_rpc_error(code, "m")).status == http


def test_every_status_code_has_an_http_status() -> None:
    assert set(HTTP_STATUS) == set(grpc.StatusCode)


def test_field_violations_come_back_as_json_details() -> None:
    violation = error_details_pb2.BadRequest.FieldViolation(field="meeting_id", description="must be positive")
    error = from_rpc_error(
        _rpc_error(
            grpc.StatusCode.INVALID_ARGUMENT, "bad meeting", error_details_pb2.BadRequest(field_violations=[violation])
        )
    )
    assert error.status == 400
    assert error.code == "INVALID_ARGUMENT"
    assert error.message == "bad meeting"
    assert error.details == [
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "field_violations": [{"field": "meeting_id", "description": "must be positive"}],
        }
    ]
    assert error_body(error).startswith(b'{"code":"INVALID_ARGUMENT","message":"bad meeting","details":[')


def test_resource_exhausted_carries_retry_after_rounded_up() -> None:
    delay = duration_pb2.Duration(seconds=4, nanos=200_000_000)
    info = error_details_pb2.ErrorInfo(reason="ZOOM_DAILY_LIMIT", domain="rollcall.deped.gov.ph")
    error = from_rpc_error(
        _rpc_error(
            grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down", info, error_details_pb2.RetryInfo(retry_delay=delay)
        )
    )
    assert error.status == 429
    assert error.headers == {"retry-after": "5"}
    assert error.details[0]["reason"] == "ZOOM_DAILY_LIMIT"
    assert error.details[1] == {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retry_delay": "4.200s"}


def test_transport_errors_do_not_leak_their_wording() -> None:
    raw = grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(),
        "failed to connect to all addresses; last error: UNKNOWN: ipv4:10.0.0.7:50052: Connection refused",
    )
    error = from_rpc_error(raw)
    assert error.status == 503
    assert "10.0.0.7" not in error.message
    assert error.details == []
