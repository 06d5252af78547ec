"""AttendanceService over gRPC: requests to use-case calls, results to messages, nothing more.

Exceptions travel to the interceptor, which maps them to statuses in one table.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
from google.api import httpbody_pb2
from rollcall.attendance.v1 import attendance_service_pb2 as pb
from rollcall.attendance.v1 import attendance_service_pb2_grpc as rpc

from attendance_service import messages
from attendance_service.live import RosterHub
from attendance_service.qr import QrCheckIns
from attendance_service.records import RecordKeeping
from attendance_service.service import MeetingReads
from attendance_service.sync import AttendanceSync
from attendance_service.webhooks import WebhookIngest
from common.grpc.convert import duration_message, timestamp_message
from common.grpc.registration import add_with_serializers
from common.security.principal import current_principal

__all__ = ["CLIENT_IP_HEADER", "GATEWAY_TOKEN_HEADER", "AttendanceServicer", "UseCases", "register"]

CLIENT_IP_HEADER = "x-rollcall-client-ip"
# The gateway's own bearer token, sent beside the student's: it vouches for the client IP.
GATEWAY_TOKEN_HEADER = "x-rollcall-gateway-authorization"  # noqa: S105 -- a header name
_Context = grpc.aio.ServicerContext[Any, Any]


@dataclass(frozen=True, slots=True)
class UseCases:
    reads: MeetingReads
    records: RecordKeeping
    sync: AttendanceSync
    webhooks: WebhookIngest
    qr: QrCheckIns
    roster: RosterHub


def _header(context: _Context, name: str) -> str | None:
    values = [v for k, v in context.invocation_metadata() or () if k == name and isinstance(v, str)]
    return values[0] if len(values) == 1 else None


def register(servicer: AttendanceServicer, server: grpc.aio.Server) -> None:
    """The generated registration, with participants answers serialized once per view."""
    serializers = {"GetMeetingParticipants": servicer.participants_serializer}
    add_with_serializers(rpc.add_AttendanceServiceServicer_to_server, servicer, server, serializers)


class AttendanceServicer(rpc.AttendanceServiceServicer):
    def __init__(self, use_cases: UseCases, *, held_responses: int = 256) -> None:
        self._uc = use_cases
        self._participants = messages.ParticipantsResponses(held_responses)
        self.participants_serializer = self._participants.serialize

    async def GetMeetingParticipants(
        self, request: pb.GetMeetingParticipantsRequest, context: _Context
    ) -> pb.GetMeetingParticipantsResponse:
        principal, meeting_id = current_principal(), messages.meeting_id_of(request.meeting_id)
        view = await self._uc.reads.participants(principal, meeting_id)
        return self._participants.of((meeting_id, principal.user_id, principal.role), view)

    async def GetMeetingAttendance(
        self, request: pb.GetMeetingAttendanceRequest, context: _Context
    ) -> pb.GetMeetingAttendanceResponse:
        sheet = await self._uc.reads.attendance(current_principal(), messages.meeting_id_of(request.meeting_id))
        return messages.attendance_response(sheet)

    async def SyncMeetingAttendance(
        self, request: pb.SyncMeetingAttendanceRequest, context: _Context
    ) -> pb.SyncMeetingAttendanceResponse:
        outcome = await self._uc.sync.sync_on_demand(
            current_principal(), messages.meeting_id_of(request.meeting_id), request.meeting_uuid
        )
        return messages.sync_response(outcome)

    async def WatchMeetingParticipants(
        self, request: pb.WatchMeetingParticipantsRequest, context: _Context
    ) -> AsyncIterator[pb.WatchMeetingParticipantsResponse]:
        meeting_id = messages.meeting_id_of(request.meeting_id)
        async for change in self._uc.roster.watch(current_principal(), meeting_id):
            yield messages.change_message(change)

    async def ListAttendanceRecords(
        self, request: pb.ListAttendanceRecordsRequest, context: _Context
    ) -> pb.ListAttendanceRecordsResponse:
        records, token = await self._uc.records.list_records(
            current_principal(), messages.record_filter(request), request.page_size, request.page_token
        )
        return pb.ListAttendanceRecordsResponse(records=messages.records_message(records), next_page_token=token)

    async def StreamAttendanceRecords(
        self, request: pb.StreamAttendanceRecordsRequest, context: _Context
    ) -> AsyncIterator[pb.StreamAttendanceRecordsResponse]:
        async for batch in self._uc.records.stream_records(current_principal(), messages.record_filter(request)):
            yield pb.StreamAttendanceRecordsResponse(records=messages.records_message(batch))

    async def ExportAttendanceCsv(
        self, request: pb.ExportAttendanceCsvRequest, context: _Context
    ) -> AsyncIterator[httpbody_pb2.HttpBody]:
        class_id = messages.uuid_of("class_id", request.class_id, required=True)
        start = messages.date_of("start_date", request.start_date, required=True)
        end = messages.date_of("end_date", request.end_date, required=True)
        assert class_id is not None  # required=True
        assert start is not None
        assert end is not None
        async for chunk in self._uc.records.export_csv(current_principal(), class_id, start, end):
            yield httpbody_pb2.HttpBody(content_type="text/csv; charset=utf-8", data=chunk)

    async def UpdateAttendanceRecord(
        self, request: pb.UpdateAttendanceRecordRequest, context: _Context
    ) -> pb.UpdateAttendanceRecordResponse:
        class_id = messages.uuid_of("class_id", request.class_id, required=True)
        student_id = messages.uuid_of("student_id", request.student_id, required=True)
        day = messages.date_of("attendance_date", request.attendance_date, required=True)
        assert class_id is not None  # required=True
        assert student_id is not None
        assert day is not None
        record = await self._uc.records.update_record(
            current_principal(),
            request_id=request.request_id,
            class_id=class_id,
            student_id=student_id,
            day=day,
            status=messages.status_of("status", request.status),
            note=request.note,
        )
        return pb.UpdateAttendanceRecordResponse(record=messages.record_message(record))

    async def CreateQrCheckInCode(
        self, request: pb.CreateQrCheckInCodeRequest, context: _Context
    ) -> pb.CreateQrCheckInCodeResponse:
        class_id = messages.uuid_of("class_id", request.class_id, required=True)
        assert class_id is not None
        issued = await self._uc.qr.create_code(current_principal(), class_id, request.meeting_id)
        return pb.CreateQrCheckInCodeResponse(
            code=issued.code,
            expire_time=timestamp_message(issued.expire_time),
            check_in_url=issued.check_in_url,
            rotation_interval=duration_message(issued.rotation),
        )

    async def RecordQrCheckIn(
        self, request: pb.RecordQrCheckInRequest, context: _Context
    ) -> pb.RecordQrCheckInResponse:
        gateway = _header(context, GATEWAY_TOKEN_HEADER)
        scheme, _, token = (gateway or "").partition(" ")
        record, flagged = await self._uc.qr.check_in(
            current_principal(),
            request.code,
            client_ip=_header(context, CLIENT_IP_HEADER),
            gateway_token=token.strip() if scheme.lower() == "bearer" else None,
        )
        return pb.RecordQrCheckInResponse(record=messages.record_message(record), flagged=flagged)

    async def IngestZoomEvent(
        self, request: pb.IngestZoomEventRequest, context: _Context
    ) -> pb.IngestZoomEventResponse:
        result = await self._uc.webhooks.ingest(current_principal(), request.body, request.request_timestamp)
        return pb.IngestZoomEventResponse(event=result.event, duplicate=result.duplicate)
