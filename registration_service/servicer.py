"""RegistrationService over gRPC: requests to use-case calls, results to messages, nothing more.

Mutations with a `request_id` run through the idempotency store: a repeat returns the first
response, the same key with another request is refused. Exceptions travel to the interceptor,
which maps them to statuses in one table.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from rollcall.registration.v1 import registration_service_pb2 as pb
from rollcall.registration.v1 import registration_service_pb2_grpc as rpc

from common.db.idempotency import Idempotency
from common.grpc.convert import meeting_id_of, uuid_of
from common.paging import page_size_of
from common.security.principal import current_principal
from registration_service import messages
from registration_service.catalog import Catalog
from registration_service.jobs import RegistrationJobs
from registration_service.register import StudentRegistration

__all__ = ["RegistrationServicer", "UseCases"]

_Context = grpc.aio.ServicerContext[Any, Any]
_Response = TypeVar("_Response", bound=Message)


@dataclass(frozen=True, slots=True)
class UseCases:
    students: StudentRegistration
    jobs: RegistrationJobs
    catalog: Catalog
    idempotency: Idempotency


class RegistrationServicer(rpc.RegistrationServiceServicer):
    def __init__(self, use_cases: UseCases) -> None:
        self._uc = use_cases

    async def _once(
        self,
        method: str,
        request: Message,
        key: str,
        response_type: type[_Response],
        run: Callable[[], Awaitable[_Response]],
    ) -> _Response:
        async def operation() -> bytes:
            return (await run()).SerializeToString(deterministic=True)

        raw = await self._uc.idempotency.run(
            str(current_principal().user_id), method, key, request.SerializeToString(deterministic=True), operation
        )
        return response_type.FromString(raw)

    async def RegisterStudent(
        self, request: pb.RegisterStudentRequest, context: _Context
    ) -> pb.RegisterStudentResponse:
        class_id = uuid_of("class_id", request.class_id)
        student_id = uuid_of("student_id", request.student_id)

        async def run() -> pb.RegisterStudentResponse:
            result = await self._uc.students.register(current_principal(), class_id, student_id)
            return messages.student_registration_response(result)

        return await self._once("RegisterStudent", request, request.request_id, pb.RegisterStudentResponse, run)

    async def StartClassRegistration(
        self, request: pb.StartClassRegistrationRequest, context: _Context
    ) -> pb.StartClassRegistrationResponse:
        class_id = uuid_of("class_id", request.class_id)
        meeting_ids = messages.meeting_ids_of(request.meeting_ids)

        async def run() -> pb.StartClassRegistrationResponse:
            view = await self._uc.jobs.start(current_principal(), class_id, meeting_ids)
            return pb.StartClassRegistrationResponse(job=messages.job_message(view))

        response = await self._once(
            "StartClassRegistration", request, request.request_id, pb.StartClassRegistrationResponse, run
        )
        if request.request_id:
            # A repeat returns the same job, as it is now rather than as it was first answered.
            view = await self._uc.jobs.get(current_principal(), uuid_of("job_id", response.job.job_id))
            response = pb.StartClassRegistrationResponse(job=messages.job_message(view))
        return response

    async def GetRegistrationJob(
        self, request: pb.GetRegistrationJobRequest, context: _Context
    ) -> pb.GetRegistrationJobResponse:
        view = await self._uc.jobs.get(current_principal(), uuid_of("job_id", request.job_id))
        return pb.GetRegistrationJobResponse(job=messages.job_message(view))

    async def WatchRegistrationJob(
        self, request: pb.WatchRegistrationJobRequest, context: _Context
    ) -> AsyncIterator[pb.WatchRegistrationJobResponse]:
        job_id = uuid_of("job_id", request.job_id)
        async for view in self._uc.jobs.watch(current_principal(), job_id):
            yield pb.WatchRegistrationJobResponse(job=messages.job_message(view))

    async def CancelRegistrationJob(
        self, request: pb.CancelRegistrationJobRequest, context: _Context
    ) -> pb.CancelRegistrationJobResponse:
        job_id = uuid_of("job_id", request.job_id)

        async def run() -> pb.CancelRegistrationJobResponse:
            view = await self._uc.jobs.cancel(current_principal(), job_id)
            return pb.CancelRegistrationJobResponse(job=messages.job_message(view))

        return await self._once(
            "CancelRegistrationJob", request, request.request_id, pb.CancelRegistrationJobResponse, run
        )

    async def ListMeetingRegistrants(
        self, request: pb.ListMeetingRegistrantsRequest, context: _Context
    ) -> pb.ListMeetingRegistrantsResponse:
        page = await self._uc.catalog.registrants(
            current_principal(),
            meeting_id_of(request.meeting_id),
            messages.registrant_statuses_of(request.status),
            page_size_of(request.page_size, default=100, maximum=1000),
            request.page_token,
        )
        return pb.ListMeetingRegistrantsResponse(
            registrants=[messages.registrant_message(r) for r in page.items],
            next_page_token=page.next_page_token,
            total_size=page.total,
        )

    async def CancelRegistration(
        self, request: pb.CancelRegistrationRequest, context: _Context
    ) -> pb.CancelRegistrationResponse:
        meeting_id = meeting_id_of(request.meeting_id)
        student_id = uuid_of("student_id", request.student_id)

        async def run() -> pb.CancelRegistrationResponse:
            registrant = await self._uc.catalog.cancel_registration(current_principal(), meeting_id, student_id)
            return pb.CancelRegistrationResponse(registrant=messages.registrant_message(registrant))

        return await self._once("CancelRegistration", request, request.request_id, pb.CancelRegistrationResponse, run)

    async def CreateClassMeeting(
        self, request: pb.CreateClassMeetingRequest, context: _Context
    ) -> pb.CreateClassMeetingResponse:
        class_id = uuid_of("class_id", request.class_id)
        new = messages.new_meeting_of(request)

        async def run() -> pb.CreateClassMeetingResponse:
            meeting = await self._uc.catalog.create_meeting(current_principal(), class_id, new)
            return pb.CreateClassMeetingResponse(meeting=messages.meeting_message(meeting))

        return await self._once("CreateClassMeeting", request, request.request_id, pb.CreateClassMeetingResponse, run)

    async def LinkZoomMeeting(
        self, request: pb.LinkZoomMeetingRequest, context: _Context
    ) -> pb.LinkZoomMeetingResponse:
        class_id = uuid_of("class_id", request.class_id)
        meeting_id = meeting_id_of(request.meeting_id)

        async def run() -> pb.LinkZoomMeetingResponse:
            meeting = await self._uc.catalog.link_meeting(current_principal(), class_id, meeting_id)
            return pb.LinkZoomMeetingResponse(meeting=messages.meeting_message(meeting))

        return await self._once("LinkZoomMeeting", request, request.request_id, pb.LinkZoomMeetingResponse, run)

    async def ListClasses(self, request: pb.ListClassesRequest, context: _Context) -> pb.ListClassesResponse:
        page = await self._uc.catalog.classes(
            current_principal(), page_size_of(request.page_size, default=100, maximum=500), request.page_token
        )
        return pb.ListClassesResponse(
            classes=[messages.class_message(c) for c in page.items],
            next_page_token=page.next_page_token,
        )

    async def ListClassStudents(
        self, request: pb.ListClassStudentsRequest, context: _Context
    ) -> pb.ListClassStudentsResponse:
        page = await self._uc.catalog.students(
            current_principal(),
            uuid_of("class_id", request.class_id),
            page_size_of(request.page_size, default=100, maximum=1000),
            request.page_token,
        )
        return pb.ListClassStudentsResponse(
            students=[messages.class_student_message(student, allowed) for student, allowed in page.items],
            next_page_token=page.next_page_token,
            total_size=page.total,
        )

    async def ListClassMeetings(
        self, request: pb.ListClassMeetingsRequest, context: _Context
    ) -> pb.ListClassMeetingsResponse:
        page = await self._uc.catalog.class_meetings(
            current_principal(),
            uuid_of("class_id", request.class_id),
            page_size_of(request.page_size, default=100, maximum=500),
            request.page_token,
        )
        return pb.ListClassMeetingsResponse(
            meetings=[messages.meeting_message(m) for m in page.items],
            next_page_token=page.next_page_token,
        )
