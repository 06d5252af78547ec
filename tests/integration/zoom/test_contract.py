"""Contract: the Zoom client against the real emulator process over HTTP (no mocks).

One token under 200 concurrent calls and one re-fetch when it expires, 1,000 report rows across
pages, double-encoded UUIDs, Zoom's error codes without retries, and daily registrant limits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from common.zoom import (
    InMemoryRateBudget,
    SystemClock,
    ZoomClient,
    ZoomDailyLimitReached,
    ZoomMeetingOver,
    ZoomNotFound,
    ZoomNotScheduledMeeting,
    ZoomRegistrantInput,
    ZoomRegistrationDisabled,
    ZoomValidationError,
)
from tests.integration.zoom.conftest import (
    PAST,
    Emulator,
    calls,
    drain,
    load_report,
    new_meeting_id,
    run_emulator,
    seed_meeting,
    student,
    total,
)


@pytest.fixture(scope="module")
def business_emulator() -> Iterator[Emulator]:
    """Business limits (80 Light/s) keep the 200-call token test short."""
    with run_emulator("--plan", "business", "--seed", "11") as running:
        yield running


class ShiftedClock(SystemClock):
    """The system clock moved forward by `offset` seconds: lets a token age without waiting."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return super().monotonic() + self.offset


async def test_one_token_for_200_concurrent_calls_and_one_more_at_expiry(business_emulator: Emulator) -> None:
    zoom = business_emulator
    await zoom.reset()
    meeting_id = await seed_meeting(zoom, start_time=PAST)
    await load_report(zoom, meeting_id, people=2)
    clock = ShiftedClock()
    async with ZoomClient(zoom.config(plan="business"), InMemoryRateBudget(clock), clock=clock) as client:

        async def spread(n: int) -> None:
            """n concurrent calls spread over Light, Medium and Heavy, as the services make them."""
            await asyncio.gather(
                *(client.get_meeting(meeting_id) for _ in range(n * 45 // 100)),
                *(drain(client.list_registrants(meeting_id)) for _ in range(n * 33 // 100)),
                *(drain(client.participants_report(meeting_id)) for _ in range(n - n * 45 // 100 - n * 33 // 100)),
            )

        await spread(200)
        assert (await zoom.state())["token_requests"] == 1

        # Zoom side: the token expired early (an hour passes at the emulator) -> 401 code 124.
        await zoom.admin("PUT", "/_emulator/config", {"clock_offset_seconds": 3600})
        await spread(200)
        assert (await zoom.state())["token_requests"] == 2

        # Client side: 60 s or less left -> refreshed before use, once.
        clock.offset = 3600 - 30
        await spread(50)
        state = await zoom.state()
        assert state["token_requests"] == 3
        assert total(state["calls"]) == 450  # the emulator counts no call refused for its token


async def test_report_of_1000_rows_is_read_across_every_page(zoom: Emulator, client: ZoomClient) -> None:
    meeting_id = await seed_meeting(zoom, start_time=PAST)
    start = datetime.now(UTC) - timedelta(days=2)
    rows = [
        {
            "id": "",
            "user_id": str(1_000_000 + i),
            "name": f"Student{i}",
            "user_email": "",
            "join_time": (start + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "leave_time": (start + timedelta(seconds=i + 1800)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration": 1800,
            "registrant_id": f"reg{i}",
            "status": "in_meeting",
        }
        for i in range(1000)
    ]
    await zoom.admin("PUT", f"/_emulator/meetings/{meeting_id}/report", {"participants": rows})

    participants = [p async for p in client.participants_report(meeting_id)]

    assert len(participants) == 1000
    assert {p.registrant_id for p in participants} == {f"reg{i}" for i in range(1000)}
    assert all(p.duration_seconds == 1800 and p.join_time.tzinfo is not None for p in participants)
    assert calls(await zoom.state(), "Heavy") == 4  # 300 a page


async def test_instance_uuid_with_slashes_is_double_encoded(zoom: Emulator, client: ZoomClient) -> None:
    instance_uuid = "/Zx9fp2//QYeNMqx7bW2Q=="
    meeting_id = await seed_meeting(zoom, start_time=PAST, uuid=instance_uuid)
    await load_report(zoom, meeting_id, people=2)

    participants = [p async for p in client.participants_report(instance_uuid)]
    past = [p async for p in client.past_meeting_participants(instance_uuid)]
    (instance,) = await client.meeting_instances(meeting_id)

    assert len(participants) == len(past) == 2
    assert instance.uuid == instance_uuid


async def test_past_meeting_participants_carry_join_times(zoom: Emulator, client: ZoomClient) -> None:
    meeting_id = await seed_meeting(zoom, start_time=PAST)
    await load_report(zoom, meeting_id, people=2)

    participants = [p async for p in client.past_meeting_participants(meeting_id)]

    assert len(participants) == 2
    assert all(p.join_time.tzinfo is not None and p.leave_time is not None for p in participants)


async def test_zoom_error_codes_arrive_as_their_exceptions_without_retries(zoom: Emulator, client: ZoomClient) -> None:
    scheduled = await seed_meeting(zoom)
    no_registration = await seed_meeting(zoom, approval_type=2)
    recurring = await seed_meeting(zoom, type=8)
    over = await seed_meeting(zoom, start_time=PAST)
    cases: list[tuple[type[Exception], Callable[[], Any], str]] = [
        (ZoomNotFound, lambda: client.get_meeting(new_meeting_id()), "Light"),
        (ZoomRegistrationDisabled, lambda: client.add_registrant(no_registration, student(1)), "Light"),
        (ZoomNotScheduledMeeting, lambda: client.batch_registrants(recurring, [student(2)]), "Heavy"),
        (ZoomMeetingOver, lambda: client.batch_registrants(over, [student(3)]), "Heavy"),
        (
            ZoomValidationError,
            lambda: client.add_registrant(scheduled, ZoomRegistrantInput(email="not-an-email", first_name="A")),
            "Light",
        ),
    ]
    for expected, call, category in cases:
        before = calls(await zoom.state(), category)
        with pytest.raises(expected):
            await call()
        assert calls(await zoom.state(), category) == before + 1, expected.__name__  # never retried


async def test_fourth_daily_add_is_refused_by_zoom_and_then_locally(zoom: Emulator) -> None:
    meeting_id = await seed_meeting(zoom)
    async with ZoomClient(zoom.config(), InMemoryRateBudget()) as first:
        for _ in range(3):
            await first.add_registrant(meeting_id, student("daily"))
    # A second replica that did not see those adds (separate in-memory budget) asks Zoom.
    async with ZoomClient(zoom.config(), InMemoryRateBudget()) as second:
        with pytest.raises(ZoomDailyLimitReached) as caught:
            await second.add_registrant(meeting_id, student("daily"))
        assert caught.value.http_status == 429
        assert caught.value.scope == "registrant"
        assert caught.value.resume_at > datetime.now(UTC)
        assert "student" not in str(caught.value)
        with pytest.raises(ZoomDailyLimitReached) as again:
            await second.add_registrant(meeting_id, student("daily"))
        assert again.value.http_status is None  # remembered: not sent again
