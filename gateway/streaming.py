"""Server-streaming RPCs over HTTP: Server-Sent Events for messages, chunked downloads for HttpBody.

The response starts only once the first message arrived (or a short wait passed), so a refused call
still gets its proper HTTP status. When the client goes away, the gRPC call is cancelled at once.
SSE: one `data:` line of JSON per message, `: keepalive` comments while the stream is quiet,
`event: error` with `{code, message, details}` if the call fails midway, `event: end` when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import grpc
from google.protobuf.message import Message
from starlette.types import Receive, Scope, Send

from gateway.errors import error_body, from_rpc_error
from gateway.transcode import message_json

__all__ = ["QUIET", "StreamReader", "StreamedResponse", "event_stream"]

_log = logging.getLogger("rollcall.gateway")
QUIET = object()  # nothing arrived within the wait
KEEPALIVE_SECONDS = 15.0  # below the 30-60 s idle timeouts of common proxies


class StreamReader:
    """Reads a unary-stream call one message at a time, with a timeout that does not cancel it."""

    def __init__(self, call: grpc.aio.UnaryStreamCall[Any, Any]) -> None:
        self._call = call
        self._pending: asyncio.Future[Any] | None = None
        self.finished = False

    async def next(self, wait_seconds: float | None) -> Message | object | None:
        """The next message; None at the end; QUIET when `wait_seconds` passed first (the read goes
        on). Raises AioRpcError."""
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._call.read())
        done, _ = await asyncio.wait({self._pending}, timeout=wait_seconds)
        if not done:
            return QUIET
        pending, self._pending = self._pending, None
        item = pending.result()
        if item is grpc.aio.EOF:
            self.finished = True
            return None
        return item  # type: ignore[no-any-return]

    def close(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        self._call.cancel()


async def event_stream(reader: StreamReader, first: Message | object | None) -> AsyncIterator[bytes]:
    """The SSE body, starting from the already read first item (a message, QUIET or None)."""
    item = first
    try:
        while True:
            if item is None:
                yield b"event: end\ndata: {}\n\n"
                return
            if item is QUIET:
                yield b": keepalive\n\n"
            else:
                assert isinstance(item, Message)
                yield b"data: " + message_json(item) + b"\n\n"
            item = await reader.next(KEEPALIVE_SECONDS)
    except grpc.aio.AioRpcError as exc:
        yield b"event: error\ndata: " + error_body(from_rpc_error(exc)) + b"\n\n"


class StreamedResponse:
    """An ASGI response whose body comes from `chunks`; `on_close` runs when the body ends, fails or
    the client disconnects, whichever is first."""

    def __init__(
        self,
        chunks: AsyncIterator[bytes],
        *,
        media_type: str,
        headers: Mapping[str, str],
        on_close: Callable[[], None],
    ) -> None:
        self._chunks = chunks
        self._on_close = on_close
        self._headers = [(b"content-type", media_type.encode("latin-1"))]
        self._headers += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def pump() -> None:
            await send({"type": "http.response.start", "status": 200, "headers": self._headers})
            async for chunk in self._chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        async def disconnected() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        body = asyncio.ensure_future(pump())
        watch = asyncio.ensure_future(disconnected())
        try:
            done, _ = await asyncio.wait({body, watch}, return_when=asyncio.FIRST_COMPLETED)
            if body in done:
                body.result()  # a failure midway aborts the response: the client sees it cut short
        finally:
            for task in (body, watch):
                task.cancel()
            await asyncio.gather(body, watch, return_exceptions=True)
            with contextlib.suppress(StopAsyncIteration, RuntimeError):
                aclose = getattr(self._chunks, "aclose", None)
                if aclose is not None:
                    await aclose()
            self._on_close()
