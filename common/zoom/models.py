"""Values the Zoom client returns and takes, and the parsing of Zoom's JSON into them.

Parsing follows /work/shared/zoom-api.md: unknown fields are ignored (Zoom adds fields freely),
a missing or mistyped required field raises `ZoomProtocolError`. Fields holding personal data
(e-mails, names, join URLs with their per-registrant token) are left out of `repr` so a logged
value leaks nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from common.zoom.errors import ZoomProtocolError, ZoomValidationError

__all__ = [
    "MeetingId",
    "RegistrantRef",
    "ZoomBatchRegistrant",
    "ZoomMeeting",
    "ZoomMeetingInstance",
    "ZoomParticipant",
    "ZoomRegistrant",
    "ZoomRegistrantInput",
    "ZoomRegistrantRecord",
]

MeetingId = int | str
"""A meeting's numeric id (int; a digit string is accepted) or one instance's UUID (str)."""

_T = TypeVar("_T")
_Json = Mapping[str, object]


@dataclass(frozen=True, slots=True)
class ZoomMeeting:
    """A meeting as `GET /meetings/{id}` describes it; `duration_minutes` is Zoom's `duration`."""

    id: int
    uuid: str
    host_id: str
    topic: str
    type: int
    start_time: datetime | None
    duration_minutes: int | None
    timezone: str | None
    approval_type: int | None
    registration_type: int | None
    join_url: str | None = field(repr=False)
    registration_url: str | None = field(repr=False)

    @property
    def takes_registrants(self) -> bool:
        """Zoom registers only on scheduled/recurring-fixed meetings with approval_type 0 or 1."""
        return self.type in (2, 8) and self.approval_type in (0, 1)


@dataclass(frozen=True, slots=True)
class ZoomRegistrantInput:
    """One person to register; Zoom's limits: first_name ≤ 64 chars, email ≤ 128."""

    email: str = field(repr=False)
    first_name: str = field(repr=False)
    last_name: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.email or len(self.email) > 128:
            raise ZoomValidationError("registrant email must have 1 to 128 characters")
        if not self.first_name or len(self.first_name) > 64:
            raise ZoomValidationError("registrant first_name must have 1 to 64 characters")


@dataclass(frozen=True, slots=True)
class RegistrantRef:
    """Names a registrant for a status update, by registrant id or by e-mail."""

    registrant_id: str | None = None
    email: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not (self.registrant_id or self.email):
            raise ZoomValidationError("a registrant reference needs a registrant_id or an email")


@dataclass(frozen=True, slots=True)
class ZoomRegistrant:
    """Zoom's answer to adding one registrant. `join_url` is None under manual approval."""

    registrant_id: str
    meeting_id: int
    topic: str | None
    start_time: datetime | None
    participant_pin_code: int | None
    join_url: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class ZoomRegistrantRecord:
    """One entry of a meeting's registrant list."""

    registrant_id: str
    status: str
    create_time: datetime | None
    email: str = field(repr=False)
    first_name: str | None = field(repr=False)
    last_name: str | None = field(repr=False)
    join_url: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class ZoomBatchRegistrant:
    """One registrant created (or found, for a known e-mail) by batch registration."""

    registrant_id: str
    participant_pin_code: int | None
    email: str = field(repr=False)
    join_url: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class ZoomParticipant:
    """One join segment of a past meeting: each leave-and-rejoin is a new row with a new `user_id`.

    `id` is the Zoom user id when signed in, else "". `duration_seconds` is Zoom's `duration`
    (seconds, unlike a meeting's minutes). `leave_time` is None only if Zoom omits it (a
    participant still in the meeting). Times are aware UTC datetimes.
    """

    id: str
    user_id: str
    participant_user_id: str | None
    join_time: datetime
    leave_time: datetime | None
    duration_seconds: int | None
    registrant_id: str | None
    status: str | None
    failover: bool
    name: str = field(repr=False)
    user_email: str | None = field(repr=False)
    customer_key: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class ZoomMeetingInstance:
    """One past occurrence of a meeting, named by its instance UUID."""

    uuid: str
    start_time: datetime


# ---- parsing -------------------------------------------------------------------------------


def _fail(what: str, key: str, problem: str) -> ZoomProtocolError:
    return ZoomProtocolError(f"Zoom {what}: field {key!r} {problem}")


