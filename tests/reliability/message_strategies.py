"""Hypothesis strategies for any protobuf message, built field by field from its descriptor:
strings with unicode, control characters, huge and empty values; integers up to the type's
extremes; enums with unknown numbers; repeated and nested fields (well-known types such as
Timestamp included, with out-of-range values); plus raw bytes that are not a valid message."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import strategies as st

__all__ = ["KnownValues", "malformed_bodies", "messages"]

_T = FieldDescriptor
_INT_RANGES = {
    _T.TYPE_INT32: (-(2**31), 2**31 - 1),
    _T.TYPE_SINT32: (-(2**31), 2**31 - 1),
    _T.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    _T.TYPE_INT64: (-(2**63), 2**63 - 1),
    _T.TYPE_SINT64: (-(2**63), 2**63 - 1),
    _T.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    _T.TYPE_UINT32: (0, 2**32 - 1),
    _T.TYPE_FIXED32: (0, 2**32 - 1),
    _T.TYPE_UINT64: (0, 2**64 - 1),
    _T.TYPE_FIXED64: (0, 2**64 - 1),
}
_SPECIAL_TEXT = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\t\n\r",
    "\u202e\u200b\ufeff",  # right-to-left override, zero-width space, byte order mark
    "\U0010ffff\U0001f600",
    "Ñiño Iñigo Dela Cruz",
    "null",
    "-1",
    "0",
    "9223372036854775808",
    "1e309",
    "' OR 1=1 --",
    "%00%ff",
    "../../etc/passwd",
    "00000000-0000-0000-0000-000000000000",
    "{12345678-1234-5678-1234-567812345678}",
    "urn:uuid:12345678-1234-5678-1234-567812345678",
    "2026-02-30",
    "0001-01-01",
    "9999-12-31",
    "+275760-09-13",
    "Asia/Manila",
    "../../../../usr/share/zoneinfo/UTC",
    "x" * 100_000,
    "é" * 70_000,
)


# Invalid UTF-8 in field 1, a length past the end, a tag without its value, a group (a wire type
# proto3 never uses), a length whose varint runs past the end.
_BROKEN = [b"\x0a\x02\xc3\x28", b"\x0a\xff\xff\xff\xff\x0f", b"\x08", b"\x0b\x0c", b"\x12\x80\x80\x80\x80\x10"]


@dataclass(frozen=True)
class KnownValues:
    """Values that exist in the database (ids of a seeded class, its students, meeting, job), mixed
    into the generated ones so that requests also get past the look-ups into deeper checks."""

    strings: Sequence[str] = ()
    integers: Sequence[int] = ()


def _text(known: KnownValues) -> st.SearchStrategy[str]:
    options = [
        st.text(max_size=40),
        st.text(max_size=400),
        st.sampled_from(_SPECIAL_TEXT),
        st.uuids().map(str),
        st.dates().map(lambda d: d.isoformat()),
    ]
    if known.strings:
        options.append(st.sampled_from(list(known.strings)))
    return st.one_of(options)


def _integer(field_type: int, known: KnownValues) -> st.SearchStrategy[int]:
    low, high = _INT_RANGES[field_type]
    edges = sorted({low, high, 0, max(low, -1), 1, min(high, 2**31), min(high, 10**11)})
    options = [st.integers(low, high), st.sampled_from(edges), st.integers(max(low, -1000), min(high, 10**12))]
    if known.integers:
        options.append(st.sampled_from([v for v in known.integers if low <= v <= high] or [0]))
    return st.one_of(options)


def _json_bodies() -> st.SearchStrategy[bytes]:
    leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
    values = st.recursive(
        leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    )
    zoom_like = st.fixed_dictionaries(
        {
            "event": st.sampled_from(
                ["meeting.participant_joined", "meeting.participant_left", "meeting.started", "meeting.ended", "x"]
            ),
            "event_ts": st.integers(-(2**63), 2**63 - 1),
            "payload": st.fixed_dictionaries({"object": st.dictionaries(st.text(max_size=12), values, max_size=6)}),
        }
    )
    return st.one_of(values, zoom_like).map(lambda v: json.dumps(v).encode())


def _scalar(field: FieldDescriptor, known: KnownValues) -> st.SearchStrategy[object]:
    if field.type == _T.TYPE_STRING:
        return _text(known)
    if field.type == _T.TYPE_BYTES:
        return st.one_of(st.binary(max_size=300), _json_bodies())
    if field.type in _INT_RANGES:
        return _integer(field.type, known)
    if field.type == _T.TYPE_BOOL:
        return st.booleans()
    if field.type == _T.TYPE_ENUM:
        assert field.enum_type is not None
        defined = [value.number for value in field.enum_type.values]
        return st.one_of(st.sampled_from(defined), st.integers(-(2**31), 2**31 - 1))  # proto3 enums are open
    if field.type == _T.TYPE_FLOAT:
        return st.floats(width=32)
    if field.type == _T.TYPE_DOUBLE:
        return st.floats()
    raise NotImplementedError(f"no strategy for field {field.full_name} of type {field.type}")


def _value(field: FieldDescriptor, known: KnownValues, depth: int) -> st.SearchStrategy[object]:
    if field.type == _T.TYPE_MESSAGE:
        assert field.message_type is not None
        assert not field.message_type.GetOptions().map_entry, f"map field {field.full_name}: not supported yet"
        return messages(field.message_type, known, depth=depth + 1)
    return _scalar(field, known)


def _build(descriptor: Descriptor, values: dict[str, object]) -> Message:
    message: Message = GetMessageClass(descriptor)()
    for name, value in values.items():
        field = descriptor.fields_by_name[name]
        target = getattr(message, name)
        if field.is_repeated and field.type == _T.TYPE_MESSAGE:
            for item in value:  # type: ignore[attr-defined]
                target.add().CopyFrom(item)
        elif field.is_repeated:
            target.extend(value)
        elif field.type == _T.TYPE_MESSAGE:
            target.CopyFrom(value)
        else:
            setattr(message, name, value)
    return message


def messages(
    descriptor: Descriptor, known: KnownValues = KnownValues(), *, depth: int = 0
) -> st.SearchStrategy[Message]:
    """Messages of `descriptor`'s type; each field is set or left out independently."""
    if depth > 3:
        return st.just(GetMessageClass(descriptor)())
    optional: dict[str, st.SearchStrategy[object]] = {}
    for field in descriptor.fields:
        value = _value(field, known, depth)
        optional[field.name] = (
            st.one_of(st.lists(value, max_size=4), st.lists(value, min_size=40, max_size=120))
            if field.is_repeated
            else value
        )
    return st.fixed_dictionaries({}, optional=optional).map(lambda values: _build(descriptor, values))


def malformed_bodies(descriptor: Descriptor) -> st.SearchStrategy[bytes]:
    """Request bodies that are mostly not valid messages of `descriptor`'s type: random bytes,
    truncated or bit-flipped encodings of valid ones, and wrong wire types or invalid UTF-8."""

    def damaged(encoded: bytes, cut: int, flip: int) -> bytes:
        if not encoded:
            return b"\xff"
        body = bytearray(encoded[: max(1, cut % (len(encoded) + 1))])
        body[flip % len(body)] ^= 0xFF
        return bytes(body)

    valid = messages(descriptor).map(lambda m: m.SerializeToString())
    return st.one_of(
        st.binary(min_size=1, max_size=200),
        st.builds(damaged, valid, st.integers(0, 10**6), st.integers(0, 10**6)),
        st.sampled_from(
            [b"\x0a\x02\xc3\x28", b"\x0a\xff\xff\xff\xff\x0f", b"\x08", b"\x0b\x0c", b"\x12\x80\x80\x80\x80\x10"]
        ),
    )
