"""Zoom's rate limits: 429s with and without headers, daily budgets (pacing: test_pacing.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest

from common.zoom import (
    DailyCounter,
    InMemoryRateBudget,
    RegistrantRef,
    ZoomClient,
    ZoomDailyLimitReached,
    ZoomRateLimited,
    ZoomRegistrantInput,
    ZoomUnavailable,
)
from common.zoom._http import parse_retry_after, qps_wait_seconds
from tests.unit.zoom.conftest import FakeClock, FakeZoom, MockWire, json_response, make_config, meeting_body

STUDENT = ZoomRegistrantInput(email="Ana.Reyes@school.example", first_name="Ana")
QPS_429 = {"code": 429, "message": "You have reached the maximum per-second rate limit for this API. Try again later."}
DAILY_429 = {
    "code": 429,
    "message": "You have reached the maximum daily rate limit for this API. Refer to the response header for details "
    "on when you can make another request.",
}


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
