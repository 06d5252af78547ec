"""HTTP request <-> protobuf message, following google/api/http.proto's rules.

Path variables and query parameters name fields (`meeting_id`, `filter.actor_id`); a repeated
field takes the parameter once per value; enums go by name (or number); 64-bit integers, timestamps
(RFC 3339) and durations ("90s") are strings, as in proto3 JSON. With `body: "*"` the JSON body is
the request and path variables are merged over it. Anything unknown or malformed is a 400 naming
the field, never a 500.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from starlette.requests import Request

from gateway.errors import ApiError, bad_request
from gateway.proto_json import to_json_object
from gateway.routes import ApiRoute, resolve_field_path

__all__ = ["build_request", "message_json", "message_to_dict", "parse_json_body", "read_body"]

_PARSE_ERROR_FIELD = re.compile(r"Failed to parse (\w+) field")
# Well-known message types written as one JSON string, so they can be query parameters.
_STRING_MESSAGES = frozenset(
    {
        "google.protobuf.Timestamp",
        "google.protobuf.Duration",
        "google.protobuf.FieldMask",
        "google.protobuf.StringValue",
        "google.protobuf.BytesValue",
        "google.protobuf.Int64Value",
        "google.protobuf.UInt64Value",
        "google.protobuf.Int32Value",
        "google.protobuf.UInt32Value",
        "google.protobuf.DoubleValue",
        "google.protobuf.FloatValue",
        "google.protobuf.BoolValue",
    }
)
_MAX_JSON_DEPTH = 64


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with a 400 as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise bad_request(f"the request body exceeds {limit} bytes", [("body", f"larger than {limit} bytes")])
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise bad_request(f"the request body exceeds {limit} bytes", [("body", f"larger than {limit} bytes")])
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json_body(body: bytes) -> Any:
    """The body as JSON; an empty body is `{}`."""
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise bad_request("the request body is not UTF-8 text", [("body", "not UTF-8")]) from None
    except json.JSONDecodeError as exc:
        raise bad_request(
            f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            [("body", "malformed JSON")],
        ) from None
    except RecursionError:
        raise bad_request("the request body nests too deeply", [("body", "too deeply nested")]) from None


def _scalar(field: FieldDescriptor, name: str, raw: str) -> Any:
    """One path or query value as the JSON value json_format expects for `field`."""
    if field.type == FieldDescriptor.TYPE_BOOL:
        lowered = raw.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise bad_request(f"{name} must be true or false", [(name, "must be true or false")])
    if field.type == FieldDescriptor.TYPE_ENUM:
        return int(raw) if raw.lstrip("-").isdigit() else raw
    message = field.message_type
    if message is not None and message.full_name not in _STRING_MESSAGES:
        raise bad_request(f"{name} cannot be given as a parameter", [(name, "not a scalar field")])
    return raw  # numbers stay strings: json_format parses and range-checks them


def _assign(tree: dict[str, Any], fields: list[FieldDescriptor], name: str, value: Any, *, append: bool) -> None:
    node = tree
    for field in fields[:-1]:
        child = node.setdefault(field.name, {})
        if not isinstance(child, dict):
            raise bad_request(f"{name} conflicts with another value", [(name, "conflicting values")])
        node = child
    leaf = fields[-1].name
    if append:
        node.setdefault(leaf, []).append(value)
    else:
        node[leaf] = value


def _query_into(tree: dict[str, Any], route: ApiRoute, query: Iterable[tuple[str, str]]) -> None:
    single_seen: set[str] = set()
    for name, raw in query:
        if name in route.path_fields:
            raise bad_request(f"{name} is given by the path", [(name, "already given by the path")])
        try:
            fields = resolve_field_path(route.method.input_type, name)
        except KeyError:
            raise bad_request(f"unknown query parameter {name!r}", [(name, "unknown parameter")]) from None
        leaf = fields[-1]
        repeated = bool(leaf.is_repeated)
        if not repeated and name in single_seen:
            raise bad_request(f"{name} may be given once", [(name, "given more than once")])
        single_seen.add(name)
        if route.body and route.body != "*" and fields[0].name == route.body:
            raise bad_request(f"{name} belongs in the body", [(name, "belongs in the request body")])
        _assign(tree, fields, name, _scalar(leaf, name, raw), append=repeated)


def build_request(
    route: ApiRoute, path_values: Mapping[str, str], query: Iterable[tuple[str, str]], body: bytes
) -> Message:
    """The request message from the path, the query string and the body of one HTTP request."""
    tree: dict[str, Any] = {}
    query = list(query)
    if route.body == "*":
        parsed = parse_json_body(body)
        if not isinstance(parsed, dict):
            raise bad_request("the request body must be a JSON object", [("body", "not a JSON object")])
        tree = parsed
        if query:
            raise bad_request(
                "this call takes its fields in the JSON body, not the query string",
                [(name, "send it in the body") for name, _ in query],
            )
    else:
        if route.body:
            tree[route.body] = parse_json_body(body)
        elif body.strip():
            raise bad_request("this call takes no request body", [("body", "must be empty")])
        _query_into(tree, route, query)
    for name, raw in path_values.items():
        fields = resolve_field_path(route.method.input_type, name)
        _assign(tree, fields, name, _scalar(fields[-1], name, raw), append=False)
    message = route.request_class()
    try:
        json_format.ParseDict(tree, message, ignore_unknown_fields=False, max_recursion_depth=_MAX_JSON_DEPTH)
    except json_format.ParseError as exc:
        raise _parse_error(str(exc)) from None
    except (ValueError, TypeError, RecursionError):
        raise bad_request("the request has a value of the wrong type", [("body", "wrong type")]) from None
    return message


def _parse_error(text: str) -> ApiError:
    """json_format's message, trimmed of its camelCase field list, with the field it names."""
    first = text.split("\n", 1)[0].strip()
    if "has no field named" in first:
        unknown = re.search(r'has no field named "([^"]+)"', first)
        name = unknown.group(1) if unknown else "body"
        return bad_request(f"unknown field {name!r}", [(name, "unknown field")])
    field = _PARSE_ERROR_FIELD.search(first)
    return bad_request(first, [(field.group(1) if field else "body", first)])


def message_to_dict(message: Message) -> dict[str, Any]:
    """Proto3 JSON with the protos' snake_case names, and every field, zero values included."""
    converted: dict[str, Any] = to_json_object(message)
    return converted


def message_json(message: Message) -> bytes:
    return json.dumps(message_to_dict(message), separators=(",", ":"), ensure_ascii=False).encode()
