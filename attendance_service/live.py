"""WatchMeetingParticipants: one LISTEN connection per process, fanned out to any number of watchers.

Webhook processing (on any replica) NOTIFYs `rollcall_roster` with the meeting id. Each process's
single listener reads the roster of a meeting that has watchers once per change and puts the
result on every watcher's queue, so a hundred watchers cost one query per change and no watcher
polls. A watcher too slow to keep up, or a listener that had to reconnect (notifications may have
been lost meanwhile), gets a fresh snapshot instead of a gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from attendance_service.domain import Person, Statistics, people_of, statistics_of
from attendance_service.ports import Clock, Transactions, system_clock
from attendance_service.read_models import MeetingOverview
from attendance_service.repository import ROSTER_CHANNEL
from attendance_service.service import meeting_facts, refuse_missing
from common.db.notifications import ChannelListener
from common.security.policy import Action, authorize
from common.security.principal import Principal

__all__ = ["ChangeKind", "LiveStore", "RosterChange", "RosterHub"]

_log = logging.getLogger("rollcall.attendance.live")


class ChangeKind(enum.Enum):
    SNAPSHOT = "snapshot"
    JOINED = "joined"
    LEFT = "left"
    MEETING_STARTED = "meeting_started"
    MEETING_ENDED = "meeting_ended"


_KIND_OF_EVENT = {
    "meeting.participant_joined": ChangeKind.JOINED,
    "meeting.participant_left": ChangeKind.LEFT,
    "meeting.started": ChangeKind.MEETING_STARTED,
    "meeting.ended": ChangeKind.MEETING_ENDED,
}


@dataclass(frozen=True, slots=True)
class RosterChange:
    """One message of the stream: what changed, who, everyone (snapshots) and the statistics."""

    kind: ChangeKind
    statistics: Statistics
    event_time: datetime
    person: Person | None = None
    people: tuple[Person, ...] = ()


class LiveStore(Protocol):
    async def meeting_overview(self, meeting_id: int, caller: uuid.UUID | None) -> MeetingOverview | None: ...

    async def audit(
        self, actor: Principal | None, action: str, *, target_type: str, target_id: str, detail: str | None = None
    ) -> None: ...


@dataclass(eq=False)
class _Watcher:
    queue: asyncio.Queue[RosterChange] = field(default_factory=lambda: asyncio.Queue(maxsize=256))
    needs_snapshot: bool = False


class RosterHub:
    """Owns the process's listener and the watchers of each meeting."""

    def __init__(self, listen_url: str, db: Transactions[LiveStore], clock: Clock = system_clock) -> None:
        self._db = db
        self._clock = clock
        self._watchers: dict[int, set[_Watcher]] = defaultdict(set)
        self._listener = ChannelListener(listen_url, ROSTER_CHANNEL, self._notice, self._resync_everyone)
        self._notices: asyncio.Queue[dict[str, object]] = asyncio.Queue()
        self._dispatcher: asyncio.Task[None] | None = None

    @property
    def watcher_count(self) -> int:
        return sum(len(w) for w in self._watchers.values())

    async def close(self) -> None:
        await self._listener.aclose()
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher

    async def watch(self, principal: Principal, meeting_id: int) -> AsyncIterator[RosterChange]:
        """The snapshot, then each change, until MEETING_ENDED or the caller goes away."""
        watcher = _Watcher()
        self._watchers[meeting_id].add(watcher)
        try:
            await self._start()
            # Subscribed before the snapshot is read: a change between the two is sent, not lost.
            snapshot, ended = await self._snapshot(principal, meeting_id, audit=True)
            yield snapshot
            if ended:
                yield RosterChange(ChangeKind.MEETING_ENDED, snapshot.statistics, snapshot.event_time)
                return
            while True:
                change = await watcher.queue.get()
                if watcher.needs_snapshot:
                    watcher.needs_snapshot = False
                    while not watcher.queue.empty():
                        watcher.queue.get_nowait()
                    change, _ = await self._snapshot(principal, meeting_id, audit=False)
                yield change
                if change.kind is ChangeKind.MEETING_ENDED:
                    return
        finally:
            self._watchers[meeting_id].discard(watcher)
            if not self._watchers[meeting_id]:
                del self._watchers[meeting_id]

    async def _snapshot(self, principal: Principal, meeting_id: int, *, audit: bool) -> tuple[RosterChange, bool]:
        """Everyone seen so far, read as the caller (who is authorized here), and whether it ended."""
        async with self._db.as_caller(principal) as store:
            overview = await store.meeting_overview(meeting_id, principal.user_id)
            if overview is None:
                raise refuse_missing(principal, Action.READ_PARTICIPANTS, "meeting")
            authorize(principal, Action.READ_PARTICIPANTS, meeting_facts(overview))
            if audit:
                await store.audit(
                    principal, Action.READ_PARTICIPANTS.value, target_type="meeting", target_id=str(meeting_id)
                )
        now = self._clock()
        people = people_of(overview.segments, now)
        statistics = statistics_of(people, overview.students)
        snapshot = RosterChange(ChangeKind.SNAPSHOT, statistics, now, people=tuple(people))
        return snapshot, overview.meeting.status == "ended"

    async def _start(self) -> None:
        if self._dispatcher is None:
            self._dispatcher = asyncio.create_task(self._dispatch(), name="roster-dispatcher")
        await self._listener.start()

    def _notice(self, payload: str) -> None:
        self._notices.put_nowait(json.loads(payload))

    def _resync_everyone(self) -> None:
        for watchers in self._watchers.values():
            for watcher in watchers:
                watcher.needs_snapshot = True
                _offer(watcher, RosterChange(ChangeKind.SNAPSHOT, _EMPTY, self._clock()))

    async def _dispatch(self) -> None:
        """Reads the roster once per change of a watched meeting and hands it to every watcher."""
        while True:
            notice = await self._notices.get()
            meeting_id = notice.get("meeting_id")
            kind = _KIND_OF_EVENT.get(str(notice.get("event")))
            if not isinstance(meeting_id, int) or kind is None or not self._watchers.get(meeting_id):
                continue
            try:
                change = await self._change(meeting_id, kind, notice)
            except Exception:  # noqa: BLE001 -- one failed read must not stop every watcher's stream
                _log.exception("attendance.roster_read_failed", extra={"meeting_id": meeting_id})
                self._resync_everyone()
                continue
            if change is not None:
                for watcher in list(self._watchers.get(meeting_id, ())):
                    _offer(watcher, change)

    async def _change(self, meeting_id: int, kind: ChangeKind, notice: dict[str, object]) -> RosterChange | None:
        async with self._db.as_system() as store:
            overview = await store.meeting_overview(meeting_id, None)
        if overview is None:
            return None
        now = self._clock()
        people = people_of(overview.segments, now)
        zoom_user_id = notice.get("zoom_user_id")
        person = next((p for p in people if any(s.zoom_user_id == zoom_user_id for s in p.segments)), None)
        event_ts = notice.get("event_ts")
        at = datetime.fromtimestamp(event_ts / 1000, UTC) if isinstance(event_ts, int) and event_ts > 0 else now
        return RosterChange(
            kind=kind, statistics=statistics_of(people, overview.students), event_time=at, person=person
        )


_EMPTY = statistics_of([], [])


def _offer(watcher: _Watcher, change: RosterChange) -> None:
    try:
        watcher.queue.put_nowait(change)
    except asyncio.QueueFull:
        # Too slow to keep up: the next message it reads becomes a fresh snapshot.
        watcher.needs_snapshot = True
