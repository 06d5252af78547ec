"""The route table, built at start-up from the `google.api.http` annotations of the served protos.

Adding an annotated RPC needs no gateway code: every method with an HttpRule becomes a route. Path
templates follow google/api/http.proto: `{field}` and `{field=pattern}` variables, `*` and `**`
segments, and a final `:verb`. Variables never match `/` or `:` (send those percent-encoded), so
`/v1/registration-jobs/{job_id}` and `/v1/registration-jobs/{job_id}:watch` cannot both match.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import unquote

from google.api import annotations_pb2, http_pb2, httpbody_pb2
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, FileDescriptor, MethodDescriptor
from google.protobuf.message import Message
from rollcall.attendance.v1 import attendance_service_pb2
from rollcall.audit.v1 import audit_service_pb2
from rollcall.registration.v1 import registration_service_pb2

__all__ = [
    "SERVED_PROTOS",
    "ApiRoute",
    "Match",
    "ResponseKind",
    "RouteTable",
    "build_route_table",
    "resolve_field_path",
]

# Which process serves each proto file's services. AuditService lives in the registration process.
SERVED_PROTOS: tuple[tuple[ModuleType, str], ...] = (
    (registration_service_pb2, "registration"),
    (audit_service_pb2, "registration"),
    (attendance_service_pb2, "attendance"),
)

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_VARIABLE = re.compile(rf"^\{{(?P<path>{_IDENT}(?:\.{_IDENT})*)(?:=(?P<pattern>[^}}]+))?\}}$")
_SEGMENT_VALUE = r"[^/:]+"
_HTTP_RULE: Any = annotations_pb2.http  # the stubs type it as a plain FieldDescriptor, not an extension


class ResponseKind(enum.Enum):
    """How an RPC's answer goes back over HTTP."""

    JSON = "json"  # unary: one JSON document
    EVENT_STREAM = "event-stream"  # server streaming: Server-Sent Events, one JSON per message
    DOWNLOAD = "download"  # google.api.HttpBody (streamed or not): the bytes with their content type


@dataclass(frozen=True, slots=True)
class ApiRoute:
    """One HTTP binding of one RPC."""

    http_method: str
    template: str
    pattern: re.Pattern[str]
    path_fields: tuple[str, ...]  # field paths bound by the template, in group order
    body: str  # "" (no body), "*" (the whole request) or a top-level field name
    method: MethodDescriptor
    grpc_path: str
    backend: str
    kind: ResponseKind
    request_class: type[Message]
    response_class: type[Message]

    @property
    def operation_id(self) -> str:
        return f"{self.method.containing_service.name}_{self.method.name}"


@dataclass(frozen=True, slots=True)
class Match:
    """A route for a request path, with the path variables percent-decoded."""

    route: ApiRoute
    path_values: Mapping[str, str]


class RouteTable:
    """Routes in matching order: more literal text first, so a fixed path beats a variable."""

    def __init__(self, routes: Iterable[ApiRoute]) -> None:
        self.routes: tuple[ApiRoute, ...] = tuple(
            sorted(routes, key=lambda r: (-len(re.sub(r"\{[^}]*\}", "", r.template)), r.template, r.http_method))
        )
        seen: set[tuple[str, str]] = set()
        for route in self.routes:
            key = (route.http_method, route.template)
            if key in seen:
                raise ValueError(f"two RPCs are bound to {route.http_method} {route.template}")
            seen.add(key)

    def match(self, http_method: str, raw_path: str) -> Match | list[str] | None:
        """The matching route; else the methods allowed on this path (for a 405); else None."""
        allowed: list[str] = []
        for route in self.routes:
            found = route.pattern.match(raw_path)
            if found is None:
                continue
            if route.http_method != http_method:
                allowed.append(route.http_method)
                continue
            values = {field: unquote(found.group(i + 1)) for i, field in enumerate(route.path_fields)}
            return Match(route, values)
        return sorted(set(allowed)) or None


def resolve_field_path(descriptor: Descriptor, path: str) -> list[FieldDescriptor]:
    """The fields along `a.b.c`; every field but the last must be a singular message."""
    fields: list[FieldDescriptor] = []
    current: Descriptor | None = descriptor
    for name in path.split("."):
        if current is None:
            raise KeyError(path)
        field = current.fields_by_name.get(name)
        if field is None:
            raise KeyError(path)
        fields.append(field)
        is_singular_message = field.message_type is not None and not _is_repeated(field)
        current = field.message_type if is_singular_message else None
    return fields


