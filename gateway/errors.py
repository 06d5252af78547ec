"""gRPC statuses to HTTP answers: one table, and one JSON shape `{code, message, details}`.

`details` are the google.rpc details of the service's `grpc-status-details-bin` trailer (BadRequest
field violations, ErrorInfo, RetryInfo) as proto3 JSON with an `@type`. Errors without that trailer
come from the transport, not from a service: their text (addresses, library wording) is replaced.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2
from starlette.responses import Response

__all__ = [
    "HTTP_STATUS",
    "ApiError",
    "bad_request",
    "error_body",
    "error_response",
    "from_rpc_error",
]

_log = logging.getLogger("rollcall.gateway")
_DETAILS_TRAILER = "grpc-status-details-bin"

HTTP_STATUS: Mapping[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.DATA_LOSS: 500,
}

# Said instead of the transport's own words, which may name internal addresses.
_TRANSPORT_MESSAGES: Mapping[grpc.StatusCode, str] = {
    grpc.StatusCode.UNAVAILABLE: "the service is unavailable; try again shortly",
    grpc.StatusCode.DEADLINE_EXCEEDED: "the service did not answer in time; try again",
    grpc.StatusCode.CANCELLED: "the call was cancelled",
    grpc.StatusCode.UNIMPLEMENTED: "not implemented yet",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "too many requests; try again shortly",
}


class ApiError(Exception):
    """An answer other than success: HTTP status, gRPC code name, message, google.rpc details."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Sequence[Mapping[str, Any]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = list(details)
        self.headers = dict(headers or {})


def bad_request(message: str, violations: Iterable[tuple[str, str]] = ()) -> ApiError:
    """400 INVALID_ARGUMENT with BadRequest field violations, as a service would answer it."""
    found = [{"field": field, "description": description} for field, description in violations]
    details = [{"@type": "type.googleapis.com/google.rpc.BadRequest", "field_violations": found}] if found else []
    return ApiError(400, "INVALID_ARGUMENT", message, details)


def _status_of(error: grpc.aio.AioRpcError) -> status_pb2.Status | None:
    for key, value in error.trailing_metadata() or ():
        if key == _DETAILS_TRAILER and isinstance(value, bytes):
            try:
                return status_pb2.Status.FromString(value)
            except DecodeError:
                _log.warning("gateway.bad_status_details")
                return None
    return None


def _detail_json(detail: Any) -> dict[str, Any]:
    try:
        return json_format.MessageToDict(detail, preserving_proto_field_name=True)
    except (json_format.Error, TypeError, KeyError):
        return {"@type": detail.type_url}  # a detail type this gateway does not know


def _retry_after(status: status_pb2.Status) -> str | None:
    for detail in status.details:
        info = error_details_pb2.RetryInfo()
        if detail.Unpack(info):
            seconds = info.retry_delay.seconds + info.retry_delay.nanos / 1e9
            return str(max(1, math.ceil(seconds)))
    return None


def from_rpc_error(error: grpc.aio.AioRpcError) -> ApiError:
    """The HTTP answer to a failed call; Retry-After from RetryInfo when the service sent one."""
    code = error.code()
    http_status = HTTP_STATUS.get(code, 500)
    status = _status_of(error)
    if status is None:
        message = _TRANSPORT_MESSAGES.get(code, "internal error")
        if http_status >= 500 and code is not grpc.StatusCode.UNIMPLEMENTED:
            _log.warning("gateway.transport_error", extra={"code": code.name})
        return ApiError(http_status, code.name, message)
    headers = {}
    retry_after = _retry_after(status)
    if retry_after is not None:
        headers["retry-after"] = retry_after
    details = [_detail_json(detail) for detail in status.details]
    return ApiError(http_status, code.name, status.message or error.details() or code.name.lower(), details, headers)


def error_body(error: ApiError) -> bytes:
    payload = {"code": error.code, "message": error.message, "details": error.details}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def error_response(error: ApiError) -> Response:
    return Response(error_body(error), status_code=error.status, media_type="application/json", headers=error.headers)
