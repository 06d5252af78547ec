"""Housekeeping that no caller waits on: idempotency keys past their retention are dropped hourly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from common.db.idempotency import Idempotency

__all__ = ["Housekeeping"]

_log = logging.getLogger(__name__)


class Housekeeping:
    def __init__(self, idempotency: Idempotency, retention: timedelta, every: timedelta = timedelta(hours=1)) -> None:
        self._idempotency = idempotency
        self._retention = retention
        self._every = every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="registration-housekeeping")

    async def run_once(self) -> int:
        return await self._idempotency.forget_older_than(self._retention.total_seconds())

    async def _loop(self) -> None:
        while True:
            try:
                dropped = await self.run_once()
                _log.info("idempotency keys dropped", extra={"event": "housekeeping.idempotency", "count": dropped})
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 -- a database blip only delays the clean-up to the next round
                _log.exception("housekeeping failed")
            await asyncio.sleep(self._every.total_seconds())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
