"""Single statements of many concurrent callers, pipelined on a few long-lived connections.

A call is one prepared statement in its own implicit transaction: it goes out followed by a Sync
message, so it commits or fails on its own, and whatever `set_config(..., true)` it made ends with
it. PostgreSQL skips the commands after an error only up to the next Sync, so a failing statement
fails its own caller and nobody else's.

Why not a pool: checking a connection out and back in, and psycopg's wait for each result (a
reader added to the event loop and removed again, a future and a timer), cost a grpc.aio server
more CPU than the rest of the call's own work (README, Performance). Here a call is written at
once to the connection with the fewest statements in flight, whatever is in flight before it;
each connection's socket stays registered with the event loop, and one callback reads whatever
results have arrived and hands each to its caller. Nothing waits for a batch to fill: an idle
connection sends a call the moment it comes, and a busy one takes it behind those in flight.

The same reader notices a connection the server closed while idle (a restart, a terminated
backend), so the next call opens a new one rather than failing on it. Calls in flight on a lost
connection are answered Unavailable (they may or may not have committed), and so is a call that
cannot reach the database within `timeout_seconds`, or while the last attempt to reach it failed
less than RECONNECT_AFTER_SECONDS ago: the database being down costs callers no wait.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import re
import select
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
import psycopg.errors
from psycopg import abc, pq
from psycopg.adapt import Transformer

from common.db.engine import PING_AFTER_IDLE_SECONDS, libpq_url
from common.errors import Unavailable

__all__ = ["RECONNECT_AFTER_SECONDS", "Statement", "StatementPipeline"]

# A lane whose connection attempt failed answers Unavailable for this long before trying again:
# while the database is down, a busy service does not try to connect once per call.
RECONNECT_AFTER_SECONDS = 0.1

_log = logging.getLogger("rollcall.db")
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_TUPLES_OK, _FATAL_ERROR, _SYNC = pq.ExecStatus.TUPLES_OK, pq.ExecStatus.FATAL_ERROR, pq.ExecStatus.PIPELINE_SYNC
_Connection = psycopg.AsyncConnection[Any]


@dataclass(frozen=True, slots=True)
class Statement:
    """A statement prepared once on each connection under `name` (unique per pipeline), written
    with `%(name)s` placeholders.

    Parameters go as text with no declared type: PostgreSQL infers each from where the statement
    uses it (cast it there when the context does not say), so one prepared statement serves every
    call, whichever of its values are NULL."""

    name: str
    text: str
    parameters: tuple[str, ...]

    @classmethod
    def of(cls, name: str, text: str) -> Statement:
        order: list[str] = []

        def number(match: re.Match[str]) -> str:
            if match[1] not in order:
                order.append(match[1])
            return f"${order.index(match[1]) + 1}"

        return cls(name, _PLACEHOLDER.sub(number, text), tuple(order))

    def values(self, parameters: Mapping[str, object]) -> list[bytes | None]:
        return [_text(parameters[name]) for name in self.parameters]


def _text(value: object) -> bytes | None:
    """A parameter in PostgreSQL's text form."""
    if value is None:
        return None
    if isinstance(value, bool):
        return b"t" if value else b"f"
    if isinstance(value, int | float | UUID):
        return str(value).encode()
    if isinstance(value, str):
        if "\x00" in value:  # libpq would cut the value short there; psycopg refuses it the same way
            raise psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
        return value.encode()
    raise TypeError(f"unsupported statement parameter type {type(value).__name__}")


def _unavailable(cause: BaseException) -> Unavailable:
    error = Unavailable("The database is unavailable; try again shortly", retry_after_seconds=2.0)
    error.__cause__ = cause
    return error


@dataclass(eq=False, slots=True)
class _Call:
    statement: Statement
    answer: asyncio.Future[list[Any]]
    prepares: bool  # the statement is prepared before it runs, up to the same Sync


