"""Server-to-Server OAuth: one shared token, refreshed at 60 s left, re-fetched once on 401/124."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from common.zoom import InMemoryRateBudget, ZoomClient, ZoomConfigurationError
from tests.unit.zoom.conftest import FakeClock, FakeZoom, MockWire, json_response, make_config, meeting_body


async def test_two_hundred_concurrent_calls_share_one_token_request(zoom: FakeZoom, client: ZoomClient) -> None:
    zoom.token_delay = 0.01  # the fetch is still in flight while the other 199 ask

    meetings = await asyncio.gather(*(client.get_meeting(85746065432) for _ in range(200)))

    assert len(meetings) == 200
    assert zoom.token_requests == 1
    assert {r.headers["Authorization"] for r in zoom.api_requests} == {"Bearer token-1"}


async def test_token_request_is_basic_auth_with_account_credentials_form(clock: FakeClock) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            seen.append(request)
            return json_response(200, {"access_token": "t", "token_type": "bearer", "expires_in": 3600})
        return json_response(200, meeting_body())

    config = make_config()
    async with ZoomClient(config, InMemoryRateBudget(clock), transport=MockWire(handler), clock=clock) as c:
        await c.get_meeting(1)

    (token_request,) = seen
    assert token_request.method == "POST"
    assert token_request.url == "https://oauth.test/oauth/token"
    assert token_request.headers["Authorization"] == "Basic Q0lEOlNFQ1JFVA=="  # base64("CID:SECRET")
    assert token_request.content == b"grant_type=account_credentials&account_id=ACC"


async def test_token_is_refreshed_when_sixty_seconds_remain(
    zoom: FakeZoom, clock: FakeClock, client: ZoomClient
) -> None:
    await client.get_meeting(1)
    clock.advance(3600 - 60 - 1)
    await client.get_meeting(1)
    assert zoom.token_requests == 1

    clock.advance(1)
    await client.get_meeting(1)

    assert zoom.token_requests == 2
    assert zoom.api_requests[-1].headers["Authorization"] == "Bearer token-2"


async def test_short_lived_token_is_refreshed_at_half_its_life(
    zoom: FakeZoom, clock: FakeClock, client: ZoomClient
) -> None:
    zoom.expires_in = 20  # the emulator's --token-ttl-seconds: a 60 s margin would refresh on every use
    await client.get_meeting(1)
    clock.advance(9)
    await client.get_meeting(1)
    assert zoom.token_requests == 1
    clock.advance(1)
    await client.get_meeting(1)
    assert zoom.token_requests == 2


async def test_invalid_token_code_124_fetches_one_new_token_and_resends(zoom: FakeZoom, client: ZoomClient) -> None:
    def api(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == "Bearer token-1":
            return json_response(401, {"code": 124, "message": "Invalid access token."})
        return json_response(200, meeting_body())

    zoom.api = api
    zoom.token_delay = 0.01

    meetings = await asyncio.gather(*(client.get_meeting(1) for _ in range(50)))

    assert len(meetings) == 50
    assert zoom.token_requests == 2  # one at start, one after the revocation: no stampede


async def test_token_refused_twice_is_a_configuration_error(zoom: FakeZoom, client: ZoomClient) -> None:
    zoom.api = lambda request: json_response(401, {"code": 124, "message": "Invalid access token."})

    with pytest.raises(ZoomConfigurationError) as caught:
        await client.get_meeting(1)

    assert caught.value.code == 124
    assert zoom.token_requests == 2
    assert len(zoom.api_requests) == 2


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}),
        (401, {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}),
        (400, {"reason": "Account does not exist", "error": "invalid_request"}),
    ],
)
async def test_token_host_refusal_in_reason_error_shape_is_a_configuration_error(
    zoom: FakeZoom, client: ZoomClient, status: int, body: dict[str, str]
) -> None:
    zoom.token_answer = json_response(status, body)

    with pytest.raises(ZoomConfigurationError) as caught:
        await client.get_meeting(1)

    assert body["reason"] in str(caught.value)
    assert body["error"] in str(caught.value)
    assert caught.value.http_status == status
    assert zoom.token_requests == 1  # a configuration problem is not retried
    assert zoom.api_requests == []


async def test_token_host_outage_is_retried_within_the_deadline(zoom: FakeZoom, client: ZoomClient) -> None:
    zoom.token_failures = [json_response(503, {}), json_response(502, {})]

    meeting = await client.get_meeting(1)

    assert meeting.id == 85746065432
    assert zoom.token_requests == 3
