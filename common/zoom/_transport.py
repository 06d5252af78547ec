"""One Zoom API call end to end: token, pacing, daily budgets, HTTP, retries, error mapping, logs.

An operation has one deadline. Within it, transport errors, 5xx and per-second 429s are retried
with full-jitter exponential backoff (tenacity), each attempt paced by the shared `RateBudget`.
Never retried: other 4xx, daily-limit 429s, and any failure of a non-idempotent call that may
have reached Zoom (a lost answer to "create meeting" must not create a second meeting).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import date

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_random_exponential

from common.metrics import ZOOM_BUDGET_WAIT, ZOOM_RATE_LIMITED, ZOOM_REQUESTS
from common.zoom._auth import TokenSource
from common.zoom._clock import Clock
from common.zoom._daily import DailySpending, Settlement
from common.zoom._http import (
    ErrorBody,
    error_body,
    header_category,
    is_daily_limit,
    map_error,
    parse_retry_after,
    qps_wait_seconds,
)
from common.zoom._ratelimit import (
    DailyCounter,
    RateBudget,
    RateCategory,
    burst_size,
    daily_limit_resume_at,
    heavy_daily_limit,
    send_interval_seconds,
)
from common.zoom._wire import BadUrl, HttpResponse, HttpTransport, WireError, http_request
from common.zoom.config import ZoomClientConfig
from common.zoom.errors import (
    DailyLimitScope,
    ZoomConfigurationError,
    ZoomDailyLimitReached,
    ZoomError,
    ZoomProtocolError,
    ZoomRateLimited,
    ZoomUnavailable,
)
from common.zoom.models import MeetingId

__all__ = ["ApiRequest", "Transport"]

# Categories whose requests leave in bursts (see `burst_size`). A burst short of callers leaves
# its other slots unused, so only Light bursts: a job's single adds wait 30 at a time, while Heavy
# batch calls come one per worker and Medium report pages one after another.
_BURSTING = frozenset({RateCategory.LIGHT})

_log = logging.getLogger("rollcall.zoom")

# Full jitter (AWS "exponential backoff and jitter"): a random wait in [0, 0.1 * 2**n], at most 2 s.
_backoff = wait_random_exponential(multiplier=0.1, max=2.0)
# Part of the remaining time kept for the exchange itself, so pacing never grants a slot
# whose request could only time out (and, for adds, burn a registrant's daily allowance).
_MIN_EXCHANGE_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """One Zoom API call as the client's operations describe it.

    `path` is already encoded; `template` (e.g. "/meetings/{id}/registrants") is what logs show.
    `daily` are the per-subject allowances each attempt spends (registrants, host); the
    account's Heavy quota is added by the transport. `daily_scope` says what a daily 429 means.
    """

    method: str
    path: str
    template: str
    category: RateCategory
    meeting_id: MeetingId | None = None
    params: Mapping[str, str | int] | None = None
    json: object = None
    idempotent: bool = True
    daily: tuple[DailyCounter, ...] = ()
    daily_scope: DailyLimitScope = "account-heavy"


class _PacingBeyondDeadline(ZoomRateLimited):
    """The next free slot lies past the caller's deadline: nothing was sent, retrying cannot help."""


