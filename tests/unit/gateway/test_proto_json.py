"""The gateway's JSON encoder writes what json_format writes, for every message type it serves."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import cast

import pytest
from google.protobuf import duration_pb2, json_format, struct_pb2, timestamp_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from gateway.proto_json import to_json_object
from gateway.routes import SERVED_PROTOS


def _reference(message: Message) -> object:
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def _message_types() -> Iterator[Descriptor]:
    for module, _ in SERVED_PROTOS:
        yield from module.DESCRIPTOR.message_types_by_name.values()


_SCALARS: dict[int, list[object]] = {
    FieldDescriptor.TYPE_STRING: ["", "Iñigo", "a\u0000b"],
    FieldDescriptor.TYPE_BOOL: [True, False],
    FieldDescriptor.TYPE_INT32: [0, -7, 2**31 - 1],
    FieldDescriptor.TYPE_INT64: [0, -(2**63), 2**63 - 1],
    FieldDescriptor.TYPE_UINT64: [0, 2**64 - 1],
    FieldDescriptor.TYPE_DOUBLE: [0.0, 66.66666666666667, math.inf, -math.inf, math.nan],
    FieldDescriptor.TYPE_FLOAT: [0.1, 1e-7],
    FieldDescriptor.TYPE_BYTES: [b"", b"\x00\xffbody"],
}
_TIMES = itertools.cycle([(1795478400, 0), (0, 5_000_000), (-62135596800, 123_000), (253402300799, 999_999_999)])
_DURATIONS = itertools.cycle([(90, 0), (-1, -500_000_000), (0, -1), (3600, 1_000)])


def _fill(message: Message, variant: int, depth: int = 0) -> None:
    for field in message.DESCRIPTOR.fields:
        target = field.message_type
        if target is not None and target.full_name == "google.protobuf.Timestamp":
            values: list[object] = [timestamp_pb2.Timestamp(seconds=s, nanos=n) for s, n in [next(_TIMES)]]
        elif target is not None and target.full_name == "google.protobuf.Duration":
            values = [duration_pb2.Duration(seconds=s, nanos=n) for s, n in [next(_DURATIONS)]]
        elif target is not None:
            if depth > 3:
                continue
            child = GetMessageClass(cast(Descriptor, target))()
            _fill(child, variant + 1, depth + 1)
            values = [child]
        elif field.enum_type is not None:
            numbers = [v.number for v in field.enum_type.values] + [99]  # 99: unknown to this enum
            values = [numbers[variant % len(numbers)]]
        else:
            choices = _SCALARS[field.type]
            values = [choices[variant % len(choices)]]
        if field.is_repeated:
            container = getattr(message, field.name)
            for value in values * 2:
                if isinstance(value, Message):
                    container.add().CopyFrom(value)
                else:
                    container.append(value)
        elif isinstance(values[0], Message):
            getattr(message, field.name).CopyFrom(values[0])
        else:
            setattr(message, field.name, values[0])


def _same(left: object, right: object) -> bool:
    """Equality where NaN equals NaN."""
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left) and math.isnan(right):
        return True
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right, strict=True))
    return left == right


@pytest.mark.parametrize("descriptor", list(_message_types()), ids=lambda d: d.name)
def test_every_served_message_encodes_as_json_format_does(descriptor: Descriptor) -> None:
    cls = GetMessageClass(descriptor)
    empty = cls()
    assert to_json_object(empty) == _reference(empty)
    for variant in range(4):
        message = cls()
        _fill(message, variant)
        assert _same(to_json_object(message), _reference(message)), descriptor.full_name


def test_well_known_types_at_the_top_level() -> None:
    stamp = timestamp_pb2.Timestamp(seconds=1795478400, nanos=120_000_000)
    assert to_json_object(stamp) == "2026-11-24T00:00:00.120Z"
    assert to_json_object(duration_pb2.Duration(seconds=-3, nanos=-5)) == "-3.000000005s"
    value = struct_pb2.Value(string_value="x")
    assert to_json_object(value) == _reference(value)


def test_an_invalid_timestamp_fails_as_json_format_fails() -> None:
    stamp = timestamp_pb2.Timestamp(seconds=253402300800)
    with pytest.raises(ValueError, match="Timestamp"):
        to_json_object(stamp)
