"""ChannelListener: notices committed by other connections arrive; a lost connection is replaced
and its followers are told to read again (the notices sent meanwhile are gone)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import psycopg

from common.db import libpq_url
from common.db.notifications import ChannelListener
from tests.support.polling import eventually


def _holds(condition: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return condition()

    return check


def _notify(url: str, channel: str, payload: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SELECT pg_notify(%s, %s)", (channel, payload))


def _terminate_listeners(url: str, channel: str) -> int:
    with psycopg.connect(url, autocommit=True) as owner:
        rows = owner.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query = %s AND pid <> pg_backend_pid()",
            (f"LISTEN {channel}",),
        ).fetchall()
    return len(rows)


def test_notices_arrive_and_a_lost_connection_is_replaced_with_a_gap_reported(database_url: str) -> None:
    url, channel = libpq_url(database_url), "rollcall_listener_test"
    notices: list[str] = []
    gaps: list[int] = []

    async def scenario() -> None:
        listener = ChannelListener(url, channel, notices.append, lambda: gaps.append(1))
        try:
            await listener.start()
            await asyncio.to_thread(_notify, url, channel, "first")
            await eventually(_holds(lambda: notices == ["first"]), within=10, what="the first notice")

            assert await asyncio.to_thread(_terminate_listeners, url, channel) == 1
            await eventually(_holds(lambda: gaps == [1]), within=10, what="the gap after reconnecting")
            await asyncio.to_thread(_notify, url, channel, "second")
            await eventually(_holds(lambda: notices == ["first", "second"]), within=10, what="a later notice")
        finally:
            await listener.aclose()

    asyncio.run(scenario())


def test_a_payload_the_follower_cannot_read_does_not_stop_the_listening(database_url: str) -> None:
    url, channel = libpq_url(database_url), "rollcall_listener_bad"
    read: list[int] = []

    async def scenario() -> None:
        listener = ChannelListener(url, channel, lambda payload: read.append(int(payload)), lambda: None)
        try:
            await listener.start()
            await asyncio.to_thread(_notify, url, channel, "not a number")
            await asyncio.to_thread(_notify, url, channel, "7")
            await eventually(_holds(lambda: read == [7]), within=10, what="the readable notice")
        finally:
            await listener.aclose()

    asyncio.run(scenario())