class Transport:
    """Sends `ApiRequest`s for one Zoom account within the shared rate budget."""

    def __init__(
        self,
        config: ZoomClientConfig,
        budget: RateBudget,
        http: HttpTransport,
        clock: Clock,
    ) -> None:
        self._config = config
        self._budget = budget
        self._http = http
        self._clock = clock
        self._tokens = TokenSource(config, http, clock)
        self._base = config.api_base_url.rstrip("/")
        self._heavy = DailyCounter("account-heavy", "", heavy_daily_limit(config.plan, config.reserved_share))
        self._intervals = {c: send_interval_seconds(config.plan, c, config.reserved_share) for c in RateCategory}
        self._bursts = {
            c: burst_size(config.plan, c, config.reserved_share) if c in _BURSTING else 1 for c in RateCategory
        }
        self._maybe_day: date | None = None
        self._maybe: set[DailyCounter] = set()

    def _maybe_today(self) -> set[DailyCounter]:
        """Daily uses whose attempts ended unknown (5xx, dropped, lost answer) today, in this client."""
        today = self._clock.utcnow().date()
        if self._maybe_day != today:
            self._maybe_day, self._maybe = today, set()
        return self._maybe

    def doubt(self, counter: DailyCounter) -> None:
        """Treats today's spent uses of `counter` as of unknown outcome (see `ZoomClient.doubt_registrant_adds`)."""
        self._maybe_today().add(counter)

    async def send(self, request: ApiRequest, timeout_seconds: float | None) -> object:
        """The parsed JSON answer (None for 204), or the mapped `ZoomError`."""
        deadline = self._clock.monotonic() + (timeout_seconds or self._config.deadline_seconds)

        def should_retry(exc: BaseException) -> bool:
            if isinstance(exc, _PacingBeyondDeadline):
                return False
            if isinstance(exc, ZoomRateLimited):
                return True  # Zoom refused it: nothing was done
            if isinstance(exc, ZoomUnavailable):
                return request.idempotent or not exc.may_have_been_applied
            return False

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome is not None else None
            hint = exc.retry_after_seconds if isinstance(exc, ZoomRateLimited) else None
            return max(_backoff(state), hint or 0.0)

        def past_deadline(state: RetryCallState) -> bool:
            return self._clock.monotonic() + state.upcoming_sleep >= deadline

        retrying = AsyncRetrying(
            retry=retry_if_exception(should_retry),
            wait=wait,
            stop=past_deadline,
            sleep=self._clock.sleep,
            reraise=True,
        )
        spending = DailySpending(self._budget, self._config.account_id, self._clock, self._maybe_today())
        async for attempt in retrying:
            with attempt:
                return await self._attempt(request, deadline, attempt.retry_state.attempt_number, spending)
        raise AssertionError("tenacity ends with a result or the last error")  # pragma: no cover

    async def _attempt(self, request: ApiRequest, deadline: float, attempt: int, spending: DailySpending) -> object:
        daily = request.daily
        if request.category in (RateCategory.HEAVY, RateCategory.RESOURCE_INTENSIVE):
            daily = (*daily, self._heavy)  # last, so indexes of per-subject counters stay put
        token = await self._tokens.get(deadline)
        # Spent before sending (a retried add may count at Zoom too), and before pacing: the
        # concurrent adds of a job's group then spend in one statement, not one each at its slot.
        spent = await spending.spend(daily)
        try:
            await self._pace(request, deadline)
        except (ZoomError, asyncio.CancelledError):
            await asyncio.shield(spending.settle(spent, "not_counted"))  # nothing was sent
            raise
        try:
            answer = await self._send_authorised(request, token, deadline, attempt)
        except ZoomError as exc:
            await spending.settle(spent, _settlement(exc))
            raise
        await spending.settle(spent, "counted")
        return answer

    async def _send_authorised(self, request: ApiRequest, token: str, deadline: float, attempt: int) -> object:
        """Sends; on 401 code 124 (token revoked or expired early) fetches one new token and
        resends once. Concurrent callers share that fetch: `invalidate` ignores stale tokens."""
        response, body = await self._exchange_logged(request, token, deadline, attempt)
        if response.status == 401 and body is not None and body.code == 124:
            self._tokens.invalidate(token)
            token = await self._tokens.get(deadline)
            await self._pace(request, deadline)
            response, body = await self._exchange_logged(request, token, deadline, attempt)
        return await self._outcome(request, response, body)

    async def _exchange_logged(
        self, request: ApiRequest, token: str, deadline: float, attempt: int
    ) -> tuple[HttpResponse, ErrorBody | None]:
        response, latency_ms = await self._exchange(request, token, deadline, attempt)
        body = error_body(response) if response.status >= 400 else None
        self._log(request, attempt, latency_ms, response.status, body)
        return response, body

    async def _pace(self, request: ApiRequest, deadline: float) -> None:
        remaining = deadline - self._clock.monotonic()
        patience = remaining - min(_MIN_EXCHANGE_SECONDS, remaining / 2)
        slot = await self._budget.reserve(
            self._config.account_id,
            request.category,
            self._intervals[request.category],
            patience,
            self._bursts[request.category],
        )
        if not slot.granted:
            raise _PacingBeyondDeadline(
                f"no {request.category.value} slot before the deadline",
                retry_after_seconds=slot.wait_seconds,
                category=request.category.value,
            )
        ZOOM_BUDGET_WAIT.labels(request.category.value).observe(slot.wait_seconds)
        if slot.wait_seconds > 0:
            await self._clock.sleep(slot.wait_seconds)

    async def _exchange(
        self, request: ApiRequest, token: str, deadline: float, attempt: int
    ) -> tuple[HttpResponse, int]:
        """The answer and its latency in ms; transport failures become `ZoomUnavailable`."""
        timeout = min(self._config.request_timeout_seconds, max(deadline - self._clock.monotonic(), 0.001))
        started = self._clock.monotonic()
        outgoing = http_request(
            request.method,
            self._base + request.path,
            headers={"Authorization": f"Bearer {token}"},
            params=request.params,
            json_body=request.json,
            timeout_seconds=timeout,
        )
        try:
            async with asyncio.timeout(timeout):  # the transport times each phase; this bounds the whole
                response = await self._http.send(outgoing)
        except BadUrl as exc:
            raise ZoomConfigurationError(f"Zoom API URL unusable: {exc}") from exc
        except (WireError, TimeoutError) as exc:
            kind = exc.kind if isinstance(exc, WireError) else type(exc).__name__
            self._log(request, attempt, self._ms_since(started), None, None, error=kind)
            raise ZoomUnavailable(
                f"Zoom unreachable: {kind}", may_have_been_applied=not isinstance(exc, WireError) or exc.sent
            ) from exc
        return response, self._ms_since(started)

    def _ms_since(self, started: float) -> int:
        return round((self._clock.monotonic() - started) * 1000)

    async def _outcome(self, request: ApiRequest, response: HttpResponse, error: ErrorBody | None) -> object:
        status = response.status
        if error is None:
            await self._observe(request, response)
            if status == 204 or not response.body:
                return None
            try:
                return response.json()
            except ValueError as exc:
                raise ZoomProtocolError("Zoom answer is not JSON", http_status=status) from exc
        if status == 429:
            raise await self._rate_limited(request, response, error.message, error.code)
        if status >= 500:
            raise ZoomUnavailable(error.message, http_status=status, code=error.code, may_have_been_applied=True)
        raise map_error(status, error)

    async def _rate_limited(
        self, request: ApiRequest, response: HttpResponse, message: str, code: int | None
    ) -> ZoomError:
        """Maps a 429 and tells the shared budget, so every replica slows down or stops."""
        now = self._clock.utcnow()
        category = header_category(response.headers) or request.category
        daily = is_daily_limit(response.headers, message)
        ZOOM_RATE_LIMITED.labels(category.value, "Daily-limit" if daily else "QPS").inc()
        if not daily:
            wait = qps_wait_seconds(response.headers, now)
            await self._tell_budget(self._budget.hold_off(self._config.account_id, category, wait))
            return ZoomRateLimited(
                message, retry_after_seconds=wait, category=category.value, http_status=429, code=code
            )
        heavy = request.category in (RateCategory.HEAVY, RateCategory.RESOURCE_INTENSIVE)
        scope: DailyLimitScope
        if "registrant" in message.lower():
            scope = "registrant"  # Zoom names the registrant's limit (adds, status updates)
        elif heavy:
            scope = "account-heavy"
        else:
            scope = request.daily_scope
        counters = (*request.daily, self._heavy) if heavy else request.daily
        candidates = [c for c in counters if c.scope == scope]
        if len(candidates) == 1:  # only mark a counter we can name for sure
            counter = candidates[0]
            await self._tell_budget(self._budget.exhaust_daily(self._config.account_id, counter, now.date()))
        resume_at = parse_retry_after(response.headers.get("Retry-After"), now) or daily_limit_resume_at(now.date())
        _log.warning(
            "zoom.daily_limit",
            extra={"event": "zoom.daily_limit", "scope": scope, "resume_at": resume_at.isoformat(), "local": False},
        )
        return ZoomDailyLimitReached(message, resume_at=resume_at, scope=scope, http_status=429, code=code)

    async def _observe(self, request: ApiRequest, response: HttpResponse) -> None:
        """Honours X-RateLimit-* on a success: other apps of the account spend the same budget."""
        headers = response.headers
        try:
            remaining = int(headers.get("X-RateLimit-Remaining", ""))
        except ValueError:
            return  # headers are optional at Zoom; pacing does not depend on them
        kind = headers.get("X-RateLimit-Type", "").lower()
        category = header_category(headers) or request.category
        if kind == "qps" and remaining <= 0:
            wait = qps_wait_seconds(headers, self._clock.utcnow())
            await self._tell_budget(self._budget.hold_off(self._config.account_id, category, wait))
        elif kind.startswith("daily") and category in (RateCategory.HEAVY, RateCategory.RESOURCE_INTENSIVE):
            try:
                zoom_limit = int(headers.get("X-RateLimit-Limit", ""))
            except ValueError:
                return
            used = max(zoom_limit - remaining, 0)
            day = self._clock.utcnow().date()
            await self._tell_budget(self._budget.record_daily_used(self._config.account_id, self._heavy, day, used))

    async def _tell_budget(self, update: Awaitable[None]) -> None:
        """Runs a budget update that must not turn Zoom's answer into another error."""
        try:
            await update
        except ZoomUnavailable:
            _log.warning("zoom.budget_update_failed", extra={"event": "zoom.budget_update_failed"}, exc_info=True)

    def _log(
        self,
        request: ApiRequest,
        attempt: int,
        latency_ms: int,
        status: int | None,
        body: ErrorBody | None,
        *,
        error: str | None = None,
    ) -> None:
        """One `zoom.request` event per attempt: ids and numbers only, never e-mails, names,
        tokens or join URLs (the path is the template, not the URL)."""
        if status is None or status == 429 or status >= 500:
            level = logging.WARNING
        elif status >= 400:
            level = logging.INFO
        else:
            level = logging.DEBUG
        ZOOM_REQUESTS.labels(request.category.value, _outcome_label(status)).inc()
        _log.log(
            level,
            "zoom.request",
            extra={
                "event": "zoom.request",
                "method": request.method,
                "path": request.template,
                "meeting_id": request.meeting_id,
                "status": status,
                "code": body.code if body is not None else None,
                "category": request.category.value,
                "latency_ms": latency_ms,
                "attempt": attempt,
                "error": error,
            },
        )


def _outcome_label(status: int | None) -> str:
    """A metrics label with few values: the class of Zoom's answer, or no answer at all."""
    if status is None:
        return "transport_error"
    if status == 429:
        return "rate_limited"
    return {2: "ok", 3: "ok", 4: "client_error"}.get(status // 100, "server_error")


def _settlement(exc: ZoomError) -> Settlement:
    """What Zoom can have counted of an attempt that failed with `exc` (see `_daily`)."""
    if isinstance(exc, ZoomRateLimited) or (exc.http_status == 401):
        return "not_counted"  # refused before the operation ran
    if isinstance(exc, ZoomUnavailable):
        return "unknown" if exc.may_have_been_applied else "not_counted"
    return "counted"
