"""The client's notion of time, a port so unit tests can drive time by hand."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol

__all__ = ["Clock", "SystemClock"]


class Clock(Protocol):
    """Monotonic time for deadlines and pacing, UTC wall time for Zoom's daily limits."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin; never goes back."""
        ...

    def utcnow(self) -> datetime:
        """The current aware UTC datetime (daily limits reset at 00:00 UTC)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Waits `seconds` (0 or less: just yields to the event loop)."""
        ...


class SystemClock:
    """The real clocks: `time.monotonic`, `datetime.now(UTC)` and `asyncio.sleep`."""

    def monotonic(self) -> float:
        return time.monotonic()

    def utcnow(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
