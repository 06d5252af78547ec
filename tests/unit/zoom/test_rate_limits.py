"""Zoom's rate limits: per-category pacing, 429s with and without headers, daily budgets."""

from __future__ import annotations

import asyncio
import bisect
import itertools
import math
from collections import Counter
from datetime import UTC, datetime

import httpx
import pytest

from common.zoom import (
    DailyCounter,
    InMemoryRateBudget,
    RateCategory,
    RegistrantRef,
    ZoomClient,
    ZoomDailyLimitReached,
    ZoomRateLimited,
    ZoomRegistrantInput,
    ZoomUnavailable,
)
from common.zoom._http import parse_retry_after, qps_wait_seconds
from common.zoom._ratelimit import ARRIVAL_DRIFT_SECONDS, burst_size, heavy_daily_limit, send_interval_seconds
from tests.unit.zoom.conftest import FakeClock, FakeZoom, MockWire, json_response, make_config, meeting_body

STUDENT = ZoomRegistrantInput(email="Ana.Reyes@school.example", first_name="Ana")
QPS_429 = {"code": 429, "message": "You have reached the maximum per-second rate limit for this API. Try again later."}
DAILY_429 = {
    "code": 429,
    "message": "You have reached the maximum daily rate limit for this API. Refer to the response header for details "
    "on when you can make another request.",
}


@pytest.mark.parametrize(
    ("plan", "category", "reserved", "rate"),
    [
        ("pro", RateCategory.LIGHT, 0.1, 27.0),
        ("pro", RateCategory.MEDIUM, 0.1, 18.0),
        ("pro", RateCategory.HEAVY, 0.1, 9.0),
        ("business", RateCategory.LIGHT, 0.1, 72.0),
        ("business", RateCategory.MEDIUM, 0.1, 54.0),
        ("business", RateCategory.HEAVY, 0.1, 36.0),
        # With nothing reserved, the 5 % drift allowance still keeps arrivals under the limit.
        ("pro", RateCategory.LIGHT, 0.0, 30 / 1.05),
        ("business", RateCategory.HEAVY, 0.0, 40 / 1.05),
    ],
)
def test_send_interval_follows_the_plan_minus_the_reserved_share(
    plan: str, category: RateCategory, reserved: float, rate: float
) -> None:
    assert send_interval_seconds(plan, category, reserved) == pytest.approx(1 / rate)  # type: ignore[arg-type]


def test_heavy_daily_quota_keeps_the_reserved_share() -> None:
    assert heavy_daily_limit("pro", 0.1) == 27_000
    assert heavy_daily_limit("business", 0.0) == 60_000


@pytest.mark.parametrize(
    ("plan", "category", "reserved", "burst"),
    [
        ("pro", RateCategory.LIGHT, 0.0, 10),  # 28.6/s: 30 in any 1.05 s, spaced evenly or in tens
        ("pro", RateCategory.LIGHT, 0.1, 3),  # 27/s: 27 in any second of sends, spaced evenly or in threes
        ("pro", RateCategory.HEAVY, 0.1, 1),  # 9/s: any burst would put 10 + 2 into 1.05 s
        ("business", RateCategory.LIGHT, 0.1, 8),
        ("pro", RateCategory.RESOURCE_INTENSIVE, 0.0, 1),  # a per-minute limit: never a burst
    ],
)
def test_burst_size_follows_the_plan_and_the_reserved_share(
    plan: str, category: RateCategory, reserved: float, burst: int
) -> None:
    assert burst_size(plan, category, reserved) == burst  # type: ignore[arg-type]