def _is_repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


def _compile(template: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """A regex over the raw (still percent-encoded) path and the field paths of its groups."""
    if not template.startswith("/"):
        raise ValueError(f"path template {template!r} must start with '/'")
    verb = ""
    last = template.rsplit("/", 1)[-1]
    if ":" in last and not last.endswith("}"):
        template, _, verb = template.rpartition(":")
    parts: list[str] = []
    fields: list[str] = []
    for segment in _split_segments(template[1:]):
        variable = _VARIABLE.match(segment)
        if variable:
            fields.append(variable["path"])
            parts.append(f"({_segments_regex(variable['pattern'] or '*')})")
        elif segment in ("*", "**"):
            parts.append(_segments_regex(segment))
        elif "{" in segment or "}" in segment:
            raise ValueError(f"path template segment {segment!r} is not a variable")
        else:
            parts.append(re.escape(segment))
    regex = "/" + "/".join(parts) + (re.escape(":" + verb) if verb else "")
    return re.compile(f"^{regex}$"), tuple(fields)


def _split_segments(path: str) -> list[str]:
    """Splits on '/' outside braces: `{name=shelves/*}` stays one piece."""
    segments, depth, current = [], 0, ""
    for char in path:
        if char == "/" and depth == 0:
            segments.append(current)
            current = ""
            continue
        depth += {"{": 1, "}": -1}.get(char, 0)
        current += char
    segments.append(current)
    return segments


def _segments_regex(pattern: str) -> str:
    pieces = []
    for piece in pattern.split("/"):
        if piece == "*":
            pieces.append(_SEGMENT_VALUE)
        elif piece == "**":
            pieces.append(r"[^:]*")
        else:
            pieces.append(re.escape(piece))
    return "/".join(pieces)


def _bindings(rule: http_pb2.HttpRule) -> Iterable[tuple[str, str, str]]:
    kind = rule.WhichOneof("pattern")
    if kind == "custom":
        yield rule.custom.kind.upper(), rule.custom.path, rule.body
    elif kind is not None:
        yield kind.upper(), getattr(rule, kind), rule.body
    for extra in rule.additional_bindings:
        yield from _bindings(extra)


def _routes_of(file: FileDescriptor, backend: str) -> Iterable[ApiRoute]:
    for service in file.services_by_name.values():
        for method in service.methods:
            options = method.GetOptions()
            if not options.HasExtension(_HTTP_RULE) or method.client_streaming:
                continue
            is_http_body = method.output_type.full_name == httpbody_pb2.HttpBody.DESCRIPTOR.full_name
            kind = (
                ResponseKind.DOWNLOAD
                if is_http_body
                else (ResponseKind.EVENT_STREAM if method.server_streaming else ResponseKind.JSON)
            )
            for http_method, template, body in _bindings(options.Extensions[_HTTP_RULE]):
                pattern, path_fields = _compile(template)
                for path in path_fields:
                    try:
                        resolve_field_path(method.input_type, path)
                    except KeyError:
                        raise ValueError(f"{method.full_name}: {template} names an unknown field {path!r}") from None
                if body not in ("", "*") and body not in method.input_type.fields_by_name:
                    raise ValueError(f"{method.full_name}: body {body!r} is not a field")
                yield ApiRoute(
                    http_method=http_method,
                    template=template,
                    pattern=pattern,
                    path_fields=path_fields,
                    body=body,
                    method=method,
                    grpc_path=f"/{service.full_name}/{method.name}",
                    backend=backend,
                    kind=kind,
                    request_class=message_factory.GetMessageClass(method.input_type),
                    response_class=message_factory.GetMessageClass(method.output_type),
                )


def build_route_table(served: Iterable[tuple[ModuleType, str]] = SERVED_PROTOS) -> RouteTable:
    """Every annotated RPC of the served proto modules; a bad annotation stops start-up."""
    return RouteTable(route for module, backend in served for route in _routes_of(module.DESCRIPTOR, backend))
