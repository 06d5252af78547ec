"""The last participants view built for each (meeting, caller), kept while its roster is current.

A teacher's screen asks for the same meeting again and again, while its roster changes a few times
per meeting. The statement that checks the caller's access also tells whether the roster token
held here is still current (see MeetingRoster): while it is, the segments are neither sent nor
parsed again, and a view that does not depend on the clock (nobody is still in the meeting) is not
computed again either. Nothing here decides whether a view is current; the database does, on
every call.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

from attendance_service.read_models import MeetingRoster, ParticipantsView
from common.security.policy import Facts

__all__ = ["HeldView", "Lru", "ViewKey"]

_K = TypeVar("_K")
_V = TypeVar("_V")

ViewKey = tuple[int, uuid.UUID, str]
"""(meeting id, caller's user id, caller's role): row-level security shows each caller their own rows."""


@dataclass(frozen=True, slots=True)
class HeldView:
    """A roster and the view built from it; `view` None while someone is in the meeting, since
    their time present grows with the clock. `facts` are those the caller's read was allowed on:
    the next read is audited in its own statement while they hold."""

    roster: MeetingRoster
    view: ParticipantsView | None
    facts: Facts


class Lru(Generic[_K, _V]):
    """At most `capacity` entries, the least recently used dropped first; capacity 0 holds nothing."""

    def __init__(self, capacity: int) -> None:
        if capacity < 0:
            raise ValueError("capacity must not be negative")
        self._capacity = capacity
        self._entries: OrderedDict[_K, _V] = OrderedDict()

    def get(self, key: _K) -> _V | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: _K, value: _V) -> list[_V]:
        """Holds `value` under `key`; returns the values no longer held: the one it replaced, the
        least recently used ones beyond capacity, or `value` itself when capacity is 0."""
        if self._capacity == 0:
            return [value]
        replaced = self._entries.get(key)
        self._entries[key] = value
        self._entries.move_to_end(key)
        gone = [] if replaced is None or replaced is value else [replaced]
        while len(self._entries) > self._capacity:
            gone.append(self._entries.popitem(last=False)[1])
        return gone

    def __len__(self) -> int:
        return len(self._entries)
