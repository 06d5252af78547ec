"""IngestZoomEvent: Zoom's signed webhook events (verified by the gateway) into live roster rows.

Zoom retries an event it thinks undelivered, and the gateway may forward one twice: each event is
stored once under a key derived from its content, and a repeat changes nothing. The live rows are
keyed like report rows (instance, per-join id, join time), so even a repeat under another key
cannot add a second segment. Roster changes are announced with NOTIFY in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from attendance_service.domain import ExpectedStudent, Roster, Segment
from attendance_service.ports import Clock, Transactions, system_clock
from attendance_service.repository import Instance
from common.errors import FieldViolation, InvalidArgument
from common.security.policy import Action, Facts, authorize
from common.security.principal import Principal

__all__ = ["ROSTER_EVENTS", "IngestResult", "WebhookIngest", "WebhookStore", "event_key"]

_log = logging.getLogger("rollcall.attendance.webhooks")
ROSTER_EVENTS = ("meeting.started", "meeting.ended", "meeting.participant_joined", "meeting.participant_left")


class WebhookStore(Protocol):
    async def remember_event(
        self, key: str, event: str, meeting_id: int | None, event_ts: int, payload: dict[str, Any]
    ) -> bool: ...

    async def roster_inputs(
        self, meeting_id: int
    ) -> tuple[Any, tuple[ExpectedStudent, ...], dict[str, str]] | None: ...

    async def lock_meeting(self, meeting_id: int) -> None: ...

    async def note_instance(
        self, uuid: str, meeting_id: int, *, start_time: datetime | None = None, end_time: datetime | None = None
    ) -> Instance: ...

    async def set_meeting_status(
        self, meeting_id: int, status: str, *, uuid: str | None, ended_at: datetime | None
    ) -> None: ...

    async def schedule_sync(self, uuid: str, at: datetime) -> None: ...

    async def open_live_segment(self, meeting_id: int, uuid: str, segment: Segment) -> bool: ...

    async def close_live_segment(
        self, uuid: str, zoom_user_id: str, leave_time: datetime, *, only_open: bool
    ) -> bool: ...

    async def close_open_segments(self, uuid: str, leave_time: datetime) -> None: ...

    async def notify_roster(self, payload: dict[str, Any]) -> None: ...


@dataclass(frozen=True, slots=True)
class IngestResult:
    event: str
    duplicate: bool


def event_key(body: Mapping[str, Any]) -> str:
    """Stable across retries and re-serialisation: the event name and a hash of its canonical JSON."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{body.get('event', '')}:{hashlib.sha256(canonical.encode()).hexdigest()}"


# PostgreSQL text and jsonb cannot hold NUL, nor UTF-16 surrogates that JSON's \u escapes can
# smuggle in unpaired; Zoom sends neither.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _storable(value: object) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _bad(description: str) -> InvalidArgument:
    return InvalidArgument(FieldViolation("body", description))


def _time(value: object, what: str) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise _bad(f"{what} is not an ISO-8601 time")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise _bad(f"{what} is not an ISO-8601 time") from None


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