class StatementPipeline:
    """`size` connections, each opened on first use (a service starts while its database is still
    coming up, as with the engine's pool) and pipelining the statements given to it. Used from one
    event loop; `aclose` at shutdown."""

    def __init__(self, database_url: str, *, size: int, application_name: str, timeout_seconds: float = 2.0) -> None:
        url = libpq_url(database_url)
        self._lanes = [_Lane(url, application_name, timeout_seconds) for _ in range(size)]

    async def aclose(self) -> None:
        for lane in self._lanes:
            lane.close()

    async def __aenter__(self) -> StatementPipeline:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def fetch(self, statement: Statement, parameters: Mapping[str, object]) -> list[Any]:
        """The statement's rows as named tuples, committed when this returns. Raises psycopg's
        error for an error in the statement, Unavailable when the database cannot be reached or
        the connection was lost before the answer came."""
        lane = min(self._lanes, key=_Lane.load)
        return await lane.fetch(statement, statement.values(parameters))


class _Lane:
    """One connection in pipeline mode: commands in the order sent, their results read back as
    they arrive by a reader the event loop calls."""

    def __init__(self, url: str, application_name: str, timeout_seconds: float) -> None:
        self._url = url
        self._application_name = application_name
        self._timeout_seconds = timeout_seconds
        self._connection: _Connection | None = None
        self._socket = -1  # the connection's, kept: libpq no longer tells it once the connection is lost
        self._transformer: abc.Transformer | None = None
        self._connecting = asyncio.Lock()
        self._retry_at = 0.0
        self._closed = False
        self._prepared: set[Statement] = set()
        self._in_flight: deque[_Call] = deque()
        self._results: list[pq.abc.PGresult] = []  # those of the oldest call in flight, so far
        self._idle_since = 0.0
        self._closing = False  # the server said it is closing the connection
        self._writing = False
        self._row_makers: dict[Statement, Callable[[Sequence[Any]], Any]] = {}

    def load(self) -> int:
        return len(self._in_flight)

    async def fetch(self, statement: Statement, values: list[bytes | None]) -> list[Any]:
        connection = self._connection
        if connection is None or (not self._in_flight and not self._still_open(connection)):
            connection = await self._connected()
        pgconn = connection.pgconn
        call = _Call(statement, asyncio.get_running_loop().create_future(), statement not in self._prepared)
        try:
            if call.prepares:  # a failed Parse skips the statement too, and its error is the caller's
                pgconn.send_prepare(statement.name.encode(), statement.text.encode())
                self._prepared.add(statement)
            pgconn.send_query_prepared(statement.name.encode(), values)
            pgconn.pipeline_sync()  # also writes what it can of the commands to the socket
            self._in_flight.append(call)
            if pgconn.flush():  # the socket took only part: the rest when it is writable
                self._write_later(connection)
        except psycopg.OperationalError as exc:
            self._lose(connection, exc)
            raise _unavailable(exc) from exc
        return await call.answer

    def close(self) -> None:
        self._closed = True
        if self._connection is not None:
            self._lose(self._connection, psycopg.OperationalError("the statement pipeline was closed"))

    def _still_open(self, connection: _Connection) -> bool:
        """After sitting idle (the engine's rule, PING_AFTER_IDLE_SECONDS), whether the server
        closed the connection meanwhile, in case the event loop was too busy to run the reader:
        polls of the socket, no round trip. A closing server sends an error, then the end of the
        stream."""
        if time.monotonic() - self._idle_since < PING_AFTER_IDLE_SECONDS:
            return True
        socket = select.poll()  # not select.select: a busy server's descriptors may pass 1024
        socket.register(self._socket, select.POLLIN)
        while self._connection is connection and socket.poll(0):
            self._read(connection)
        return self._connection is connection

    async def _connected(self) -> _Connection:
        """The lane's connection, opened now if it has none (one attempt at a time)."""
        if self._closed:
            raise Unavailable("The service is shutting down", retry_after_seconds=1.0)
        try:
            async with asyncio.timeout(self._timeout_seconds), self._connecting:
                if self._connection is not None:
                    return self._connection
                if time.monotonic() < self._retry_at:
                    raise psycopg.OperationalError("the last attempt to connect failed a moment ago")
                try:
                    connection = await psycopg.AsyncConnection.connect(
                        self._url, autocommit=True, application_name=self._application_name, connect_timeout=10
                    )
                except psycopg.OperationalError:
                    self._retry_at = time.monotonic() + RECONNECT_AFTER_SECONDS
                    raise
                connection.pgconn.enter_pipeline_mode()
                connection.add_notice_handler(self._heard)
                self._socket, self._closing = connection.pgconn.socket, False
                asyncio.get_running_loop().add_reader(self._socket, self._read, connection)
                self._connection, self._transformer = connection, Transformer(connection)
                self._idle_since = time.monotonic()
                return connection
        except (psycopg.OperationalError, TimeoutError) as exc:
            raise _unavailable(exc) from exc

    def _heard(self, notice: psycopg.errors.Diagnostic) -> None:
        """libpq hands on as a notice an error that comes with nothing in flight: a FATAL one is
        the server closing the connection (a restart, a terminated backend) before it does."""
        if notice.severity_nonlocalized in ("FATAL", "PANIC"):
            self._closing = True

    def _read(self, connection: _Connection) -> None:
        """The event loop's callback while the socket has data: every complete result goes to its
        caller. With nothing in flight, the data is the server closing the connection."""
        pgconn = connection.pgconn
        try:
            pgconn.consume_input()
            if self._closing and not self._in_flight:
                raise psycopg.OperationalError("the server is closing the connection")
            while self._in_flight and not pgconn.is_busy():
                result = pgconn.get_result()
                if result is None:
                    continue  # the end of one command's results; the next command's or the Sync's follow
                if result.status != _SYNC:
                    self._results.append(result)
                    continue
                results, self._results = self._results, []
                self._settle(self._in_flight.popleft(), results)
                if not self._in_flight:
                    self._idle_since = time.monotonic()
        except psycopg.OperationalError as exc:
            self._lose(connection, exc)

    def _settle(self, call: _Call, results: list[pq.abc.PGresult]) -> None:
        failed = next((r for r in results if r.status == _FATAL_ERROR), None)
        if call.prepares and results and results[0].status == _FATAL_ERROR:
            self._prepared.discard(call.statement)  # its Parse failed: the next call prepares it again
        if call.answer.done():  # the caller gave up (cancelled); the statement ran all the same
            return
        if failed is not None:
            error = psycopg.errors.error_from_result(failed)
            call.answer.set_exception(_unavailable(error) if isinstance(error, psycopg.OperationalError) else error)
            return
        try:
            call.answer.set_result(self._rows(call.statement, results[-1]) if results else [])
        except Exception as exc:  # noqa: BLE001 -- not swallowed: a row psycopg cannot load fails its caller only
            call.answer.set_exception(exc)

    def _rows(self, statement: Statement, result: pq.abc.PGresult) -> list[Any]:
        if result.status != _TUPLES_OK or self._transformer is None:
            return []
        make_row = self._row_makers.get(statement)
        if make_row is None:
            names = [(result.fname(i) or b"").decode() for i in range(result.nfields)]
            row_type: Any = collections.namedtuple("Row", names)  # type: ignore[misc]  # columns known only now
            make_row = self._row_makers[statement] = row_type._make
        self._transformer.set_pgresult(result)
        return self._transformer.load_rows(0, result.ntuples, make_row)

    def _write_later(self, connection: _Connection) -> None:
        if not self._writing:
            self._writing = True
            asyncio.get_running_loop().add_writer(self._socket, self._write, connection)

    def _write(self, connection: _Connection) -> None:
        try:
            if connection.pgconn.flush() == 0:
                asyncio.get_running_loop().remove_writer(self._socket)
                self._writing = False
        except psycopg.OperationalError as exc:
            self._lose(connection, exc)

    def _lose(self, connection: _Connection, exc: BaseException) -> None:
        """Forgets a connection that failed: its callers in flight are answered Unavailable."""
        if connection is not self._connection:
            return
        loop = asyncio.get_running_loop()
        loop.remove_reader(self._socket)
        if self._writing:
            loop.remove_writer(self._socket)
        self._connection, self._transformer, self._writing = None, None, False
        self._prepared.clear()
        self._results = []
        in_flight, self._in_flight = self._in_flight, deque()
        connection.pgconn.finish()
        if not self._closed:
            _log.warning("db.pipeline_connection_lost", extra={"error": type(exc).__name__, "calls": len(in_flight)})
        for call in in_flight:
            if not call.answer.done():
                call.answer.set_exception(_unavailable(exc))
