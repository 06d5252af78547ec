"""Per-request book-keeping: the request id (taken from `x-request-id` or made, and echoed), one
JSON log line, and Prometheus series by route template and status. A failure no endpoint handled
becomes a JSON 500 without details; its traceback goes to the log only.
"""

from __future__ import annotations

import logging
import time

from prometheus_client import Counter, Histogram
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.logs import request_id_var
from gateway.caller import request_id_of
from gateway.errors import ApiError, error_body

__all__ = ["HTTP_LATENCY", "HTTP_REQUESTS", "RequestContextMiddleware"]

_log = logging.getLogger("rollcall.gateway")

HTTP_REQUESTS = Counter(
    "rollcall_gateway_requests",
    "HTTP requests served, by route template, method and status",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "rollcall_gateway_request_seconds",
    "Time until the response headers were sent, by route template",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestContextMiddleware:
    """Sets `request.state.request_id`; endpoints set `request.state.route` (a template, never a raw path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(Headers(scope=scope).get("x-request-id"))
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                HTTP_LATENCY.labels(_route(state, status)).observe(time.perf_counter() - started)
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            _log.exception("gateway.unhandled_error")
            if status:
                raise  # headers are out: all that is left is to cut the response short
            body = error_body(ApiError(500, "INTERNAL", "internal error"))
            await send_with_id(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
                }
            )
            await send_with_id({"type": "http.response.body", "body": body})
        finally:
            route = _route(state, status)
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            HTTP_REQUESTS.labels(route, method, str(status or 500)).inc()
            elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
            _log.info("gateway.request", extra={"route": route, "status": status, "latency_ms": elapsed_ms})
            request_id_var.reset(token)


def _route(state: dict[str, object], status: int) -> str:
    route = state.get("route")
    if isinstance(route, str):
        return route
    return "static" if status and status < 400 else "unmatched"
