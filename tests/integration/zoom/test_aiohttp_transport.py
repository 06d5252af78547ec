"""The Zoom client's aiohttp transport over real sockets: each way an exchange can fail says
whether the request can have reached the server, since that decides retries and daily allowances."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from common.zoom._aiohttp import AiohttpTransport
from common.zoom._wire import BadUrl, HttpRequest, WireError, http_request
from tests.support.processes import free_port

Peer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0
    )
    return head + await reader.readexactly(length)


@asynccontextmanager
async def _serving(peer: Peer) -> AsyncIterator[str]:
    server = await asyncio.start_server(peer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
async def transport() -> AsyncIterator[AiohttpTransport]:
    made = AiohttpTransport()
    yield made
    await made.aclose()


def _post(url: str, timeout: float = 5.0) -> HttpRequest:
    return http_request(
        "POST", f"{url}/v2/meetings/1/registrants", headers={}, json_body={"a": 1}, timeout_seconds=timeout
    )


async def test_refused_connection_was_not_sent(transport: AiohttpTransport) -> None:
    with pytest.raises(WireError) as caught:
        await transport.send(_post(f"http://127.0.0.1:{free_port()}"))
    assert (caught.value.kind, caught.value.sent) == ("ConnectError", False)


async def test_connection_closed_after_the_request_may_have_been_applied(transport: AiohttpTransport) -> None:
    async def read_and_hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.close()

    async with _serving(read_and_hang_up) as url:
        with pytest.raises(WireError) as caught:
            await transport.send(_post(url))
    assert caught.value.sent


async def test_an_answer_that_never_comes_times_out_as_maybe_applied(transport: AiohttpTransport) -> None:
    done = asyncio.Event()

    async def read_and_wait(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await done.wait()
        writer.close()

    async with _serving(read_and_wait) as url:
        with pytest.raises(WireError) as caught:
            await transport.send(_post(url, timeout=0.3))
        done.set()
    assert (caught.value.kind, caught.value.sent) == ("ReadTimeout", True)


async def test_an_unusable_url_is_a_configuration_fault(transport: AiohttpTransport) -> None:
    with pytest.raises(BadUrl):
        await transport.send(_post("ftp://zoom.example"))


async def test_answers_are_decoded_and_headers_read_in_any_case(transport: AiohttpTransport) -> None:
    seen: list[bytes] = []

    async def answer_gzip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await _read_request(reader))
        body = gzip.compress(b'{"id": "r1"}')
        writer.write(
            b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
            b"X-RateLimit-Remaining: 7\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        await writer.drain()
        writer.close()

    async with _serving(answer_gzip) as url:
        response = await transport.send(_post(url))
    assert (response.status, response.json(), response.headers["x-ratelimit-remaining"]) == (201, {"id": "r1"}, "7")
    request = seen[0].decode()
    assert request.startswith("POST /v2/meetings/1/registrants HTTP/1.1")
    assert "User-Agent: rollcall-zoom/1" in request
    assert request.endswith('{"a":1}')
