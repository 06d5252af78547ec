"""Contract under stress: Zoom's 429s with and without headers, 20 % injected faults, and two
replicas sharing one PostgreSQL rate budget at Pro limits, all against the real emulator."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from common.zoom import InMemoryRateBudget, PostgresRateBudget, ZoomClient
from tests.integration.zoom.conftest import (
    PAST,
    Emulator,
    calls,
    drain,
    load_report,
    seed_meeting,
    student,
    total,
)


@pytest.mark.parametrize("omit_headers", [False, True])
async def test_rate_limit_answers_with_or_without_headers_are_absorbed(zoom: Emulator, omit_headers: bool) -> None:
    await zoom.reset(faults={"rate_limit": 0.3}, omit_rate_limit_headers=omit_headers)
    meeting_id = await seed_meeting(zoom)
    async with ZoomClient(zoom.config(), InMemoryRateBudget()) as client:
        meetings = await asyncio.gather(*(client.get_meeting(meeting_id) for _ in range(20)))

    assert {m.id for m in meetings} == {meeting_id}
    assert (await zoom.state())["rate_limited"]["QPS"] > 0  # they happened, and none escaped


async def test_twenty_percent_faults_never_escape_before_the_deadline(zoom: Emulator) -> None:
    faults = {"server_error": 0.05, "rate_limit": 0.05, "reset": 0.05, "lost_response": 0.05}
    await zoom.reset(faults=faults)
    meeting_id = await seed_meeting(zoom)
    async with ZoomClient(zoom.config(deadline_seconds=15), InMemoryRateBudget()) as client:
        registrants = await asyncio.gather(*(client.add_registrant(meeting_id, student(i)) for i in range(60)))
        meetings = await asyncio.gather(*(client.get_meeting(meeting_id) for _ in range(30)))
        listed = [r async for r in client.list_registrants(meeting_id)]

    assert len({r.registrant_id for r in registrants}) == 60
    assert len(meetings) == 30
    assert len(listed) == 60  # lost answers retried: the same e-mail got the same registrant
    assert set((await zoom.state())["faults"]) == set(faults)  # every kind was injected


async def test_two_replicas_sharing_a_postgres_budget_stay_under_pro_limits(
    zoom: Emulator, engine_factory: Callable[[], AsyncEngine]
) -> None:
    meeting_id = await seed_meeting(zoom, start_time=PAST)
    await load_report(zoom, meeting_id, people=2)

    async def replica() -> None:
        config = zoom.config(reserved_share=0.0)
        budget = PostgresRateBudget(engine_factory())
        async with ZoomClient(config, budget) as client:
            await asyncio.gather(
                *(client.get_meeting(meeting_id) for _ in range(60)),
                *(drain(client.list_registrants(meeting_id)) for _ in range(30)),
                *(drain(client.participants_report(meeting_id)) for _ in range(12)),
            )

    await asyncio.gather(replica(), replica())

    state = await zoom.state()
    assert (calls(state, "Light"), calls(state, "Medium"), calls(state, "Heavy")) == (120, 60, 24)
    assert total(state["rate_limited"]) == 0