class WebhookIngest:
    """Applies one forwarded event; `on_sync_scheduled` wakes this process's sync worker."""

    def __init__(
        self,
        db: Transactions[WebhookStore],
        first_sync_at: Callable[[datetime], datetime],
        on_sync_scheduled: Callable[[], None] = lambda: None,
        clock: Clock = system_clock,
    ) -> None:
        self._db = db
        self._first_sync_at = first_sync_at
        self._on_sync_scheduled = on_sync_scheduled
        self._clock = clock

    async def ingest(self, principal: Principal, body: bytes, request_timestamp: int) -> IngestResult:
        authorize(principal, Action.INGEST_ZOOM_EVENT, Facts())
        if request_timestamp < 0:
            raise InvalidArgument(FieldViolation("request_timestamp", "must be unix seconds"))
        try:
            # NaN and Infinity are Python's extension, not JSON: PostgreSQL's jsonb refuses them.
            parsed = json.loads(body, parse_constant=_no_constant)
        except (UnicodeDecodeError, ValueError):  # JSONDecodeError, those constants, ints past 4,300 digits
            raise _bad("not JSON") from None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("event"), str):
            raise _bad("not a Zoom event: no `event` name")
        if not _storable(parsed):
            raise _bad("holds a NUL character or an unpaired UTF-16 surrogate")
        event: str = parsed["event"]
        payload = parsed.get("payload")
        obj = payload.get("object") if isinstance(payload, dict) else None
        obj = obj if isinstance(obj, dict) else {}
        meeting_id = _meeting_id(obj)
        event_ts = parsed.get("event_ts")
        event_ts = event_ts if isinstance(event_ts, int) and not isinstance(event_ts, bool) else 0
        scheduled = False
        async with self._db.as_system() as store:
            if not await store.remember_event(event_key(parsed), event, meeting_id, event_ts, parsed):
                return IngestResult(event, duplicate=True)
            if event in ROSTER_EVENTS and meeting_id is not None:
                known = await store.roster_inputs(meeting_id)
                if known is None:
                    _log.info("webhook.unknown_meeting", extra={"meeting_id": meeting_id, "zoom_event": event})
                else:
                    await store.lock_meeting(meeting_id)
                    scheduled = await self._apply(store, event, meeting_id, obj, event_ts, known[1], known[2])
        if scheduled:
            self._on_sync_scheduled()
        return IngestResult(event, duplicate=False)

    async def _apply(
        self,
        store: WebhookStore,
        event: str,
        meeting_id: int,
        obj: Mapping[str, Any],
        event_ts: int,
        students: tuple[ExpectedStudent, ...],
        registrants: dict[str, str],
    ) -> bool:
        """Changes the live rows and the meeting's status; True when a sync was scheduled."""
        meeting_uuid = _text(obj.get("uuid")) or str(meeting_id)
        notice: dict[str, Any] = {"meeting_id": meeting_id, "event": event, "event_ts": event_ts}
        scheduled = False
        if event == "meeting.started":
            instance = await store.note_instance(
                meeting_uuid, meeting_id, start_time=_time(obj.get("start_time"), "start_time")
            )
            if instance.end_time is not None:
                return False  # a late retry of an instance that has ended since
            await store.set_meeting_status(meeting_id, "started", uuid=meeting_uuid, ended_at=None)
        elif event == "meeting.ended":
            ended_at = _time(obj.get("end_time"), "end_time") or self._clock()
            await store.note_instance(meeting_uuid, meeting_id, end_time=ended_at)
            await store.close_open_segments(meeting_uuid, ended_at)
            await store.set_meeting_status(meeting_id, "ended", uuid=meeting_uuid, ended_at=ended_at)
            await store.schedule_sync(meeting_uuid, self._first_sync_at(ended_at))
            scheduled = True
        else:
            participant = obj.get("participant")
            if not isinstance(participant, dict):
                raise _bad("a participant event without `participant`")
            segment = _live_segment(participant, students, registrants, self._clock())
            notice["zoom_user_id"] = segment.zoom_user_id
            instance = await store.note_instance(meeting_uuid, meeting_id)
            if event == "meeting.participant_joined":
                if not await store.open_live_segment(meeting_id, meeting_uuid, segment):
                    return False
                if instance.end_time is not None:  # the join arrived after the meeting's end
                    await store.close_live_segment(
                        meeting_uuid, segment.zoom_user_id, instance.end_time, only_open=True
                    )
            else:
                leave_time = _time(participant.get("leave_time"), "leave_time") or self._clock()
                if not await store.close_live_segment(meeting_uuid, segment.zoom_user_id, leave_time, only_open=False):
                    # Known already (a repeat), or its join has not arrived: then keep what the
                    # leave tells, a segment of that join ending then.
                    lone = replace(segment, join_time=leave_time)
                    if not await store.open_live_segment(meeting_id, meeting_uuid, lone):
                        return False
                    await store.close_live_segment(meeting_uuid, segment.zoom_user_id, leave_time, only_open=False)
        await store.notify_roster(notice)
        return scheduled


def _meeting_id(obj: Mapping[str, Any]) -> int | None:
    value = obj.get("id")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)  # participant events carry the id as a string
    return None


def _live_segment(
    participant: Mapping[str, Any], students: tuple[ExpectedStudent, ...], registrants: dict[str, str], now: datetime
) -> Segment:
    """The join as a segment, matched like report rows (registrant id, email, unique name)."""
    user_id = _text(participant.get("user_id"))
    if user_id is None:
        raise _bad("participant.user_id is missing")
    joined = _time(participant.get("join_time"), "participant.join_time")
    left = _time(participant.get("leave_time"), "participant.leave_time")
    name = _text(participant.get("user_name")) or ""
    email = _text(participant.get("email"))
    registrant_id = _text(participant.get("registrant_id"))
    roster = Roster.for_class(students, registrants)
    student_id, method = roster.match(registrant_id=registrant_id, email=email, name=name)
    return Segment(
        zoom_user_id=user_id,
        join_time=joined or left or now,
        leave_time=None,
        display_name=name,
        email=email,
        registrant_id=registrant_id,
        zoom_id=_text(participant.get("id")),
        student_id=student_id,
        match_method=method,
    )
