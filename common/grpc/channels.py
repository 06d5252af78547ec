"""The one way to make client channels: every call gets a deadline, even when the caller forgot."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

__all__ = ["create_channel"]


def _with_deadline(details: grpc.aio.ClientCallDetails, timeout: float) -> grpc.aio.ClientCallDetails:
    if details.timeout is not None:
        return details
    return grpc.aio.ClientCallDetails(
        method=details.method,
        timeout=timeout,
        metadata=details.metadata,
        credentials=details.credentials,
        wait_for_ready=details.wait_for_ready,
    )


class _UnaryDeadline(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, timeout: float) -> None:
        self._timeout = timeout

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await continuation(_with_deadline(client_call_details, self._timeout), request)


class _StreamDeadline(grpc.aio.UnaryStreamClientInterceptor):
    def __init__(self, timeout: float) -> None:
        self._timeout = timeout

    async def intercept_unary_stream(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> AsyncIterator[Any] | Any:
        return await continuation(_with_deadline(client_call_details, self._timeout), request)


def create_channel(
    target: str, *, timeout_seconds: float = 10.0, stream_timeout_seconds: float = 3600.0
) -> grpc.aio.Channel:
    """An insecure channel for in-cluster calls (TLS terminates at the mesh or ingress)."""
    return grpc.aio.insecure_channel(
        target,
        interceptors=[_UnaryDeadline(timeout_seconds), _StreamDeadline(stream_timeout_seconds)],
        options=[("grpc.enable_retries", 1), ("grpc.keepalive_time_ms", 30_000)],
    )
