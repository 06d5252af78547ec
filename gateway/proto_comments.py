"""Proto comments for the API docs, from the descriptor set `make proto` writes with source info
(`build/rollcall.binpb`). The generated modules carry no comments; without that file the docs
simply have no descriptions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

from google.protobuf import descriptor_pb2
from google.protobuf.message import DecodeError

__all__ = ["DEFAULT_DESCRIPTOR_SET", "proto_comments"]

_log = logging.getLogger("rollcall.gateway")
DEFAULT_DESCRIPTOR_SET = Path(__file__).resolve().parents[1] / "build" / "rollcall.binpb"
# Field numbers in descriptor.proto that source-info paths go through.
_MESSAGE_TYPE, _ENUM_TYPE, _SERVICE = 4, 5, 6
_FIELD, _NESTED_TYPE, _NESTED_ENUM = 2, 3, 4
_ENUM_VALUE, _METHOD = 2, 2


def _message_names(
    prefix: str, path: tuple[int, ...], messages: Iterable[descriptor_pb2.DescriptorProto], kind: int
) -> Iterable[tuple[tuple[int, ...], str]]:
    for index, message in enumerate(messages):
        name = f"{prefix}.{message.name}"
        here = (*path, kind, index)
        yield here, name
        for field_index, field in enumerate(message.field):
            yield (*here, _FIELD, field_index), f"{name}.{field.name}"
        yield from _message_names(name, here, message.nested_type, _NESTED_TYPE)
        for enum_index, enum in enumerate(message.enum_type):
            yield from _enum_names(f"{name}.{enum.name}", (*here, _NESTED_ENUM, enum_index), enum)


def _enum_names(
    name: str, path: tuple[int, ...], enum: descriptor_pb2.EnumDescriptorProto
) -> Iterable[tuple[tuple[int, ...], str]]:
    yield path, name
    for index, value in enumerate(enum.value):
        yield (*path, _ENUM_VALUE, index), f"{name}.{value.name}"


def _names(file: descriptor_pb2.FileDescriptorProto) -> Iterable[tuple[tuple[int, ...], str]]:
    package = file.package
    yield from _message_names(package, (), file.message_type, _MESSAGE_TYPE)
    for index, enum in enumerate(file.enum_type):
        yield from _enum_names(f"{package}.{enum.name}", (_ENUM_TYPE, index), enum)
    for index, service in enumerate(file.service):
        name = f"{package}.{service.name}"
        yield (_SERVICE, index), name
        for method_index, method in enumerate(service.method):
            yield (_SERVICE, index, _METHOD, method_index), f"{name}.{method.name}"


def _clean(comment: str) -> str:
    lines = [line.strip() for line in comment.strip().splitlines()]
    return "\n".join(lines).strip()


def proto_comments(path: Path = DEFAULT_DESCRIPTOR_SET, packages: Sequence[str] = ("rollcall.",)) -> dict[str, str]:
    """Leading comments by full name (`rollcall.attendance.v1.Meeting.start_time`); {} without the file."""
    try:
        files = descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes()).file
    except (OSError, DecodeError):
        _log.info("gateway.no_proto_comments", extra={"path": str(path)})
        return {}
    comments: dict[str, str] = {}
    for file in files:
        if not file.package.startswith(tuple(packages)):
            continue
        by_path = {tuple(loc.path): loc.leading_comments for loc in file.source_code_info.location}
        for location, name in _names(file):
            comment = by_path.get(location)
            if comment:
                comments[name] = _clean(comment)
    return comments
