"""The participants reads' connection pool on a real PostgreSQL: a connection that died while
idle is replaced before anyone uses it; one lost mid-statement answers UNAVAILABLE, once."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest

from common.db import libpq_url
from common.db import statement_pool as module
from common.db.engine import app_url
from common.db.statement_pool import StatementPool
from common.errors import Unavailable
from tests.support.polling import eventually


def _terminate(database_url: str, application_name: str) -> int:
    with psycopg.connect(libpq_url(database_url), autocommit=True) as owner:
        rows = owner.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (application_name,),
        ).fetchall()
    return len(rows)


async def _one(pool: StatementPool) -> int:
    async with pool.connection() as connection:
        cursor = await connection.execute("SELECT 1")
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def test_connections_that_died_while_idle_are_replaced_before_use(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(module, "PING_AFTER_IDLE_SECONDS", 0.0)  # every checkout counts as after idling
    name = f"pool-{uuid.uuid4().hex[:8]}"
    async with StatementPool(app_url(database_url), size=2, application_name=name) as pool:
        assert list(await asyncio.gather(_one(pool), _one(pool))) == [1, 1]
        assert _terminate(database_url, name) == 2
        assert list(await asyncio.gather(_one(pool), _one(pool), _one(pool))) == [1, 1, 1]


async def test_a_connection_lost_mid_statement_answers_unavailable_and_the_next_call_works(database_url: str) -> None:
    name = f"pool-{uuid.uuid4().hex[:8]}"
    async with StatementPool(app_url(database_url), size=1, application_name=name) as pool:
        assert await _one(pool) == 1

        async def slow() -> None:
            async with pool.connection() as connection:
                await connection.execute("SELECT pg_sleep(30)")

        async def sleeping_on_the_server() -> bool:
            with psycopg.connect(libpq_url(database_url), autocommit=True) as owner:
                active = owner.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND state = 'active'", (name,)
                ).fetchone()
            return bool(active and active[0])

        running = asyncio.create_task(slow())
        await eventually(sleeping_on_the_server, within=10, what="the statement running on the server")
        assert _terminate(database_url, name) == 1
        with pytest.raises(Unavailable):
            await running
        assert await _one(pool) == 1
