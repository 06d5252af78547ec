"""`POST /api/zoom/webhooks`: Zoom's signed event notifications.

Zoom signs `v0:{x-zm-request-timestamp}:{raw body}` with HMAC-SHA256 under the app's secret token
and sends `v0=<hex>` in `x-zm-signature`. The signature is checked over the raw bytes in constant
time and stale timestamps are refused (a captured request cannot be replayed later). URL
validation is answered here; every other event goes to AttendanceService.IngestZoomEvent under the
gateway's own service identity, which deduplicates Zoom's retries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable

import grpc
from rollcall.attendance.v1 import attendance_service_pb2 as attendance_pb
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from gateway.caller import REQUEST_ID_HEADER, ServiceToken
from gateway.errors import ApiError, error_response, from_rpc_error
from gateway.transcode import read_body

__all__ = ["MAX_CLOCK_SKEW_SECONDS", "ZoomWebhooks", "sign", "url_validation_answer", "verify_signature"]

_log = logging.getLogger("rollcall.gateway.webhooks")
MAX_CLOCK_SKEW_SECONDS = 300  # Zoom's guidance: refuse requests older than 5 minutes
_FORWARD_DEADLINE_SECONDS = 2.5  # Zoom wants an answer within 3 s, else it retries (harmless: deduplicated)
_INGEST_PATH = "/rollcall.attendance.v1.AttendanceService/IngestZoomEvent"
_Ingest = grpc.aio.UnaryUnaryMultiCallable[attendance_pb.IngestZoomEventRequest, attendance_pb.IngestZoomEventResponse]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Zoom's `x-zm-signature` value for a body sent at `timestamp`."""
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return f"v0={digest}"


def _unauthenticated(reason: str) -> ApiError:
    _log.info("webhook.rejected", extra={"reason": reason})
    return ApiError(401, "UNAUTHENTICATED", "invalid Zoom webhook signature")


def verify_signature(secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float) -> int:
    """The request's timestamp (unix seconds) when the signature holds and is fresh; else ApiError 401."""
    if not timestamp or not signature:
        raise _unauthenticated("missing_headers")
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise _unauthenticated("bad_timestamp")
    if abs(now - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
        raise _unauthenticated("stale_timestamp")
    if not hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.encode("utf-8", "replace")):
        raise _unauthenticated("bad_signature")
    return int(timestamp)


def url_validation_answer(secret: str, plain_token: str) -> dict[str, str]:
    """Zoom's challenge: the plain token and its hex HMAC-SHA256 under the secret token."""
    encrypted = hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()
    return {"plainToken": plain_token, "encryptedToken": encrypted}


class ZoomWebhooks:
    """The ASGI endpoint; `bind` gives it the attendance service's channel at start-up."""

    def __init__(
        self,
        secret: str | None,
        token: ServiceToken,
        max_body_bytes: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret
        self._token = token
        self._max_body_bytes = max_body_bytes
        self._clock = clock
        self._ingest: _Ingest | None = None

    def bind(self, attendance: grpc.aio.Channel) -> None:
        self._ingest = attendance.unary_unary(
            _INGEST_PATH,
            request_serializer=attendance_pb.IngestZoomEventRequest.SerializeToString,
            response_deserializer=attendance_pb.IngestZoomEventResponse.FromString,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        request.state.route = "/api/zoom/webhooks"
        try:
            response = await self._handle(request)
        except ApiError as error:
            response = error_response(error)
        await response(scope, receive, send)

    async def _handle(self, request: Request) -> Response:
        if request.method != "POST":
            error = ApiError(405, "UNIMPLEMENTED", f"{request.method} is not allowed here; use POST")
            error.headers["allow"] = "POST"
            raise error
        if not self._secret:
            raise ApiError(404, "NOT_FOUND", "Zoom webhooks are not configured here (ZOOM_WEBHOOK_SECRET_TOKEN)")
        body = await read_body(request, self._max_body_bytes)
        timestamp = verify_signature(
            self._secret,
            request.headers.get("x-zm-request-timestamp"),
            request.headers.get("x-zm-signature"),
            body,
            self._clock(),
        )
        try:
            event = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise ApiError(400, "INVALID_ARGUMENT", "the webhook body is not JSON") from None
        if isinstance(event, dict) and event.get("event") == "endpoint.url_validation":
            payload = event.get("payload")
            plain = payload.get("plainToken") if isinstance(payload, dict) else None
            if not isinstance(plain, str) or not plain:
                raise ApiError(400, "INVALID_ARGUMENT", "endpoint.url_validation without a plainToken")
            return JSONResponse(url_validation_answer(self._secret, plain))
        assert self._ingest is not None, "bind() is called at start-up"
        metadata = ((REQUEST_ID_HEADER, request.state.request_id), ("authorization", self._token.bearer()))
        try:
            reply = await self._ingest(
                attendance_pb.IngestZoomEventRequest(body=body, request_timestamp=timestamp),
                timeout=_FORWARD_DEADLINE_SECONDS,
                metadata=metadata,
            )
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        return JSONResponse({"event": reply.event, "duplicate": reply.duplicate})
