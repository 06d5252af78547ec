"""The participants reads' statement pipeline on a real PostgreSQL: concurrent calls share a
connection yet each commits or fails on its own; a connection the server closed is replaced before
the next call; calls in flight on a lost connection, and calls while the database cannot be
reached, are answered UNAVAILABLE at once."""

from __future__ import annotations

import asyncio
import time
import uuid

import psutil
import psycopg
import pytest

from common.db import libpq_url
from common.db import statement_pipeline as module
from common.db.engine import app_url
from common.db.statement_pipeline import Statement, StatementPipeline
from common.errors import Unavailable
from tests.support.polling import eventually
from tests.support.processes import free_port

_APPEND = Statement.of(
    "test_append",
    """INSERT INTO audit_events (actor_id, actor_role, action, target_type, target_id, outcome)
    SELECT %(actor)s::uuid, 'teacher', 'test.pipeline', 'test', %(target)s, 'success'
    FROM (SELECT set_config('app.user_id', %(actor)s, true), set_config('app.role', 'teacher', true) OFFSET 0) AS id""",
)
_DIVIDE = Statement.of("test_divide", "SELECT 1 / %(by)s::int AS quotient")
_MISSPELT = Statement.of("test_misspelt", "SELEC 1")
_IDENTITY_SEEN = Statement.of("test_identity_seen", "SELECT current_setting('app.user_id', true) AS user_id")
_SLEEP = Statement.of("test_sleep", "SELECT pg_sleep(%(seconds)s::float8) IS NULL AS slept")
_VALUES = Statement.of(
    "test_values",
    "SELECT %(n)s::int + 1 AS n, %(flag)s::boolean AS flag, %(id)s::uuid AS id, %(nothing)s::text IS NULL AS nothing",
)


