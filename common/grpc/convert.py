"""Request fields to Python values (with field violations for bad input) and Python values to the
well-known protobuf types, shared by every servicer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from google.protobuf import duration_pb2, timestamp_pb2

from common.errors import FieldViolation, InvalidArgument

__all__ = [
    "datetime_of",
    "duration_message",
    "meeting_id_of",
    "timedelta_of",
    "timestamp_message",
    "uuid_of",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def meeting_id_of(value: int, field: str = "meeting_id") -> int:
    if value <= 0:
        raise InvalidArgument(FieldViolation(field, "must be a Zoom meeting id (a positive number)"))
    return value


def uuid_of(field: str, value: str) -> uuid.UUID:
    """A required UUID field."""
    if not value:
        raise InvalidArgument(FieldViolation(field, "is required"))
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidArgument(FieldViolation(field, "must be a UUID")) from None


def datetime_of(field: str, message: timestamp_pb2.Timestamp, present: bool) -> datetime:
    if not present:
        raise InvalidArgument(FieldViolation(field, "is required"))
    try:
        return _EPOCH + timedelta(seconds=message.seconds, microseconds=message.nanos // 1000)
    except OverflowError:
        raise InvalidArgument(FieldViolation(field, "is out of range")) from None


def timedelta_of(field: str, message: duration_pb2.Duration, present: bool) -> timedelta:
    if not present:
        raise InvalidArgument(FieldViolation(field, "is required"))
    try:
        return timedelta(seconds=message.seconds, microseconds=message.nanos // 1000)
    except OverflowError:
        raise InvalidArgument(FieldViolation(field, "is out of range")) from None


def timestamp_message(moment: datetime | None) -> timestamp_pb2.Timestamp | None:
    if moment is None:
        return None
    # From the epoch directly: Timestamp.FromDatetime costs several times more.
    micros = (moment - _EPOCH) // _MICROSECOND
    return timestamp_pb2.Timestamp(seconds=micros // 1_000_000, nanos=(micros % 1_000_000) * 1000)


def duration_message(span: timedelta | None) -> duration_pb2.Duration | None:
    if span is None:
        return None
    micros = span // _MICROSECOND
    seconds = int(micros / 1_000_000)  # Duration's nanos take the sign of its seconds
    return duration_pb2.Duration(seconds=seconds, nanos=(micros - seconds * 1_000_000) * 1000)
