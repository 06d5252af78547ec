"""One table maps errors to gRPC statuses with the details callers need."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
from google.rpc import error_details_pb2

from common import errors
from common.grpc.errors import status_for


def test_invalid_argument_carries_field_violations() -> None:
    status = status_for(errors.InvalidArgument([errors.FieldViolation("student_id", "must be a UUID")]))
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    bad_request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad_request)
    assert bad_request.field_violations[0].field == "student_id"


def test_quota_errors_say_why_and_when_to_retry() -> None:
    retry_at = datetime.now(UTC) + timedelta(hours=2)
    status = status_for(
        errors.ResourceExhausted("Zoom's daily limit is spent", reason="ZOOM_DAILY_LIMIT", retry_at=retry_at)
    )
    assert status.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    info, retry = error_details_pb2.ErrorInfo(), error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(info)
    assert info.reason == "ZOOM_DAILY_LIMIT"
    assert status.details[1].Unpack(retry)
    assert 7000 < retry.retry_delay.seconds <= 7200


def test_unexpected_errors_become_internal_without_their_text() -> None:
    status = status_for(KeyError("juan@r1.deped.gov.ph"))
    assert status.code == grpc.StatusCode.INTERNAL.value[0]
    assert "juan" not in status.message
