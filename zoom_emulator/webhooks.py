"""Signed webhook delivery, the way Zoom signs and retries it.

Signature: "v0=" + hex(HMAC_SHA256(secret, "v0:{timestamp}:{raw body}")). A delivery that is not
answered 2xx within 3 s is retried after the configured delays (Zoom: 5, 20 and 60 minutes).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass, field

import httpx

__all__ = ["SentEvent", "Webhooks", "sign"]

_log = logging.getLogger("zoom_emulator.webhooks")
_TIMEOUT_SECONDS = 3.0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    message = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@dataclass(slots=True)
class SentEvent:
    event: str
    body: bytes
    attempts: int = 0
    delivered: bool = False
    last_status: int | None = None

    def as_dict(self, index: int) -> dict[str, object]:
        return {
            "index": index,
            "event": self.event,
            "attempts": self.attempts,
            "delivered": self.delivered,
            "last_status": self.last_status,
        }


@dataclass(slots=True)
class Webhooks:
    account_id: str
    url: str | None = None
    secret: str | None = None
    retry_delays: tuple[float, ...] = (300.0, 1200.0, 3600.0)
    sent: list[SentEvent] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=_TIMEOUT_SECONDS)
        return self._client

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._client is not None:
            await self._client.aclose()

    def emit(self, event: str, obj: dict[str, object], event_ts_ms: int) -> None:
        """Queues one event; nothing is sent when no webhook URL is configured."""
        if not self.url or not self.secret:
            return
        body = json.dumps(
            {"event": event, "event_ts": event_ts_ms, "payload": {"account_id": self.account_id, "object": obj}},
            separators=(",", ":"),
        ).encode()
        self.sent.append(SentEvent(event, body))
        self._spawn(len(self.sent) - 1, 0.0)

    def replay(self, index: int) -> None:
        """Sends an event again as Zoom's retries do: same body, fresh timestamp and signature."""
        self._spawn(index, 0.0)

    def _spawn(self, index: int, delay: float) -> None:
        task = asyncio.ensure_future(self._deliver(index, delay))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, body: bytes) -> int | None:
        assert self.url is not None
        assert self.secret is not None
        timestamp = str(int(time.time()))
        headers = {
            "content-type": "application/json",
            "x-zm-request-timestamp": timestamp,
            "x-zm-signature": sign(self.secret, timestamp, body),
        }
        try:
            return (await self._http().post(self.url, content=body, headers=headers)).status_code
        except httpx.HTTPError:
            return None

    async def _deliver(self, index: int, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        sent = self.sent[index]
        sent.attempts += 1
        status = await self._post(sent.body)
        sent.last_status = status
        if status is not None and 200 <= status < 300:
            sent.delivered = True
            return
        retries_done = sent.attempts - 1
        if retries_done < len(self.retry_delays):
            _log.info("webhook.retry_scheduled", extra={"event": sent.event, "attempt": sent.attempts})
            self._spawn(index, self.retry_delays[retries_done])

    async def validate(self) -> dict[str, object]:
        """Sends endpoint.url_validation and checks the answer as Zoom does."""
        if not self.url or not self.secret:
            return {"ok": False, "reason": "no webhook URL configured"}
        plain = secrets.token_urlsafe(16)
        body = json.dumps(
            {"event": "endpoint.url_validation", "event_ts": int(time.time() * 1000), "payload": {"plainToken": plain}}
        ).encode()
        timestamp = str(int(time.time()))
        headers = {
            "content-type": "application/json",
            "x-zm-request-timestamp": timestamp,
            "x-zm-signature": sign(self.secret, timestamp, body),
        }
        try:
            response = await self._http().post(self.url, content=body, headers=headers)
            answer = response.json()
        except (httpx.HTTPError, ValueError):
            return {"ok": False, "reason": "no JSON answer"}
        expected = hmac.new(self.secret.encode(), plain.encode(), hashlib.sha256).hexdigest()
        ok = (
            response.status_code == 200
            and answer.get("plainToken") == plain
            and answer.get("encryptedToken") == expected
        )
        return {"ok": ok, "status": response.status_code}
