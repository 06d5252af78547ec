"""The one table that maps exceptions to gRPC statuses with google.rpc details.

Anything not in the table is a bug on our side: it is logged with its traceback and answered
INTERNAL with a generic message, so no stack trace or personal data reaches a caller.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from sqlalchemy.exc import DBAPIError, OperationalError

from common import errors

__all__ = ["ERROR_TABLE", "status_for"]

_log = logging.getLogger("rollcall.grpc")

ERROR_TABLE: tuple[tuple[type[BaseException], grpc.StatusCode], ...] = (
    (errors.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (errors.PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (errors.NotFound, grpc.StatusCode.NOT_FOUND),
    (errors.AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (errors.FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.ResourceExhausted, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.Unavailable, grpc.StatusCode.UNAVAILABLE),
    (NotImplementedError, grpc.StatusCode.UNIMPLEMENTED),
    (TimeoutError, grpc.StatusCode.DEADLINE_EXCEEDED),
    (asyncio.TimeoutError, grpc.StatusCode.DEADLINE_EXCEEDED),
    (OperationalError, grpc.StatusCode.UNAVAILABLE),
    (DBAPIError, grpc.StatusCode.UNAVAILABLE),
)


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def _code_for(exc: BaseException) -> grpc.StatusCode:
    for exc_type, code in ERROR_TABLE:
        if isinstance(exc, exc_type):
            if isinstance(exc, DBAPIError) and not exc.connection_invalidated and not isinstance(exc, OperationalError):
                return grpc.StatusCode.INTERNAL
            return code
    return grpc.StatusCode.INTERNAL


def _message_for(exc: BaseException, code: grpc.StatusCode) -> str:
    if isinstance(exc, errors.RollcallError):
        return exc.message
    if code is grpc.StatusCode.UNIMPLEMENTED:
        return "Method not implemented"
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return "Deadline exceeded"
    if code is grpc.StatusCode.UNAVAILABLE:
        return "The database is unavailable; try again shortly"
    return "Internal error"


def status_for(exc: BaseException) -> status_pb2.Status:
    """A google.rpc.Status for `exc`, with BadRequest, ErrorInfo and RetryInfo details as fitting."""
    code = _code_for(exc)
    if code is grpc.StatusCode.INTERNAL:
        _log.error("rpc.internal_error", exc_info=exc)
    status = status_pb2.Status(code=code.value[0], message=_message_for(exc, code))
    if isinstance(exc, errors.InvalidArgument):
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                for v in exc.violations
            ]
        )
        status.details.append(_pack(bad_request))
    elif isinstance(exc, errors.RollcallError) and exc.reason:
        info = error_details_pb2.ErrorInfo(reason=exc.reason, domain=errors.ERROR_DOMAIN)
        status.details.append(_pack(info))
    retry_seconds: float | None = None
    if isinstance(exc, errors.ResourceExhausted) and exc.retry_at is not None:
        retry_seconds = max(0.0, (exc.retry_at - datetime.now(UTC)).total_seconds())
    elif isinstance(exc, errors.Unavailable):
        retry_seconds = exc.retry_after_seconds
    elif code is grpc.StatusCode.UNAVAILABLE:
        retry_seconds = 2.0
    if retry_seconds is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(retry_seconds * 1e9))
        status.details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
    assert status.code != code_pb2.OK
    return status
