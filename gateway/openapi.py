"""The OpenAPI 3.1 document of the HTTP API, built from the same descriptors as the routes.

Schemas follow proto3 JSON as the gateway speaks it: snake_case names, enums by name, 64-bit
integers as decimal strings (numbers are accepted too), Timestamps as RFC 3339, Durations as "1.5s".
Descriptions come from the proto comments when the descriptors carry source info (see
`proto_comments`); the generated modules do not, so summaries are derived from method names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from gateway.routes import ApiRoute, ResponseKind, RouteTable, resolve_field_path

__all__ = ["ERROR_SCHEMA", "openapi_document"]

_REF = "#/components/schemas/"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An error: the gRPC code name, a message for people, and google.rpc details "
    "(BadRequest field violations, ErrorInfo, RetryInfo) each with an `@type`.",
    "properties": {
        "code": {"type": "string", "examples": ["INVALID_ARGUMENT"]},
        "message": {"type": "string"},
        "details": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["code", "message", "details"],
}
_INT64 = {"oneOf": [{"type": "integer"}, {"type": "string", "pattern": r"^-?[0-9]{1,19}$"}], "format": "int64"}
_UINT64 = {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": r"^[0-9]{1,20}$"}]}
_SCALARS: Mapping[int, dict[str, Any]] = {
    FieldDescriptor.TYPE_DOUBLE: {"type": "number"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number"},
    FieldDescriptor.TYPE_INT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_SINT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_UINT32: {"type": "integer", "minimum": 0, "maximum": 4294967295},
    FieldDescriptor.TYPE_FIXED32: {"type": "integer", "minimum": 0, "maximum": 4294967295},
    FieldDescriptor.TYPE_INT64: _INT64,
    FieldDescriptor.TYPE_SINT64: _INT64,
    FieldDescriptor.TYPE_SFIXED64: _INT64,
    FieldDescriptor.TYPE_UINT64: _UINT64,
    FieldDescriptor.TYPE_FIXED64: _UINT64,
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
}
_WELL_KNOWN: Mapping[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]{1,9})?s$", "examples": ["90s"]},
    "google.protobuf.FieldMask": {"type": "string"},
    "google.protobuf.Empty": {"type": "object", "additionalProperties": False},
    "google.protobuf.Struct": {"type": "object"},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array"},
    "google.protobuf.Any": {"type": "object", "properties": {"@type": {"type": "string"}}},
    "google.protobuf.StringValue": {"type": ["string", "null"]},
    "google.protobuf.BoolValue": {"type": ["boolean", "null"]},
    "google.protobuf.Int32Value": {"type": ["integer", "null"]},
    "google.protobuf.UInt32Value": {"type": ["integer", "null"]},
    "google.protobuf.DoubleValue": {"type": ["number", "null"]},
    "google.protobuf.FloatValue": {"type": ["number", "null"]},
    "google.protobuf.Int64Value": {"type": ["string", "integer", "null"]},
    "google.protobuf.UInt64Value": {"type": ["string", "integer", "null"]},
    "google.protobuf.BytesValue": {"type": ["string", "null"]},
}
_MAX_QUERY_DEPTH = 3


class _Schemas:
    """Component schemas, added as fields refer to them."""

    def __init__(self, comments: Mapping[str, str]) -> None:
        self.components: dict[str, Any] = {"Error": ERROR_SCHEMA}
        self._comments = comments

    def enum(self, descriptor: EnumDescriptor) -> dict[str, Any]:
        name = descriptor.full_name
        if name not in self.components:
            schema: dict[str, Any] = {"type": "string", "enum": [value.name for value in descriptor.values]}
            self._describe(schema, name)
            self.components[name] = schema
        return {"$ref": _REF + name}

    def message(self, descriptor: Descriptor, *, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
        """A $ref to the message's schema, or an inline schema without the `exclude`d fields."""
        name = descriptor.full_name
        if name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[name])
        if exclude:
            return self._object(descriptor, exclude)
        if name not in self.components:
            self.components[name] = {}  # placeholder: recursive messages refer to themselves
            self.components[name] = self._object(descriptor, exclude)
        return {"$ref": _REF + name}

    def _object(self, descriptor: Descriptor, exclude: frozenset[str]) -> dict[str, Any]:
        properties = {field.name: self.field(field) for field in descriptor.fields if field.name not in exclude}
        schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
        self._describe(schema, descriptor.full_name)
        return schema

    def field(self, field: FieldDescriptor) -> dict[str, Any]:
        message = field.message_type
        if message is not None and message.GetOptions().map_entry:
            return {"type": "object", "additionalProperties": self.field(message.fields_by_name["value"])}
        if field.enum_type is not None:
            single = self.enum(field.enum_type)
        elif message is not None:
            single = self.message(message)
        else:
            single = dict(_SCALARS[field.type])
        comment = self._comments.get(field.full_name)
        if comment and field.type == FieldDescriptor.TYPE_STRING:
            single = {**single, **_string_format(comment)}
        schema = {"type": "array", "items": single} if field.is_repeated else single
        if comment:
            # A $ref takes no sibling keywords in every tool: wrap it to describe the field.
            described = {"allOf": [schema]} if "$ref" in schema else schema
            schema = {**described, "description": comment}
        return schema

    def parameter(self, field: FieldDescriptor, name: str, where: str) -> dict[str, Any]:
        """A path or query parameter: text in the URL, so 64-bit integers are plain integers here."""
        if field.type in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED64):
            single: dict[str, Any] = {"type": "integer", "format": "int64"}
        elif field.type in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
            single = {"type": "integer", "minimum": 0}
        elif field.enum_type is not None:
            single = self.enum(field.enum_type)
        elif field.message_type is not None:
            single = dict(_WELL_KNOWN[field.message_type.full_name])
        else:
            single = dict(_SCALARS[field.type])
        comment = self._comments.get(field.full_name, "")
        if field.type == FieldDescriptor.TYPE_STRING:
            single.update(_string_format(comment))
        parameter: dict[str, Any] = {"name": name, "in": where}
        if where == "path":
            parameter["required"] = True
        if comment:
            parameter["description"] = comment
        if field.is_repeated:
            parameter.update(schema={"type": "array", "items": single}, style="form", explode=True)
        else:
            parameter["schema"] = single
        return parameter

    def _describe(self, schema: dict[str, Any], full_name: str) -> None:
        comment = self._comments.get(full_name)
        if comment:
            schema["description"] = comment


