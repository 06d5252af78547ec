"""Spending Zoom's daily allowances across the attempts of one operation.

Each attempt spends its allowances before it is sent, so no replica can send a request the
budget cannot cover. Afterwards the attempt is settled by what Zoom can have counted:

- refused before processing (per-second 429) or never sent (connect error): given back;
- answered (2xx, 4xx): kept;
- unknown (5xx, connection dropped, answer lost): kept, but remembered as "maybe". If a later
  attempt of the same operation then finds the allowance spent, it is sent anyway: Zoom may
  not have counted the unknown ones, and if it did it answers with a daily 429 itself. This
  keeps a student from being locked out for the day by faults Zoom never counted.

The "maybe" uses are remembered by the client for the day, not only by one operation: a job
retries an item as a new operation after a failed one, and must get the same benefit of doubt.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence, Set
from datetime import date
from typing import Literal

from common.zoom._clock import Clock
from common.zoom._ratelimit import DailyCounter, RateBudget, daily_limit_resume_at
from common.zoom.errors import DailyLimitScope, ZoomDailyLimitReached, ZoomUnavailable

__all__ = ["DailySpending", "Settlement"]

_log = logging.getLogger("rollcall.zoom")

Settlement = Literal["counted", "not_counted", "unknown"]


class DailySpending:
    """The daily allowances one operation has spent, attempt by attempt."""

    def __init__(
        self, budget: RateBudget, account_id: str, clock: Clock, maybe: set[DailyCounter] | None = None
    ) -> None:
        self._budget = budget
        self._account_id = account_id
        self._clock = clock
        self._maybe: set[DailyCounter] = maybe if maybe is not None else set()
        self._wanted: tuple[DailyCounter, ...] = ()

    async def spend(self, counters: Sequence[DailyCounter]) -> tuple[DailyCounter, ...]:
        """Spends one use of each counter for the next attempt; returns those spent, or raises
        `ZoomDailyLimitReached` (refused before sending) for a counter spent by others."""
        if not counters:
            return ()
        self._wanted = tuple(counters)
        day = self._clock.utcnow().date()
        spent = await self._budget.consume_daily(self._account_id, counters, day)
        if not spent:
            return tuple(counters)
        exhausted = {counters[i] for i in spent}
        if not exhausted <= self._maybe:
            raise _refusal(counters, exhausted, day)
        # Only this operation's own unknown attempts spent it: let Zoom decide (see module doc).
        rest = [c for c in counters if c not in exhausted]
        again = await self._budget.consume_daily(self._account_id, rest, day) if rest else ()
        if again:
            raise _refusal(counters, {rest[i] for i in again}, day)
        return tuple(rest)

    async def settle(self, spent: tuple[DailyCounter, ...], settlement: Settlement) -> None:
        """Records what Zoom can have counted of an attempt that spent `spent`."""
        if settlement == "counted":
            # Zoom answered: the doubt is settled, later operations get no more benefit of it.
            self._maybe.difference_update(self._wanted)
            return
        if not spent:
            return
        if settlement == "unknown":
            self._maybe.update(spent)
            return
        day = self._clock.utcnow().date()
        try:
            await self._budget.release_daily(self._account_id, spent, day)
        except ZoomUnavailable:
            # The attempt's own failure is what the caller must see; an unreleased use only
            # makes the budget stricter than Zoom for the rest of the day.
            _log.warning("zoom.daily_release_failed", extra={"event": "zoom.daily_release_failed"}, exc_info=True)


def _refusal(counters: Sequence[DailyCounter], exhausted: Set[DailyCounter], day: date) -> ZoomDailyLimitReached:
    scopes = {c.scope for c in exhausted}
    scope: DailyLimitScope = "account-heavy" if "account-heavy" in scopes else next(iter(scopes))
    resume_at = daily_limit_resume_at(day)
    _log.warning(
        "zoom.daily_limit",
        extra={"event": "zoom.daily_limit", "scope": scope, "resume_at": resume_at.isoformat(), "local": True},
    )
    return ZoomDailyLimitReached(
        f"daily {scope} limit spent; refused before sending",
        resume_at=resume_at,
        scope=scope,
        exhausted_indexes=[i for i, c in enumerate(counters) if c in exhausted and c.scope == "registrant"],
    )
