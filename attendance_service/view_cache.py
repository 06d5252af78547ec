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

__all__ = ["HeldView", "Lru", "ViewKey"]

_K = TypeVar("_K")
_V = TypeVar("_V")

ViewKey = tuple[int, uuid.UUID, str]
"""(meeting id, caller's user id, caller's role): row-level security shows each caller their own rows."""


@dataclass(frozen=True, slots=True)
class HeldView:
    """A roster and the view built from it; `view` None while someone is in the meeting, since
    their time present grows with the clock."""

    roster: MeetingRoster
    view: ParticipantsView | None


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

    def put(self, key: _K, value: _V) -> None:
        if self._capacity == 0:
            return
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
