"""One LISTEN connection per process and channel, for streams that follow changes other
replicas make (NOTIFY is sent when the changing transaction commits).

The listener reconnects after a lost connection with growing pauses. Notifications sent while it
was away are gone, so after reconnecting it calls `on_gap`: whoever follows changes must read the
current state again rather than wait for a notification that will never come.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable

import psycopg

__all__ = ["ChannelListener"]

_log = logging.getLogger("rollcall.db")
_RECONNECT_SECONDS = (0.2, 1.0, 5.0)
_CHANNEL = re.compile(r"[a-z_][a-z0-9_]*")


class ChannelListener:
    """Hands every payload NOTIFYed on `channel` to `on_notice`, in the event loop's thread."""

    def __init__(
        self, database_url: str, channel: str, on_notice: Callable[[str], None], on_gap: Callable[[], None]
    ) -> None:
        if not _CHANNEL.fullmatch(channel):
            raise ValueError(f"not a plain channel name: {channel!r}")  # LISTEN takes no parameter
        self._url = database_url
        self._channel = channel
        self._on_notice = on_notice
        self._on_gap = on_gap
        self._listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self, timeout_seconds: float = 10.0) -> None:
        """Starts listening (once) and waits until the connection listens, so a caller that
        subscribes and then reads the current state misses no change made after its read."""
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name=f"listen-{self._channel}")
        await asyncio.wait_for(self._listening.wait(), timeout=timeout_seconds)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _listen(self) -> None:
        failures = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._url, autocommit=True) as connection:
                    await connection.execute(f"LISTEN {self._channel}")
                    if failures:
                        self._on_gap()
                    failures = 0
                    self._listening.set()
                    _log.info("db.listening", extra={"event": "db.listening", "channel": self._channel})
                    async for notice in connection.notifies():
                        self._hand_on(notice.payload)
            except (psycopg.Error, OSError):
                self._listening.clear()
                delay = _RECONNECT_SECONDS[min(failures, len(_RECONNECT_SECONDS) - 1)]
                failures += 1
                _log.warning(
                    "db.listener_lost",
                    extra={"event": "db.listener_lost", "channel": self._channel, "retry_in_seconds": delay},
                )
                await asyncio.sleep(delay)

    def _hand_on(self, payload: str) -> None:
        try:
            self._on_notice(payload)
        except Exception:  # noqa: BLE001 -- one bad payload must not end the listening for everyone
            _log.exception("db.notice_failed", extra={"event": "db.notice_failed", "channel": self._channel})