@pytest.mark.parametrize("plan", ["pro", "business"])
@pytest.mark.parametrize("category", [RateCategory.LIGHT, RateCategory.MEDIUM, RateCategory.HEAVY])
@pytest.mark.parametrize("reserved", [0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.9])
def test_bursts_never_put_more_into_a_window_than_zoom_or_the_share_allow(
    plan: str, category: RateCategory, reserved: float
) -> None:
    """Simulated: sends in bursts from t = 0; every window starting at a send is counted."""
    interval = send_interval_seconds(plan, category, reserved)  # type: ignore[arg-type]
    burst = burst_size(plan, category, reserved)  # type: ignore[arg-type]
    sends = [(i // burst) * burst * interval for i in range(400)]
    limit = {"pro": {"Light": 30, "Medium": 20, "Heavy": 10}, "business": {"Light": 80, "Medium": 60, "Heavy": 40}}
    share = max(math.ceil(1 / interval - 1e-9), math.floor(limit[plan][category.value] * (1 - reserved) + 1e-9))

    def busiest(window: float) -> int:
        """Most sends in [start, start + window); one computed a hair before the end is at the end."""
        return max(
            bisect.bisect_left(sends, start + window - 1e-9) - bisect.bisect_left(sends, start) for start in sends[:200]
        )

    assert busiest(1 + ARRIVAL_DRIFT_SECONDS) <= limit[plan][category.value]
    assert busiest(1.0) <= share


async def test_callers_share_a_burst_until_it_leaves_and_bursts_are_spaced(clock: FakeClock) -> None:
    budget = InMemoryRateBudget(clock)
    waits = [(await budget.reserve("ACC", RateCategory.LIGHT, 0.1, 10, burst=3)).wait_seconds for _ in range(7)]
    assert waits == pytest.approx([0.0, 0.0, 0.0, 0.3, 0.3, 0.3, 0.6])

    clock.advance(0.65)  # the third burst has left with one caller: its slots are not handed out late
    assert (await budget.reserve("ACC", RateCategory.LIGHT, 0.1, 10, burst=3)).wait_seconds == pytest.approx(0.25)


async def test_hold_off_closes_the_burst_being_filled(clock: FakeClock) -> None:
    budget = InMemoryRateBudget(clock)
    await budget.reserve("ACC", RateCategory.LIGHT, 0.1, 10, burst=3)
    await budget.hold_off("ACC", RateCategory.LIGHT, 0.8)
    assert (await budget.reserve("ACC", RateCategory.LIGHT, 0.1, 10, burst=3)).wait_seconds == pytest.approx(0.8)


async def test_gcra_spaces_slots_one_interval_apart_and_forgets_idle_time(clock: FakeClock) -> None:
    budget = InMemoryRateBudget(clock)
    waits = [(await budget.reserve("ACC", RateCategory.LIGHT, 0.1, 10)).wait_seconds for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3])

    clock.advance(5)  # idle: no burst credit accumulates (tolerance 0)
    waits = [(await budget.reserve("ACC", RateCategory.LIGHT, 0.1, 10)).wait_seconds for _ in range(2)]
    assert waits == pytest.approx([0.0, 0.1])


async def test_slot_beyond_patience_is_refused_without_reserving(clock: FakeClock) -> None:
    budget = InMemoryRateBudget(clock)
    for _ in range(10):
        await budget.reserve("ACC", RateCategory.HEAVY, 0.1, 10)

    refused = await budget.reserve("ACC", RateCategory.HEAVY, 0.1, 0.5)
    granted = await budget.reserve("ACC", RateCategory.HEAVY, 0.1, 10)

    assert not refused.granted
    assert refused.wait_seconds == pytest.approx(1.0)
    assert granted.wait_seconds == pytest.approx(1.0)  # the refused one took nothing


async def test_categories_and_accounts_are_paced_separately(clock: FakeClock) -> None:
    budget = InMemoryRateBudget(clock)
    await budget.reserve("ACC", RateCategory.LIGHT, 1, 10)
    assert (await budget.reserve("ACC", RateCategory.MEDIUM, 1, 10)).wait_seconds == 0
    assert (await budget.reserve("OTHER", RateCategory.LIGHT, 1, 10)).wait_seconds == 0


async def test_hold_off_pushes_the_next_slot(clock: FakeClock) -> None:
    budget = InMemoryRateBudget(clock)
    await budget.hold_off("ACC", RateCategory.LIGHT, 0.8)
    assert (await budget.reserve("ACC", RateCategory.LIGHT, 0.1, 10)).wait_seconds == pytest.approx(0.8)


async def test_concurrent_calls_reach_zoom_at_most_at_the_paced_rate(
    zoom: FakeZoom, clock: FakeClock, client: ZoomClient
) -> None:
    await asyncio.gather(*(client.get_meeting(1) for _ in range(90)))

    interval = send_interval_seconds("pro", RateCategory.LIGHT, 0.1)
    burst = burst_size("pro", RateCategory.LIGHT, 0.1)
    assert burst == 3
    starts = [t for before, t in itertools.pairwise([-1.0, *zoom.sent_at]) if t - before > 1e-6]
    sizes = Counter(max(s for s in starts if s <= t) for t in zoom.sent_at)  # requests that left together
    assert max(sizes.values()) == burst
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= burst * interval - 1e-9
    # Sends land within microseconds of their slots (each sleeper wakes from its own "now").
    busiest = max(sum(1 for t in zoom.sent_at if start <= t < start + 1 - 1e-5) for start in zoom.sent_at)
    assert busiest <= 27  # 90 % of Pro's 30 a second, as evenly spaced requests would be
    assert zoom.sent_at[-1] - zoom.sent_at[0] >= (90 - burst) * interval - 1e-9


async def test_per_second_429_without_headers_is_retried(zoom: FakeZoom, client: ZoomClient) -> None:
    answers = [json_response(429, QPS_429)]
    zoom.api = lambda request: answers.pop() if answers else json_response(200, meeting_body())

    assert (await client.get_meeting(1)).id == 85746065432
    assert len(zoom.api_requests) == 2


async def test_per_second_429_with_headers_holds_the_category_back(
    zoom: FakeZoom, clock: FakeClock, client: ZoomClient
) -> None:
    reset = int(clock.utcnow().timestamp()) + 1
    headers = {
        "X-RateLimit-Category": "Light",
        "X-RateLimit-Type": "QPS",
        "X-RateLimit-Limit": "30",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(reset),
    }
    answers = [json_response(429, QPS_429, headers)]
    zoom.api = lambda request: answers.pop() if answers else json_response(200, meeting_body())

    await client.get_meeting(1)

    assert zoom.sent_at[1] - zoom.sent_at[0] >= 1.0  # waited for X-RateLimit-Reset


async def test_per_second_429s_past_the_deadline_raise_rate_limited(zoom: FakeZoom, client: ZoomClient) -> None:
    zoom.api = lambda request: json_response(429, QPS_429)

    with pytest.raises(ZoomRateLimited) as caught:
        await client.get_meeting(1, timeout_seconds=4)

    assert caught.value.http_status == 429
    assert caught.value.retry_after_seconds == 1.0


async def test_daily_429_with_iso_retry_after_stops_heavy_calls_until_then(zoom: FakeZoom, client: ZoomClient) -> None:
    headers = {
        "X-RateLimit-Category": "Heavy",
        "X-RateLimit-Type": "Daily-limit",
        "X-RateLimit-Limit": "30000",
        "X-RateLimit-Remaining": "0",
        "Retry-After": "2026-11-25T00:00:00Z",
    }
    zoom.api = lambda request: json_response(429, DAILY_429, headers)

    with pytest.raises(ZoomDailyLimitReached) as caught:
        await anext(client.participants_report(85746065432))
    with pytest.raises(ZoomDailyLimitReached) as again:
        await anext(client.participants_report(85746065432))

    assert caught.value.resume_at == datetime(2026, 11, 25, tzinfo=UTC)
    assert caught.value.scope == "account-heavy"
    assert again.value.http_status is None  # refused locally: Zoom was not asked again
    assert len(zoom.api_requests) == 1


async def test_daily_429_without_headers_is_recognised_by_its_message(zoom: FakeZoom, client: ZoomClient) -> None:
    message = (
        "You have exceeded the daily rate limit of (3) for Add a meeting registrant API requests for the "
        "registrant (ana.reyes@school.example). You can resume these API requests at GMT 00:00:00."
    )
    zoom.api = lambda request: json_response(429, {"code": 429, "message": message})

    with pytest.raises(ZoomDailyLimitReached) as caught:
        await client.add_registrant(1, STUDENT)

    assert caught.value.scope == "registrant"
    assert caught.value.resume_at == datetime(2026, 11, 25, tzinfo=UTC)  # next 00:00 UTC
    assert "ana.reyes" not in str(caught.value)
    assert len(zoom.api_requests) == 1
    with pytest.raises(ZoomDailyLimitReached):
        await client.add_registrant(1, STUDENT)  # marked spent: not sent again today
    assert len(zoom.api_requests) == 1


async def test_daily_429_on_a_status_update_does_not_stop_heavy_calls(zoom: FakeZoom, client: ZoomClient) -> None:
    message = "You have exceeded the daily rate limit of (10) for Update registrant's status API requests for this "
    message += "registrant. You can resume at GMT 00:00:00."
    zoom.api = lambda request: json_response(429, {"code": 429, "message": message})

    with pytest.raises(ZoomDailyLimitReached) as caught:
        await client.update_registrant_status(1, "cancel", [RegistrantRef(registrant_id="r1")])

    assert caught.value.scope == "registrant"
    zoom.api = lambda request: json_response(200, {"participants": []})
    assert [p async for p in client.participants_report(1)] == []


async def test_fourth_add_of_a_registrant_in_a_day_is_refused_before_sending(
    zoom: FakeZoom, clock: FakeClock, client: ZoomClient
) -> None:
    zoom.api = lambda request: json_response(201, _registrant())
    for _ in range(3):
        await client.add_registrant(1, STUDENT)

    with pytest.raises(ZoomDailyLimitReached) as caught:
        await client.add_registrant(1, ZoomRegistrantInput(email="ANA.REYES@school.example", first_name="Ana"))
    await client.add_registrant(2, STUDENT)  # per (meeting, e-mail) by default
    assert caught.value.scope == "registrant"
    assert caught.value.resume_at == datetime(2026, 11, 25, tzinfo=UTC)
    assert len(zoom.api_requests) == 4

    clock.advance(12 * 3600)  # past 00:00 UTC
    await client.add_registrant(1, STUDENT)
    assert len(zoom.api_requests) == 5


async def test_registrant_limit_per_email_across_meetings_when_configured(zoom: FakeZoom, clock: FakeClock) -> None:
    zoom.api = lambda request: json_response(201, _registrant())
    config = make_config(registrant_limit_scope="email")
    async with ZoomClient(config, InMemoryRateBudget(clock), transport=MockWire(zoom.handle), clock=clock) as c:
        for meeting_id in (1, 2, 3):
            await c.add_registrant(meeting_id, STUDENT)
        with pytest.raises(ZoomDailyLimitReached):
            await c.add_registrant(4, STUDENT)


async def test_a_retried_add_spends_the_registrants_allowance(zoom: FakeZoom, client: ZoomClient) -> None:
    answers = [json_response(503, None)]
    zoom.api = lambda request: answers.pop() if answers else json_response(201, _registrant())

    await client.add_registrant(1, STUDENT)  # two attempts: the lost one may have counted at Zoom
    await client.add_registrant(1, STUDENT)

    with pytest.raises(ZoomDailyLimitReached):
        await client.add_registrant(1, STUDENT)


async def test_a_per_second_429_gives_the_allowance_back(zoom: FakeZoom, client: ZoomClient) -> None:
    answers: list[httpx.Response] = []

    def api(request: httpx.Request) -> httpx.Response:
        answers.append(json_response(429, QPS_429) if len(answers) % 2 == 0 else json_response(201, _registrant()))
        return answers[-1]

    zoom.api = api
    for _ in range(3):
        await client.add_registrant(1, STUDENT)  # each: refused once per second, then accepted

    assert len(zoom.api_requests) == 6
    with pytest.raises(ZoomDailyLimitReached):
        await client.add_registrant(1, STUDENT)


async def test_unknown_outcomes_do_not_lock_a_student_out(zoom: FakeZoom, client: ZoomClient) -> None:
    answers = [json_response(503, None), json_response(502, None), json_response(500, None)]
    zoom.api = lambda request: answers.pop() if answers else json_response(201, _registrant())

    registrant = await client.add_registrant(1, STUDENT)

    # Three attempts may have counted at Zoom, or not: the fourth is Zoom's to refuse.
    assert registrant.registrant_id == "r1"
    assert len(zoom.api_requests) == 4
    with pytest.raises(ZoomDailyLimitReached):
        await client.add_registrant(1, STUDENT)


async def test_host_may_create_100_meetings_a_day(zoom: FakeZoom, client: ZoomClient) -> None:
    zoom.api = lambda request: json_response(201, meeting_body())
    start = datetime(2026, 11, 30, 1, tzinfo=UTC)
    for _ in range(100):
        await client.create_meeting("HOST1", topic="Class", start_time=start, duration_minutes=60)

    with pytest.raises(ZoomDailyLimitReached) as caught:
        await client.create_meeting("host1", topic="Class", start_time=start, duration_minutes=60)
    await client.create_meeting("HOST2", topic="Class", start_time=start, duration_minutes=60)

    assert caught.value.scope == "host-meetings"


async def test_heavy_daily_quota_is_counted_per_request(zoom: FakeZoom, clock: FakeClock) -> None:
    zoom.api = lambda request: json_response(200, {"participants": [], "next_page_token": ""})
    budget = InMemoryRateBudget(clock)
    config = make_config()
    async with ZoomClient(config, budget, transport=MockWire(zoom.handle), clock=clock) as c:
        await budget.record_daily_used("ACC", _heavy(), clock.utcnow().date(), 26_999)
        assert [p async for p in c.participants_report(1)] == []
        with pytest.raises(ZoomDailyLimitReached) as caught:
            await anext(c.participants_report(1))
    assert caught.value.scope == "account-heavy"
    assert len(zoom.api_requests) == 1


async def test_daily_limit_headers_on_success_raise_the_local_count(zoom: FakeZoom, clock: FakeClock) -> None:
    headers = {"X-RateLimit-Category": "Heavy", "X-RateLimit-Type": "Daily-limit"}
    headers |= {"X-RateLimit-Limit": "30000", "X-RateLimit-Remaining": "2999"}  # other apps spent 27,001
    zoom.api = lambda request: json_response(200, {"participants": []}, headers)
    async with ZoomClient(make_config(), InMemoryRateBudget(clock), transport=MockWire(zoom.handle), clock=clock) as c:
        assert [p async for p in c.participants_report(1)] == []
        with pytest.raises(ZoomDailyLimitReached):
            await anext(c.participants_report(1))


async def test_batch_of_more_than_30_is_refused_before_any_call(zoom: FakeZoom, client: ZoomClient) -> None:
    people = [ZoomRegistrantInput(email=f"s{i}@school.example", first_name="S") for i in range(31)]

    with pytest.raises(ValueError, match="at most 30"):
        await client.batch_registrants(1, people)

    assert zoom.api_requests == []
    assert zoom.token_requests == 0


async def test_batch_names_the_registrants_whose_allowance_is_spent(zoom: FakeZoom, client: ZoomClient) -> None:
    zoom.api = lambda request: json_response(201, _registrant())
    for _ in range(3):
        await client.add_registrant(1, STUDENT)
    zoom.api = lambda request: json_response(201, {"registrants": []})
    people = [ZoomRegistrantInput(email="new@school.example", first_name="N"), STUDENT]

    with pytest.raises(ZoomDailyLimitReached) as caught:
        await client.batch_registrants(1, people)

    assert caught.value.scope == "registrant"
    assert caught.value.exhausted_indexes == (1,)
    assert len(zoom.api_requests) == 3


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("2026-11-25T00:00:00Z", datetime(2026, 11, 25, tzinfo=UTC)),
        ("2026-11-25T08:00:00+08:00", datetime(2026, 11, 25, tzinfo=UTC)),
        ("2026-11-25T00:00:00", datetime(2026, 11, 25, tzinfo=UTC)),
        ("Wed, 25 Nov 2026 00:00:00 GMT", datetime(2026, 11, 25, tzinfo=UTC)),
        ("30", datetime(2026, 11, 24, 12, 0, 30, tzinfo=UTC)),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_read_as_iso_time_http_date_or_seconds(header: str | None, expected: datetime | None) -> None:
    assert parse_retry_after(header, datetime(2026, 11, 24, 12, tzinfo=UTC)) == expected


def test_per_second_wait_hints_are_bounded() -> None:
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    assert qps_wait_seconds(httpx.Headers(), now) == 1.0
    assert qps_wait_seconds(httpx.Headers({"X-RateLimit-Reset": str(now.timestamp() + 600)}), now) == 2.0
    assert qps_wait_seconds(httpx.Headers({"Retry-After": "0.5"}), now) == 0.5


def _registrant() -> dict[str, object]:
    return {"id": 1, "registrant_id": "r1", "join_url": "https://zoom.us/w/1?tk=t", "topic": "T"}


def _heavy() -> DailyCounter:
    return DailyCounter("account-heavy", "", 27_000)


async def test_a_later_operation_gets_the_same_benefit_of_doubt_after_unknown_outcomes(
    zoom: FakeZoom, client: ZoomClient
) -> None:
    # A job retries an item as a new operation: its earlier unknown attempts must not lock it out.
    zoom.api = lambda request: json_response(503, None)
    with pytest.raises(ZoomUnavailable):
        await client.add_registrant(1, STUDENT, timeout_seconds=5)
    sent_before = len(zoom.api_requests)
    zoom.api = lambda request: json_response(201, _registrant())

    registrant = await client.add_registrant(1, STUDENT)

    assert sent_before >= 3
    assert registrant.registrant_id == "r1"


async def test_an_add_refused_a_pacing_slot_gives_the_allowance_back(zoom: FakeZoom, client: ZoomClient) -> None:
    zoom.api = lambda request: (
        json_response(201, _registrant()) if request.method == "POST" else json_response(200, meeting_body())
    )
    booked = [asyncio.create_task(client.get_meeting(1)) for _ in range(60)]  # about 2 s of Light slots
    await asyncio.sleep(0)

    with pytest.raises(ZoomRateLimited):
        await client.add_registrant(1, STUDENT, timeout_seconds=1.0)  # spent before pacing, then refused
    await asyncio.gather(*booked)
    for _ in range(3):
        await client.add_registrant(1, STUDENT)  # the day's three adds are all still there

    assert len(zoom.api_requests) == 63
