"""Clean-up that no caller waits on, run every so often in the background of a service process.

Each chore deletes rows past their retention and returns how many it dropped. A failure (the
database away for a moment) only delays that chore to its next round; the other chores and the
process carry on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

__all__ = ["Chore", "Housekeeping"]

_log = logging.getLogger("rollcall.housekeeping")


@dataclass(frozen=True, slots=True)
class Chore:
    name: str  # logged as the event `housekeeping.<name>`
    run: Callable[[], Awaitable[int]]


class Housekeeping:
    """Runs every chore once per `every`, starting at once."""

    def __init__(self, chores: Sequence[Chore], every: timedelta = timedelta(hours=1)) -> None:
        self._chores = tuple(chores)
        self._every = every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="housekeeping")

    async def run_once(self) -> dict[str, int]:
        """Rows dropped by each chore that succeeded this round."""
        dropped: dict[str, int] = {}
        for chore in self._chores:
            try:
                dropped[chore.name] = await chore.run()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 -- retried next round; never stops the process
                _log.exception("housekeeping chore failed", extra={"event": f"housekeeping.{chore.name}.failed"})
                continue
            _log.info("rows dropped", extra={"event": f"housekeeping.{chore.name}", "count": dropped[chore.name]})
        return dropped

    async def _loop(self) -> None:
        while True:
            await self.run_once()
            await asyncio.sleep(self._every.total_seconds())

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