def _string_format(comment: str) -> dict[str, str]:
    """The format a string field's comment states: "(UUID)", or a date given as "2026-11-25"."""
    if re.search(r"\bUUID\b", comment):
        return {"format": "uuid"}
    if re.search(r'"\d{4}-\d{2}-\d{2}"', comment):
        return {"format": "date"}
    return {}


def _summary(route: ApiRoute) -> str:
    words = re.findall(r"[A-Z][a-z0-9]*|[A-Z]+(?![a-z])", route.method.name)
    text = " ".join(words).capitalize()
    return re.sub(r"\bcsv\b", "CSV", re.sub(r"\bqr\b", "QR", text, flags=re.IGNORECASE), flags=re.IGNORECASE)


def _query_fields(descriptor: Descriptor, prefix: str, depth: int) -> list[tuple[str, FieldDescriptor]]:
    """Leaf fields a query string can set: scalars, enums, string-like well-known types."""
    found: list[tuple[str, FieldDescriptor]] = []
    for field in descriptor.fields:
        name = f"{prefix}{field.name}"
        message = field.message_type
        if message is None or _WELL_KNOWN.get(message.full_name, {}).get("type") == "string":
            found.append((name, field))
        elif not field.is_repeated and message.full_name not in _WELL_KNOWN and depth < _MAX_QUERY_DEPTH:
            found += _query_fields(message, f"{name}.", depth + 1)
    return found


