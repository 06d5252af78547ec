"""PostgreSQL's frontend protocol, counted on the wire: a TCP proxy between a client and the
server that tells how many round trips and statements a piece of work costs, without touching the
client's code. Used by bench.attendance for the participants call's database round trips."""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import make_url

__all__ = ["CountingProxy", "Wire", "through", "upstream_of"]

_UNTYPED_REQUESTS = {80877103, 80877104}  # SSLRequest, GSSENCRequest: the startup message follows


@dataclass
class Wire:
    """What crossed a proxy between clients and PostgreSQL: round trips (a client sending after
    the server answered, or first) and statements (Query and Execute messages)."""

    round_trips: int = 0
    statements: int = 0
    first_bytes: list[bytes] = field(default_factory=list)


class CountingProxy:
    """A TCP proxy in front of PostgreSQL that reads the frontend protocol's message framing."""

    def __init__(self, upstream: dict[str, Any]) -> None:
        self.wire = Wire()
        self._upstream = upstream
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[Any]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Closes the listener and every proxied connection, then waits for their handlers: a
        handler still reading when the event loop ends would be cancelled and logged as an error."""
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = (
            await asyncio.open_unix_connection(**self._upstream)
            if "path" in self._upstream
            else await asyncio.open_connection(**self._upstream)
        )
        self._writers.update((client_writer, server_writer))
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        state = {"answered": True}

        async def from_client() -> None:
            typed, buffer = False, b""
            while chunk := await client_reader.read(65536):
                if state["answered"]:
                    self.wire.round_trips += 1
                    state["answered"] = False
                buffer += chunk
                while True:
                    header = 4 if not typed else 5
                    if len(buffer) < header:
                        break
                    length = struct.unpack("!I", buffer[header - 4 : header])[0] + (header - 4)
                    if len(buffer) < length:
                        break
                    if not typed:
                        typed = struct.unpack("!I", buffer[4:8])[0] not in _UNTYPED_REQUESTS
                    elif buffer[:1] in (b"Q", b"E"):
                        self.wire.statements += 1
                    buffer = buffer[length:]
                server_writer.write(chunk)
                await server_writer.drain()
            server_writer.close()

        async def from_server() -> None:
            while chunk := await server_reader.read(65536):
                state["answered"] = True
                client_writer.write(chunk)
                await client_writer.drain()
            client_writer.close()

        await asyncio.gather(from_client(), from_server(), return_exceptions=True)


def upstream_of(database_url: str) -> dict[str, Any]:
    url = make_url(database_url)
    port = url.port or 5432
    socket_dir = url.query.get("host")
    if isinstance(socket_dir, str) and socket_dir.startswith("/"):
        return {"path": f"{socket_dir}/.s.PGSQL.{port}"}
    return {"host": url.host or "127.0.0.1", "port": port}


def through(database_url: str, port: int) -> str:
    url = make_url(database_url)
    query = {k: v for k, v in url.query.items() if k != "host"}
    return url.set(host="127.0.0.1", port=port, query=query).render_as_string(hide_password=False)
