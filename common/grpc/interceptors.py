"""The server interceptor: request id, authentication, one log line per call, exception-to-status mapping.

Servicers let exceptions travel; this is the only place that turns them into statuses.
"""

from __future__ import annotations

import collections
import inspect
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from grpc_status import rpc_status

from common.errors import FieldViolation, InvalidArgument
from common.grpc.errors import status_for
from common.logs import request_id_var
from common.metrics import RPC_LATENCY, RPC_REQUESTS
from common.security.principal import Principal, principal_var

__all__ = ["REQUEST_ID_HEADER", "Authenticator", "CallInterceptor"]

REQUEST_ID_HEADER = "x-request-id"
_log = logging.getLogger("rollcall.grpc")
Authenticator = Callable[[str, Sequence[tuple[str, str | bytes]]], Awaitable[Principal | None]]
_UNARY = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]
_STREAM = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], AsyncIterator[Any]]


class _Malformed:
    """Stands in for a request body that does not parse as the method's message."""


_MALFORMED = _Malformed()


def _lenient(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """Hands a body that does not parse to the handler as `_MALFORMED`: left to grpc, the parse
    error is answered UNKNOWN with the exception's text; the handler answers INVALID_ARGUMENT."""
    if deserializer is None:
        return None

    def parse(raw: bytes) -> Any:
        try:
            return deserializer(raw)
        except DecodeError:
            return _MALFORMED

    return parse


def _parsed(request: Any) -> None:
    if request is _MALFORMED:
        raise InvalidArgument(FieldViolation("request", "is not a valid protobuf message of the method's type"))


class _Status(
    collections.namedtuple("_Status", ("code", "details", "trailing_metadata")),
    grpc.Status,
):
    """A status whose trailing metadata holds both the rich details and the request id."""


def _request_id(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_HEADER and isinstance(value, str) and 0 < len(value) <= 128:
            return value
    return uuid.uuid4().hex


class _Call:
    """Book-keeping of one call: sets the request id, logs the outcome, maps the error."""

    def __init__(
        self, method: str, context: grpc.aio.ServicerContext[Any, Any], authenticator: Authenticator | None
    ) -> None:
        self.method = method
        self.context = context
        self.authenticator = authenticator
        self.request_id = _request_id(context)
        self.started = time.perf_counter()
        self.code = grpc.StatusCode.OK

    def __enter__(self) -> _Call:
        self._token = request_id_var.set(self.request_id)
        self._principal_token = principal_var.set(None)
        self.context.set_trailing_metadata(((REQUEST_ID_HEADER, self.request_id),))
        return self

    async def authenticate(self) -> None:
        """Sets the caller's Principal for the handler; raises Unauthenticated on a bad token."""
        if self.authenticator is None:
            return
        metadata = [(key, value) for key, value in self.context.invocation_metadata() or ()]
        principal_var.set(await self.authenticator(self.method, metadata))

    def __exit__(self, *exc: object) -> None:
        code = self.context.code()
        if isinstance(code, grpc.StatusCode):
            self.code = code
        elapsed = time.perf_counter() - self.started
        RPC_REQUESTS.labels(self.method, self.code.name).inc()
        RPC_LATENCY.labels(self.method).observe(elapsed)
        _log.info(
            "rpc.done",
            extra={"method": self.method, "code": self.code.name, "latency_ms": round(elapsed * 1000, 2)},
        )
        principal_var.reset(self._principal_token)
        request_id_var.reset(self._token)

    async def fail(self, exc: BaseException) -> None:
        status = rpc_status.to_status(status_for(exc))
        self.code = status.code
        # abort_with_status replaces the trailing metadata: carry the request id along.
        await self.context.abort_with_status(
            _Status(status.code, status.details, (*status.trailing_metadata, (REQUEST_ID_HEADER, self.request_id)))
        )


def _wrap_unary(method: str, inner: Callable[..., Any], authenticator: Authenticator | None) -> _UNARY:
    async def behavior(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        with _Call(method, context, authenticator) as call:
            try:
                await call.authenticate()
                _parsed(request)
                result = inner(request, context)
                return await result if inspect.isawaitable(result) else result
            except grpc.aio.AbortError:
                raise
            except Exception as exc:  # noqa: BLE001 -- every other error is mapped by the one table
                await call.fail(exc)

    return behavior


def _wrap_stream(method: str, inner: Callable[..., Any], authenticator: Authenticator | None) -> _STREAM:
    async def behavior(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
        with _Call(method, context, authenticator) as call:
            try:
                await call.authenticate()
                _parsed(request)
                stream = inner(request, context)
                if inspect.isasyncgen(stream):
                    async for item in stream:
                        yield item
                else:
                    for item in stream:
                        yield item
            except grpc.aio.AbortError:
                raise
            except Exception as exc:  # noqa: BLE001 -- every other error is mapped by the one table
                await call.fail(exc)

    return behavior


class CallInterceptor(grpc.aio.ServerInterceptor):
    """Wraps unary-unary and unary-stream handlers (rollcall defines no client streams): request id,
    authentication, one log line, error mapping — in that order, for every call."""

    def __init__(self, authenticator: Authenticator | None = None) -> None:
        self._authenticator = authenticator

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                _wrap_unary(method, handler.unary_unary, self._authenticator),
                request_deserializer=_lenient(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                _wrap_stream(method, handler.unary_stream, self._authenticator),
                request_deserializer=_lenient(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        return handler