def _owner(database_url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(libpq_url(database_url), autocommit=True)


def _appended(database_url: str, target: str) -> int:
    with _owner(database_url) as owner:
        row = owner.execute("SELECT count(*) FROM audit_events WHERE target_id = %s", (target,)).fetchone()
    assert row is not None
    assert isinstance(row[0], int)
    return row[0]


def _backends(database_url: str, application_name: str) -> list[int]:
    with _owner(database_url) as owner:
        rows = owner.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", (application_name,))
        return [pid for (pid,) in rows.fetchall() if isinstance(pid, int)]


def _exited(pid: int) -> bool:
    """The backend process is gone (a zombie until the postmaster reaps it), its socket closed."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _terminate(database_url: str, application_name: str) -> int:
    with _owner(database_url) as owner:
        rows = owner.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (application_name,)
        ).fetchall()
    return len(rows)


async def _outcome(pipeline: StatementPipeline, statement: Statement, **parameters: object) -> object:
    try:
        return await pipeline.fetch(statement, parameters)
    except (psycopg.Error, Unavailable) as exc:
        return exc


async def test_concurrent_calls_share_a_connection_and_each_commits_or_fails_on_its_own(database_url: str) -> None:
    name, target = f"pipe-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    actor = str(uuid.uuid4())
    async with StatementPipeline(app_url(database_url), size=1, application_name=name) as pipeline:
        outcomes = await asyncio.gather(
            _outcome(pipeline, _APPEND, actor=actor, target=target),
            _outcome(pipeline, _DIVIDE, by=0),
            _outcome(pipeline, _MISSPELT),
            _outcome(pipeline, _APPEND, actor=actor, target=target),
            _outcome(pipeline, _IDENTITY_SEEN),
            _outcome(pipeline, _DIVIDE, by=2),
        )
        assert len(_backends(database_url, name)) == 1
        misspelt_again = await _outcome(pipeline, _MISSPELT)
    appended, divided_by_zero, misspelt, appended_after, identity_seen, divided = outcomes
    assert isinstance(misspelt, psycopg.errors.SyntaxError)  # its own error, not a missing prepared statement
    assert isinstance(misspelt_again, psycopg.errors.SyntaxError)
    assert appended == []
    assert appended_after == []
    assert isinstance(divided_by_zero, psycopg.errors.DivisionByZero)
    assert isinstance(identity_seen, list)
    assert identity_seen[0].user_id in (None, "")  # nothing carried over from the calls before it
    assert isinstance(divided, list)
    assert divided[0].quotient == 0
    assert _appended(database_url, target) == 2


async def test_a_statement_whose_first_run_failed_runs_again(database_url: str) -> None:
    async with StatementPipeline(app_url(database_url), size=1, application_name="pipe-again") as pipeline:
        with pytest.raises(psycopg.errors.DivisionByZero):
            await pipeline.fetch(_DIVIDE, {"by": 0})  # prepared all the same, in the same round trip
        assert (await pipeline.fetch(_DIVIDE, {"by": 1}))[0].quotient == 1


async def test_parameters_go_as_text_and_rows_come_back_typed(database_url: str) -> None:
    some_id = uuid.uuid4()
    async with StatementPipeline(app_url(database_url), size=2, application_name="pipe-values") as pipeline:
        for nothing in (None, "x"):
            rows = await pipeline.fetch(_VALUES, {"n": 41, "flag": True, "id": some_id, "nothing": nothing})
            assert [tuple(row) for row in rows] == [(42, True, some_id, nothing is None)]
        with pytest.raises(psycopg.DataError):
            await pipeline.fetch(_VALUES, {"n": 1, "flag": False, "id": some_id, "nothing": "a\x00b"})


async def test_a_caller_that_gives_up_leaves_the_calls_behind_it_answered(database_url: str) -> None:
    async with StatementPipeline(app_url(database_url), size=1, application_name="pipe-cancel") as pipeline:
        slow = asyncio.create_task(pipeline.fetch(_SLEEP, {"seconds": 0.3}))
        await asyncio.sleep(0.05)
        behind = asyncio.create_task(pipeline.fetch(_DIVIDE, {"by": 1}))
        await asyncio.sleep(0.05)
        slow.cancel()
        rows = await behind
        assert rows[0].quotient == 1
        with pytest.raises(asyncio.CancelledError):
            await slow


@pytest.mark.parametrize("noticed_by", ["the check before sending", "the reader"])
async def test_a_connection_the_server_closed_while_idle_is_replaced_before_the_next_call(
    database_url: str, noticed_by: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The check before sending runs only after the connection sat idle (the engine's rule).
    monkeypatch.setattr(module, "PING_AFTER_IDLE_SECONDS", 0.0 if noticed_by == "the check before sending" else 3600.0)
    name = f"pipe-{uuid.uuid4().hex[:8]}"
    async with StatementPipeline(app_url(database_url), size=1, application_name=name) as pipeline:
        assert (await pipeline.fetch(_DIVIDE, {"by": 1}))[0].quotient == 1
        (before,) = _backends(database_url, name)
        assert _terminate(database_url, name) == 1

        async def noticed() -> bool:
            if noticed_by == "the reader":
                return "db.pipeline_connection_lost" in caplog.messages
            return _exited(before)  # its socket closed: what it sent is on this side

        await eventually(noticed, within=10, what=f"the closed connection noticed by {noticed_by}")
        assert (await pipeline.fetch(_DIVIDE, {"by": 1}))[0].quotient == 1
        assert _backends(database_url, name) not in ([], [before])


async def test_calls_in_flight_on_a_lost_connection_answer_unavailable_and_the_next_call_works(
    database_url: str,
) -> None:
    name = f"pipe-{uuid.uuid4().hex[:8]}"
    async with StatementPipeline(app_url(database_url), size=1, application_name=name) as pipeline:
        in_flight = [
            asyncio.create_task(_outcome(pipeline, _SLEEP, seconds=30)),
            asyncio.create_task(_outcome(pipeline, _DIVIDE, by=1)),
        ]

        def sleeping() -> bool:
            with _owner(database_url) as owner:
                row = owner.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND state = 'active'", (name,)
                ).fetchone()
            return bool(row and row[0])

        async def sleeping_on_the_server() -> bool:
            return sleeping()

        await eventually(sleeping_on_the_server, within=10, what="the statement running on the server")
        assert _terminate(database_url, name) == 1
        outcomes = await asyncio.wait_for(asyncio.gather(*in_flight), timeout=10)
        assert all(isinstance(outcome, Unavailable) for outcome in outcomes)
        assert (await pipeline.fetch(_DIVIDE, {"by": 1}))[0].quotient == 1


async def test_while_the_database_cannot_be_reached_calls_are_answered_unavailable_at_once() -> None:
    nowhere = f"postgresql://rollcall_app@127.0.0.1:{free_port()}/rollcall"
    async with StatementPipeline(nowhere, size=2, application_name="pipe-nowhere") as pipeline:
        started = time.monotonic()
        outcomes = await asyncio.gather(*(_outcome(pipeline, _DIVIDE, by=1) for _ in range(20)))
        assert all(isinstance(outcome, Unavailable) for outcome in outcomes)
        assert time.monotonic() - started < 1.0
