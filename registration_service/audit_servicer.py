"""AuditService over gRPC: requests to `common.audit.queries` calls, results to messages, nothing more.

Served by the registration process; exceptions travel to the interceptor, which maps them to
statuses in one table.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.api import httpbody_pb2
from google.protobuf import timestamp_pb2
from rollcall.audit.v1 import audit_service_pb2 as pb
from rollcall.audit.v1 import audit_service_pb2_grpc as rpc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.audit.log import AuditOutcome
from common.audit.queries import AuditEventView, AuditFilter, AuditLogReader
from common.errors import FieldViolation, InvalidArgument
from common.grpc import ServiceDefinition
from common.security.principal import current_principal

__all__ = ["MAX_FILTER_TEXT", "AuditServicer", "audit_service_definition", "event_message", "filter_of"]

MAX_FILTER_TEXT = 200  # characters of an action, target type or target id filter
_Context = grpc.aio.ServicerContext[Any, Any]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_OUTCOME = {AuditOutcome.SUCCESS: pb.AUDIT_OUTCOME_SUCCESS, AuditOutcome.FAILURE: pb.AUDIT_OUTCOME_FAILURE}
_OUTCOME_OF = {value: key for key, value in _OUTCOME.items()}


def _time_of(field: str, message: timestamp_pb2.Timestamp, violations: list[FieldViolation]) -> datetime | None:
    if not 0 <= message.nanos < 1_000_000_000:
        violations.append(FieldViolation(field, "nanos must be from 0 to 999,999,999"))
        return None
    try:
        moment = _EPOCH + timedelta(seconds=message.seconds, microseconds=message.nanos // 1000)
    except OverflowError:
        moment = None
    if moment is None or not 1 <= moment.year <= 9999:
        violations.append(FieldViolation(field, "must be between years 0001 and 9999"))
        return None
    return moment


def _text_of(field: str, value: str, violations: list[FieldViolation]) -> str | None:
    if len(value) > MAX_FILTER_TEXT:
        violations.append(FieldViolation(field, f"at most {MAX_FILTER_TEXT} characters"))
    elif not value.isprintable():  # no stored action, type or id holds control characters (nor can hold NUL)
        violations.append(FieldViolation(field, "must be printable text"))
    return value or None


def filter_of(message: pb.AuditEventFilter) -> AuditFilter:
    """The request's filters, every bad field reported at once as a field violation."""
    violations: list[FieldViolation] = []
    actor_id = None
    if message.actor_id:
        try:
            actor_id = uuid.UUID(message.actor_id)
        except ValueError:
            violations.append(FieldViolation("filter.actor_id", "must be a UUID"))
    start = _time_of("filter.start_time", message.start_time, violations) if message.HasField("start_time") else None
    end = _time_of("filter.end_time", message.end_time, violations) if message.HasField("end_time") else None
    if start is not None and end is not None and end <= start:
        violations.append(FieldViolation("filter.end_time", "must be after start_time"))
    outcome = None
    if message.outcome != pb.AUDIT_OUTCOME_UNSPECIFIED:
        outcome = _OUTCOME_OF.get(message.outcome)
        if outcome is None:
            violations.append(FieldViolation("filter.outcome", "unknown outcome"))
    where = AuditFilter(
        actor_id=actor_id,
        action=_text_of("filter.action", message.action, violations),
        target_type=_text_of("filter.target_type", message.target_type, violations),
        target_id=_text_of("filter.target_id", message.target_id, violations),
        start_time=start,
        end_time=end,
        outcome=outcome,
    )
    if violations:
        raise InvalidArgument(violations)
    return where


def event_message(event: AuditEventView) -> pb.AuditEvent:
    micros = (event.occurred_at - _EPOCH) // _MICROSECOND
    return pb.AuditEvent(
        event_id=str(event.event_id),
        event_time=timestamp_pb2.Timestamp(seconds=micros // 1_000_000, nanos=(micros % 1_000_000) * 1000),
        actor_id=str(event.actor_id) if event.actor_id else "",
        actor_role=event.actor_role,
        action=event.action,
        target_type=event.target_type,
        target_id=event.target_id,
        outcome=_OUTCOME[event.outcome],
        request_id=event.request_id or "",
        detail=event.detail or "",
    )


class AuditServicer(rpc.AuditServiceServicer):
    def __init__(self, reader: AuditLogReader) -> None:
        self._reader = reader

    async def ListAuditEvents(
        self, request: pb.ListAuditEventsRequest, context: _Context
    ) -> pb.ListAuditEventsResponse:
        page = await self._reader.list_events(
            current_principal(), filter_of(request.filter), request.page_size, request.page_token
        )
        return pb.ListAuditEventsResponse(
            events=[event_message(e) for e in page.events], next_page_token=page.next_page_token
        )

    async def ExportAuditEventsCsv(
        self, request: pb.ExportAuditEventsCsvRequest, context: _Context
    ) -> AsyncIterator[httpbody_pb2.HttpBody]:
        async for chunk in self._reader.export_csv(current_principal(), filter_of(request.filter)):
            yield httpbody_pb2.HttpBody(content_type="text/csv; charset=utf-8", data=chunk)


def audit_service_definition(session_factory: async_sessionmaker[AsyncSession]) -> ServiceDefinition:
    """AuditService for `start_server`, reading through `session_factory` as each caller."""
    servicer = AuditServicer(AuditLogReader(session_factory))
    return ServiceDefinition(
        pb.DESCRIPTOR.services_by_name["AuditService"].full_name,
        lambda server: rpc.add_AuditServiceServicer_to_server(servicer, server),
    )