def _operation(route: ApiRoute, schemas: _Schemas, comments: Mapping[str, str]) -> dict[str, Any]:
    request = route.method.input_type
    parameters: list[dict[str, Any]] = []
    for path in route.path_fields:
        parameters.append(schemas.parameter(resolve_field_path(request, path)[-1], path, "path"))
    if route.body != "*":
        for name, field in _query_fields(request, "", 0):
            if name in route.path_fields or (route.body and name.split(".")[0] == route.body):
                continue
            parameters.append(schemas.parameter(field, name, "query"))
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": _summary(route),
        "tags": [route.method.containing_service.name],
        "parameters": parameters,
        "responses": {"200": _success(route, schemas), "default": _error_response()},
    }
    description = comments.get(route.method.full_name)
    if description:
        operation["description"] = description
    if route.body:
        if route.body == "*":
            body_schema = schemas.message(request, exclude=frozenset(p.split(".")[0] for p in route.path_fields))
        else:
            body_schema = schemas.field(request.fields_by_name[route.body])
        operation["requestBody"] = {"required": False, "content": {"application/json": {"schema": body_schema}}}
    return operation


def _success(route: ApiRoute, schemas: _Schemas) -> dict[str, Any]:
    response_type = route.method.output_type
    if route.kind is ResponseKind.DOWNLOAD:
        return {
            "description": "The file, streamed, with the content type the service sends (text/csv for CSV "
            "exports) and `Content-Disposition: attachment`.",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        }
    if route.kind is ResponseKind.EVENT_STREAM:
        schemas.message(response_type)
        return {
            "description": f"Server-Sent Events: each `data:` line is one `{response_type.full_name}` as JSON; "
            "`event: error` carries an Error if the call fails midway; `event: end` closes the stream; "
            "`: keepalive` comments come while it is quiet.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    return {"description": "OK", "content": {"application/json": {"schema": schemas.message(response_type)}}}


def _error_response() -> dict[str, Any]:
    return {
        "description": "An error; the HTTP status follows the gRPC code (429 and 503 may carry Retry-After).",
        "content": {"application/json": {"schema": {"$ref": _REF + "Error"}}},
    }


def _webhook_operation() -> dict[str, Any]:
    headers = [
        {"name": "x-zm-request-timestamp", "in": "header", "required": True, "schema": {"type": "string"}},
        {"name": "x-zm-signature", "in": "header", "required": True, "schema": {"type": "string"}},
    ]
    return {
        "operationId": "ZoomWebhooks_Receive",
        "summary": "Receive a Zoom webhook event",
        "description": "Zoom's signed event notifications (`x-zm-signature: v0=HMAC-SHA256(secret, "
        "v0:{timestamp}:{body})`, timestamp within 5 minutes). Answers `endpoint.url_validation`; "
        "forwards other events to AttendanceService.IngestZoomEvent. A bad signature is a 401.",
        "tags": ["ZoomWebhooks"],
        "security": [],
        "parameters": headers,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"event": {"type": "string"}, "event_ts": {"type": "integer"}},
                        "required": ["event"],
                    }
                }
            },
        },
        "responses": {
            "200": {"description": "Accepted, or the URL validation answer", "content": {"application/json": {}}},
            "default": _error_response(),
        },
    }


def openapi_document(table: RouteTable, *, version: str, comments: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The whole document; `comments` maps full proto names to their leading comments."""
    comments = comments or {}
    schemas = _Schemas(comments)
    paths: dict[str, dict[str, Any]] = {}
    for route in sorted(table.routes, key=lambda r: (r.template, r.http_method)):
        path = re.sub(r"\{([^}=]+)=[^}]*\}", r"{\1}", route.template)  # `{name=shelves/*}` is `{name}` here
        paths.setdefault(path, {})[route.http_method.lower()] = _operation(route, schemas, comments)
    paths["/api/zoom/webhooks"] = {"post": _webhook_operation()}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "rollcall HTTP API",
            "version": version,
            "description": "JSON over HTTP for rollcall's gRPC services, transcoded by the gateway from the "
            "protos' google.api.http annotations. Every call but the webhook needs "
            "`Authorization: Bearer <JWT>`; each answer carries `x-request-id`.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "tags": sorted(({"name": tag} for tag in {r.method.containing_service.name for r in table.routes}), key=str),
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
