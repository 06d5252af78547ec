"""What every /v2 call goes through before its handler, in Zoom's order: bearer check, rate limits
(per second and daily), then the injected faults and latency, all counted for the admin API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from zoom_emulator.core import CATEGORY, Emulator, ZoomFault, zoom_error

__all__ = ["DroppedConnection", "quiet_dropped_connections", "zoom_operation"]

Handler = Callable[[Emulator, Request], Awaitable[Response]]
_log = logging.getLogger("zoom_emulator")


class DroppedConnection(Exception):
    """Raised after the response started, so the server closes the connection mid-response."""


class _DroppedResponse(Response):
    """Starts a response and breaks it off: the client sees a transport error, not an HTTP answer."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]})
        raise DroppedConnection


class _QuietDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DroppedConnection))


def quiet_dropped_connections() -> None:
    """uvicorn logs every exception of the app; deliberate drops are not errors."""
    logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


def _rate_headers(
    emu: Emulator, category: str, kind: str, limit: int, remaining: int, reset: float | None
) -> dict[str, str]:
    if emu.config.omit_rate_limit_headers:
        return {}
    headers = {
        "X-RateLimit-Category": category,
        "X-RateLimit-Type": kind,
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
    }
    if reset is not None:
        headers["X-RateLimit-Reset"] = str(int(reset))
    return headers


def _qps_refusal(emu: Emulator, category: str, limit: int, reset_after: float) -> JSONResponse:
    emu.store.rate_limited["QPS"] += 1
    reset = emu.now().timestamp() + max(reset_after, 0.001)
    headers = _rate_headers(emu, category, "QPS", limit, 0, reset)
    return zoom_error(
        ZoomFault(
            429,
            429,
            "You have reached the maximum per-second rate limit for this API. Try again later.",
            headers=headers,
        )
    )


def _daily_refusal(emu: Emulator, category: str, limit: int) -> JSONResponse:
    emu.store.rate_limited["Daily-limit"] += 1
    headers = _rate_headers(emu, category, "Daily-limit", limit, 0, None)
    if not emu.config.omit_rate_limit_headers:
        headers["Retry-After"] = emu.next_midnight().strftime("%Y-%m-%dT%H:%M:%SZ")
    message = (
        "You have reached the maximum daily rate limit for this API. Refer to the response header for "
        "details on when you can make another request."
    )
    return zoom_error(ZoomFault(429, 429, message, headers=headers))


def _authorised(emu: Emulator, request: Request) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    expiry = emu.store.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
    return expiry is not None and expiry > emu.now().timestamp()


def _draw_fault(emu: Emulator) -> str | None:
    draw = emu.rng.random()
    shares = emu.config.faults
    for kind, share in (
        ("server_error", shares.server_error),
        ("rate_limit", shares.rate_limit),
        ("reset", shares.reset),
        ("lost_response", shares.lost_response),
    ):
        if draw < share:
            return kind
        draw -= share
    return None


def zoom_operation(operation: str) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    category = CATEGORY[operation]

    def decorate(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            emu: Emulator = request.app.state.emulator
            if not _authorised(emu, request):
                return zoom_error(ZoomFault(401, 124, "Invalid access token."))
            emu.store.calls[category] += 1
            if emu.config.rate_limits_enabled:
                limit = emu.rate_limit(category)
                decision = emu.buckets.take(category, limit, emu.monotonic())
                if not decision.allowed:
                    return _qps_refusal(emu, category, limit, decision.reset_after_seconds)
                if category == "Heavy" and not emu.spend_daily("heavy", "account", emu.heavy_daily_limit()):
                    return _daily_refusal(emu, category, emu.heavy_daily_limit())
            fault = _draw_fault(emu)
            jitter = emu.rng.uniform(0, emu.config.jitter_ms) if emu.config.jitter_ms else 0.0
            if emu.config.latency_ms or jitter:
                await asyncio.sleep((emu.config.latency_ms + jitter) / 1000)
            if fault is not None:
                emu.store.faults[fault] += 1
            if fault == "server_error":
                status = emu.rng.choice((500, 502, 503))
                return JSONResponse({"code": status, "message": "Internal server error."}, status_code=status)
            if fault == "rate_limit":
                return _qps_refusal(emu, category, emu.rate_limit(category), 0.2)
            if fault == "reset":
                return _DroppedResponse()
            try:
                response = await handler(emu, request)
            except ZoomFault as refused:
                response = zoom_error(refused)
            if fault == "lost_response":
                return _DroppedResponse()
            return response

        return endpoint

    return decorate


async def read_json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ZoomFault(400, 300, "Request Body should be a valid JSON object.") from None
    if not isinstance(body, dict):
        raise ZoomFault(400, 300, "Request Body should be a valid JSON object.")
    return body