def _str(obj: _Json, key: str, what: str, *, required: bool) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise _fail(what, key, "is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _fail(what, key, "is not a string")
    return str(value)


def _req_str(obj: _Json, key: str, what: str) -> str:
    value = _str(obj, key, what, required=True)
    assert value is not None  # required=True never answers None
    return value


def _opt_str(obj: _Json, key: str, what: str) -> str | None:
    """An optional string; Zoom sends "" for "none" as often as it omits the field."""
    return _str(obj, key, what, required=False) or None


def _int(obj: _Json, key: str, what: str, *, required: bool) -> int | None:
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise _fail(what, key, "is missing")
        return None
    if isinstance(value, bool):
        raise _fail(what, key, "is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise _fail(what, key, "is not an integer")


def _req_int(obj: _Json, key: str, what: str) -> int:
    value = _int(obj, key, what, required=True)
    assert value is not None
    return value


def parse_time(text: str) -> datetime:
    """An ISO-8601 time as an aware datetime; Zoom's "...Z" times are UTC, so are naive ones."""
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _time(obj: _Json, key: str, what: str, *, required: bool) -> datetime | None:
    text = _str(obj, key, what, required=required)
    if not text:
        if required:
            raise _fail(what, key, "is empty")
        return None
    try:
        return parse_time(text)
    except ValueError as exc:
        raise _fail(what, key, "is not an ISO-8601 time") from exc


def _obj(value: object, what: str) -> _Json:
    if not isinstance(value, Mapping):
        raise ZoomProtocolError(f"Zoom {what}: expected a JSON object")
    return value


def parse_meeting(body: object) -> ZoomMeeting:
    """Parses a meeting object (GET or create)."""
    what = "meeting"
    obj = _obj(body, what)
    settings = _obj(obj.get("settings") or {}, what)
    return ZoomMeeting(
        id=_req_int(obj, "id", what),
        uuid=_req_str(obj, "uuid", what),
        host_id=_req_str(obj, "host_id", what),
        topic=_req_str(obj, "topic", what),
        type=_req_int(obj, "type", what),
        start_time=_time(obj, "start_time", what, required=False),
        duration_minutes=_int(obj, "duration", what, required=False),
        timezone=_opt_str(obj, "timezone", what),
        approval_type=_int(settings, "approval_type", what, required=False),
        registration_type=_int(settings, "registration_type", what, required=False),
        join_url=_opt_str(obj, "join_url", what),
        registration_url=_opt_str(obj, "registration_url", what),
    )


def parse_registrant(body: object) -> ZoomRegistrant:
    """Parses the 201 answer of add-registrant."""
    what = "add-registrant response"
    obj = _obj(body, what)
    return ZoomRegistrant(
        registrant_id=_req_str(obj, "registrant_id", what),
        meeting_id=_req_int(obj, "id", what),
        topic=_opt_str(obj, "topic", what),
        start_time=_time(obj, "start_time", what, required=False),
        participant_pin_code=_int(obj, "participant_pin_code", what, required=False),
        join_url=_opt_str(obj, "join_url", what),
    )


def parse_registrant_record(body: object) -> ZoomRegistrantRecord:
    """Parses one entry of `GET /meetings/{id}/registrants`."""
    what = "registrant list entry"
    obj = _obj(body, what)
    return ZoomRegistrantRecord(
        registrant_id=_req_str(obj, "id", what),
        status=_opt_str(obj, "status", what) or "approved",
        create_time=_time(obj, "create_time", what, required=False),
        email=_req_str(obj, "email", what),
        first_name=_opt_str(obj, "first_name", what),
        last_name=_opt_str(obj, "last_name", what),
        join_url=_opt_str(obj, "join_url", what),
    )


def parse_batch_registrants(body: object) -> tuple[ZoomBatchRegistrant, ...]:
    """Parses the 201 answer of batch registration."""
    what = "batch-registrants response"
    rows = _list(_obj(body, what), "registrants", what)
    return tuple(
        ZoomBatchRegistrant(
            registrant_id=_req_str(row, "registrant_id", what),
            participant_pin_code=_int(row, "participant_pin_code", what, required=False),
            email=_req_str(row, "email", what),
            join_url=_opt_str(row, "join_url", what),
        )
        for row in (_obj(item, what) for item in rows)
    )


def parse_participant(body: object) -> ZoomParticipant:
    """Parses one participant row of the report or past-meeting endpoints."""
    what = "participant"
    obj = _obj(body, what)
    join_time = _time(obj, "join_time", what, required=True)
    assert join_time is not None
    failover = obj.get("failover", False)
    if not isinstance(failover, bool):
        raise _fail(what, "failover", "is not a boolean")
    return ZoomParticipant(
        id=_opt_str(obj, "id", what) or "",
        user_id=_opt_str(obj, "user_id", what) or "",
        participant_user_id=_opt_str(obj, "participant_user_id", what),
        join_time=join_time,
        leave_time=_time(obj, "leave_time", what, required=False),
        duration_seconds=_int(obj, "duration", what, required=False),
        registrant_id=_opt_str(obj, "registrant_id", what),
        status=_opt_str(obj, "status", what),
        failover=failover,
        name=_opt_str(obj, "name", what) or "",
        user_email=_opt_str(obj, "user_email", what),
        customer_key=_opt_str(obj, "customer_key", what),
    )


def parse_instance(body: object) -> ZoomMeetingInstance:
    """Parses one entry of `GET /past_meetings/{id}/instances`."""
    what = "meeting instance"
    obj = _obj(body, what)
    start_time = _time(obj, "start_time", what, required=True)
    assert start_time is not None
    return ZoomMeetingInstance(uuid=_req_str(obj, "uuid", what), start_time=start_time)


def _list(obj: _Json, key: str, what: str) -> list[object]:
    value = obj.get(key)
    if value is None:
        raise _fail(what, key, "is missing")
    if not isinstance(value, list):
        raise _fail(what, key, "is not a list")
    return value


def parse_page(body: object, key: str, parse_item: Callable[[object], _T], what: str) -> tuple[list[_T], str | None]:
    """Parses a paged envelope: the items under `key` and the next page's token (None: last)."""
    obj = _obj(body, what)
    items = [parse_item(item) for item in _list(obj, key, what)]
    return items, _opt_str(obj, "next_page_token", what)
