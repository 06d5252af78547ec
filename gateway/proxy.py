"""The transcoding endpoint: one ASGI app serving every route of the table through generic calls.

No RPC has code of its own here: the route says which backend, which gRPC path and how the answer
goes back (JSON, Server-Sent Events or a download).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import Message
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gateway.caller import (
    CLIENT_IP_HEADER,
    GATEWAY_TOKEN_HEADER,
    REQUEST_ID_HEADER,
    ServiceToken,
    authorization_of,
    client_ip,
)
from gateway.config import GatewaySettings
from gateway.errors import ApiError, error_response, from_rpc_error
from gateway.json_cache import JsonCache
from gateway.routes import ApiRoute, ResponseKind, RouteTable
from gateway.streaming import StreamedResponse, StreamReader, event_stream
from gateway.transcode import build_request, message_json, read_body

__all__ = ["ApiProxy"]

_FIRST_EVENT_WAIT_SECONDS = 5.0  # an SSE response starts after this even if no message came yet
_JSON_TYPE = re.compile(r"^application/([a-z0-9.+-]+\+)?json\s*(;.*)?$", re.IGNORECASE)
# The backends that take the client IP (for QR check-ins), vouched for by the gateway's token.
_IP_BACKENDS = frozenset({"attendance"})


def _filename(route: ApiRoute, content_type: str) -> str:
    """`ExportAttendanceCsv` with text/csv gives `attendance.csv`."""
    words = re.findall(r"[A-Z][a-z0-9]*", route.method.name)
    extension = content_type.split(";")[0].strip().rsplit("/", 1)[-1].lower()
    if words and words[0] == "Export":
        words = words[1:]
    if words and words[-1].lower() == extension:
        words = words[:-1]
    stem = "-".join(word.lower() for word in words) or "download"
    return f"{stem}.{extension}" if re.fullmatch(r"[a-z0-9]{1,8}", extension) else stem


@dataclass(frozen=True, slots=True)
class _Bound:
    unary: Any  # grpc.aio.UnaryUnaryMultiCallable or UnaryStreamMultiCallable
    streaming: bool
    raw: bool  # answers arrive as bytes (JSON answers, converted through the cache)


class ApiProxy:
    """Serves /api/... and /v1/...: matches a route, builds the request, calls, answers."""

    def __init__(self, table: RouteTable, settings: GatewaySettings, token: ServiceToken) -> None:
        self._table = table
        self._settings = settings
        self._token = token
        self._bound: dict[ApiRoute, _Bound] = {}
        self.json_cache = JsonCache(settings.json_cache_bytes)

    def bind(self, channels: Mapping[str, grpc.aio.Channel]) -> None:
        """Creates one generic multi-callable per route on its backend's channel."""
        for route in self._table.routes:
            channel = channels[route.backend]
            serializer = route.request_class.SerializeToString
            streaming = route.method.server_streaming
            raw = not streaming and route.kind is not ResponseKind.DOWNLOAD
            deserializer = None if raw else route.response_class.FromString
            factory = channel.unary_stream if streaming else channel.unary_unary
            self._bound[route] = _Bound(
                factory(route.grpc_path, request_serializer=serializer, response_deserializer=deserializer),
                streaming,
                raw,
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self._handle(request)
        except ApiError as error:
            response = error_response(error)
        await response(scope, receive, send)

    async def _handle(self, request: Request) -> Response | StreamedResponse:
        raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
        found = self._table.match(request.method, raw_path.decode("latin-1"))
        if found is None:
            raise ApiError(404, "NOT_FOUND", f"no API route {request.url.path}")
        if isinstance(found, list):
            error = ApiError(405, "UNIMPLEMENTED", f"{request.method} is not allowed here; use {', '.join(found)}")
            error.headers["allow"] = ", ".join(found)
            raise error
        route = found.route
        request.state.route = route.template
        body = b""
        if route.body or request.method not in ("GET", "HEAD", "DELETE"):
            body = await read_body(request, self._settings.max_body_bytes)
            content_type = request.headers.get("content-type")
            if body.strip() and not (content_type and _JSON_TYPE.match(content_type)):
                raise ApiError(415, "INVALID_ARGUMENT", "send the request body as application/json")
        message = build_request(route, found.path_values, request.query_params.multi_items(), body)
        metadata = self._metadata(request, route)
        bound = self._bound[route]
        if bound.streaming:
            return await self._stream(route, bound, message, metadata)
        try:
            reply = await bound.unary(message, timeout=self._settings.deadline_seconds, metadata=metadata)
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        if not bound.raw:
            return _download_response(route, reply.content_type, reply.data)
        kind = route.response_class.DESCRIPTOR.full_name
        body = self.json_cache.json_of(kind, reply, lambda raw: message_json(route.response_class.FromString(raw)))
        return Response(body, media_type="application/json")

    def _metadata(self, request: Request, route: ApiRoute) -> tuple[tuple[str, str], ...]:
        metadata = [(REQUEST_ID_HEADER, request.state.request_id)]
        authorization = authorization_of(request)
        if authorization is not None:
            metadata.append(("authorization", authorization))
        if route.backend in _IP_BACKENDS:
            ip = client_ip(request, self._settings.trusted_proxy_header)
            if ip is not None:
                metadata += [(CLIENT_IP_HEADER, ip), (GATEWAY_TOKEN_HEADER, self._token.bearer())]
        return tuple(metadata)

    async def _stream(
        self, route: ApiRoute, bound: _Bound, message: Message, metadata: tuple[tuple[str, str], ...]
    ) -> Response | StreamedResponse:
        call = bound.unary(message, timeout=self._settings.stream_deadline_seconds, metadata=metadata)
        reader = StreamReader(call)
        download = route.kind is ResponseKind.DOWNLOAD
        try:
            first = await reader.next(None if download else _FIRST_EVENT_WAIT_SECONDS)
        except grpc.aio.AioRpcError as exc:
            reader.close()
            raise from_rpc_error(exc) from None
        if download:
            if first is None:
                reader.close()
                return _download_response(route, "application/octet-stream", b"")
            content_type = getattr(first, "content_type", "") or "application/octet-stream"
            return StreamedResponse(
                _download_chunks(reader, first),
                media_type=content_type,
                headers={"content-disposition": f'attachment; filename="{_filename(route, content_type)}"'},
                on_close=reader.close,
            )
        return StreamedResponse(
            event_stream(reader, first),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
            on_close=reader.close,
        )


async def _download_chunks(reader: StreamReader, first: Any) -> AsyncIterator[bytes]:
    item = first
    while item is not None:
        data: bytes = item.data
        if data:
            yield data
        item = await reader.next(None)


def _download_response(route: ApiRoute, content_type: str, data: bytes) -> Response:
    content_type = content_type or "application/octet-stream"
    return Response(
        data,
        media_type=content_type,
        headers={"content-disposition": f'attachment; filename="{_filename(route, content_type)}"'},
    )
