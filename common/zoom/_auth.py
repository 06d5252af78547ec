"""Server-to-Server OAuth: one access token shared by every concurrent call of a client.

Zoom issues a new token per request to the token host (several stay valid at once) and gives no
refresh token. A single fetch is in flight at a time: callers that need a token while one is
being fetched await the same task, so 200 concurrent calls cost one token request.
"""

from __future__ import annotations

import asyncio
import logging
from base64 import b64encode
from dataclasses import dataclass

from common.zoom._clock import Clock
from common.zoom._wire import BadUrl, HttpResponse, HttpTransport, WireError, http_request
from common.zoom.config import ZoomClientConfig
from common.zoom.errors import (
    ZoomConfigurationError,
    ZoomProtocolError,
    ZoomRateLimited,
    ZoomUnavailable,
)

__all__ = ["TokenSource"]

_log = logging.getLogger("rollcall.zoom")

# Zoom's own client refreshes when 60 s or less remain of a 3,600 s token. Short-lived tokens
# (the emulator's) refresh at half their life instead, so a token is never refreshed on every use.
_REFRESH_MARGIN_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    refresh_at: float  # on the client's monotonic clock


class TokenSource:
    """Hands out the current access token, fetching a new one when ≤ 60 s of it remain."""

    def __init__(self, config: ZoomClientConfig, http: HttpTransport, clock: Clock) -> None:
        self._config = config
        self._http = http
        self._clock = clock
        self._token: _Token | None = None
        self._fetch: asyncio.Task[_Token] | None = None

    async def get(self, deadline: float) -> str:
        """The current token, waiting for the one shared fetch at most until `deadline`."""
        token = self._token
        if token is not None and self._clock.monotonic() < token.refresh_at:
            return token.value
        if self._fetch is None or self._fetch.done():
            self._fetch = asyncio.create_task(self._fetch_token())
            self._fetch.add_done_callback(_note_unawaited_failure)
        remaining = deadline - self._clock.monotonic()
        try:
            # shield: one caller giving up must not cancel the fetch the others wait for.
            async with asyncio.timeout(max(remaining, 0.0)):
                token = await asyncio.shield(self._fetch)
        except TimeoutError as exc:
            raise ZoomUnavailable("deadline passed while waiting for a Zoom access token") from exc
        return token.value

    def invalidate(self, value: str) -> None:
        """Forgets `value` after Zoom rejected it (401, code 124), unless already replaced."""
        if self._token is not None and self._token.value == value:
            self._token = None

    async def _fetch_token(self) -> _Token:
        started = self._clock.monotonic()
        url = f"{self._config.oauth_url.rstrip('/')}/oauth/token"
        form = {"grant_type": "account_credentials", "account_id": self._config.account_id}
        credentials = b64encode(f"{self._config.client_id}:{self._config.client_secret}".encode()).decode()
        request = http_request(
            "POST",
            url,
            headers={"Authorization": f"Basic {credentials}"},
            form=form,
            timeout_seconds=self._config.request_timeout_seconds,
        )
        try:
            async with asyncio.timeout(self._config.request_timeout_seconds):
                response = await self._http.send(request)
        except BadUrl as exc:
            raise ZoomConfigurationError(f"Zoom token URL unusable: {exc}") from exc
        except (WireError, TimeoutError) as exc:
            kind = exc.kind if isinstance(exc, WireError) else type(exc).__name__
            raise ZoomUnavailable(f"Zoom token host unreachable: {kind}") from exc
        latency_ms = round((self._clock.monotonic() - started) * 1000)
        _log.info(
            "zoom.token",
            extra={"event": "zoom.token", "status": response.status, "latency_ms": latency_ms},
        )
        token = self._parse(response, started)
        self._token = token
        return token

    def _parse(self, response: HttpResponse, started: float) -> _Token:
        status = response.status
        if status >= 500:
            raise ZoomUnavailable("Zoom token host failed", http_status=status)
        if status == 429:
            raise ZoomRateLimited("Zoom token host rate-limited the client", http_status=status)
        try:
            body = response.json()
        except ValueError as exc:
            raise ZoomProtocolError("Zoom token answer is not JSON", http_status=status) from exc
        if status != 200:
            # The token host answers {reason, error}, not the API's {code, message}.
            reason = body.get("reason") if isinstance(body, dict) else None
            error = body.get("error") if isinstance(body, dict) else None
            raise ZoomConfigurationError(
                f"Zoom refused the app credentials: {reason or 'no reason given'} ({error or 'unknown'})",
                http_status=status,
            )
        if not isinstance(body, dict):
            raise ZoomProtocolError("Zoom token answer is not an object", http_status=status)
        value = body.get("access_token")
        expires_in = body.get("expires_in")
        if not isinstance(value, str) or not value:
            raise ZoomProtocolError("Zoom token answer lacks access_token", http_status=status)
        if isinstance(expires_in, bool) or not isinstance(expires_in, int | float) or expires_in <= 0:
            raise ZoomProtocolError("Zoom token answer lacks a positive expires_in", http_status=status)
        margin = min(_REFRESH_MARGIN_SECONDS, expires_in / 2)
        # Counted from the request's start: the token may have been issued at any moment after.
        return _Token(value=value, refresh_at=started + expires_in - margin)


def _note_unawaited_failure(task: asyncio.Task[_Token]) -> None:
    """Logs every failed fetch (also the ones no caller awaits any more); the next call retries."""
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        _log.warning("zoom.token_failed", extra={"event": "zoom.token_failed", "error": type(exc).__name__})
