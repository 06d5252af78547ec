"""Unit-test doubles for the Zoom client: a hand-driven clock and a scripted Zoom behind
`MockWire` (allowed in unit tests only; contract tests use the real emulator over aiohttp).

Scripts speak httpx's request and response values, which are handy to build and inspect;
`MockWire` turns them into the client's own and httpx's transport errors into `WireError`s."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from common.zoom import InMemoryRateBudget, ZoomClient, ZoomClientConfig
from common.zoom._wire import BadUrl, HttpRequest, HttpResponse, WireError

API = "https://api.test/v2"
OAUTH = "https://oauth.test"


class FakeClock:
    """Virtual time: `sleep` moves time to the sleeper's wake-up unless it is already past it,
    so sleepers that start together overlap as they would in real time."""

    def __init__(self, wall: datetime = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)) -> None:
        self.now = 1_000.0
        self._wall_origin = wall
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def utcnow(self) -> datetime:
        return self._wall_origin + timedelta(seconds=self.now - 1_000.0)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        wake = self.now + max(seconds, 0.0)
        await asyncio.sleep(0)  # others that sleep at this same moment register first
        self.now = max(self.now, wake)

    def advance(self, seconds: float) -> None:
        self.now += seconds


Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


class MockWire:
    """An `HttpTransport` that answers with `handler` instead of the network."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler

    async def send(self, request: HttpRequest) -> HttpResponse:
        outgoing = httpx.Request(request.method, request.url, headers=request.headers, content=request.body)
        try:
            answer = self._handler(outgoing)
            response = answer if isinstance(answer, httpx.Response) else await answer
        except httpx.UnsupportedProtocol as exc:
            raise BadUrl(type(exc).__name__) from exc
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise WireError(type(exc).__name__, sent=False) from exc
        except httpx.TransportError as exc:
            raise WireError(type(exc).__name__, sent=True) from exc
        return HttpResponse(response.status_code, response.headers, response.read(), response.reason_phrase)

    async def aclose(self) -> None:
        return None


def json_response(status: int, body: object = None, headers: dict[str, str] | None = None) -> httpx.Response:
    if body is None:
        return httpx.Response(status, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


def meeting_body(meeting_id: int = 85746065432, **extra: object) -> dict[str, object]:
    return {
        "id": meeting_id,
        "uuid": "aDYlohsHRtCd4ii1uC2+hA==",
        "host_id": "KDcuGIm1QgePTO8WbOqwIQ",
        "topic": "Grade 7 Science",
        "type": 2,
        "start_time": "2026-11-25T01:00:00Z",
        "duration": 60,
        "timezone": "Asia/Manila",
        "join_url": "https://zoom.us/j/85746065432?pwd=secret",
        "settings": {"approval_type": 0, "registration_type": 1, "brand_new_field": True},
        "some_unknown_field": {"nested": 1},
        **extra,
    }


@dataclass
class FakeZoom:
    """A scripted Zoom: token host plus an API handler the test sets; records every request."""

    clock: FakeClock
    api: Handler = field(default=lambda request: json_response(200, meeting_body()))
    expires_in: int = 3600
    token_requests: int = 0
    api_requests: list[httpx.Request] = field(default_factory=list)
    sent_at: list[float] = field(default_factory=list)
    token_delay: float = 0.0
    token_answer: httpx.Response | None = None
    token_failures: list[httpx.Response] = field(default_factory=list)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "oauth.test":
            self.token_requests += 1
            if self.token_delay:
                await asyncio.sleep(self.token_delay)  # real time: lets concurrent callers pile up
            if self.token_failures:
                return self.token_failures.pop(0)
            if self.token_answer is not None:
                return self.token_answer
            token = f"token-{self.token_requests}"
            return json_response(200, {"access_token": token, "token_type": "bearer", "expires_in": self.expires_in})
        self.api_requests.append(request)
        self.sent_at.append(self.clock.now)
        answer = self.api(request)
        return answer if isinstance(answer, httpx.Response) else await answer

    def body(self, index: int = -1) -> object:
        return json.loads(self.api_requests[index].content)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def zoom(clock: FakeClock) -> FakeZoom:
    return FakeZoom(clock)


def make_config(**overrides: object) -> ZoomClientConfig:
    settings: dict[str, object] = {
        "account_id": "ACC",
        "client_id": "CID",
        "client_secret": "SECRET",
        "api_base_url": API,
        "oauth_url": OAUTH,
        "plan": "pro",
        "reserved_share": 0.1,
        "request_timeout_seconds": 5.0,
        "deadline_seconds": 30.0,
    }
    settings.update(overrides)
    return ZoomClientConfig(**settings)  # type: ignore[arg-type]


@pytest.fixture
def budget(clock: FakeClock) -> InMemoryRateBudget:
    return InMemoryRateBudget(clock)


@pytest.fixture
async def client(zoom: FakeZoom, clock: FakeClock, budget: InMemoryRateBudget) -> AsyncIterator[ZoomClient]:
    async with ZoomClient(make_config(), budget, transport=MockWire(zoom.handle), clock=clock) as c:
        yield c
