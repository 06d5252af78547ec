"""Who may call what, as the running services must answer it: one row per RPC, one column per caller.

`EXISTING` is each RPC called on the seeded class, meeting or job; `MISSING` is the same call with
an id that does not exist (RPCs without a target are not in it). Codes:

    ok  OK                   --  PERMISSION_DENIED      UN  UNAUTHENTICATED (no token)
    NF  NOT_FOUND            FP  FAILED_PRECONDITION    UA  UNAVAILABLE

NF, FP and UA come after authorization: the caller was let in, then the data or the missing Zoom
credentials said no. A caller refused an existing target must get the very same refusal for a
missing one: that is how PERMISSION_DENIED keeps from telling who may not know whether it exists.
To add a service's rows: add its calls to `CALLS` and its lines to both tables.
"""

from __future__ import annotations

import enum
import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf import duration_pb2, timestamp_pb2
from google.protobuf.message import Message
from rollcall.attendance.v1 import attendance_service_pb2 as att
from rollcall.audit.v1 import audit_service_pb2 as aud
from rollcall.registration.v1 import registration_service_pb2 as reg

from common.security.policy import SERVICE_SCOPES, Action, Relation
from tests.integration.security.conftest import Clients, World
from tests.support.tokens import bearer

__all__ = ["CALLS", "CODES", "EXISTING", "MISSING", "Rpc", "Who", "call", "expected", "metadata_for", "relations"]


class Who(enum.Enum):
    ADMIN = "admin"
    CLASS_TEACHER = "teacher"
    OTHER_TEACHER = "other_t"
    MEETING_HOST = "host"
    ENROLLED_STUDENT = "student"
    OTHER_STUDENT = "other_s"
    SERVICE_WITH_SCOPE = "svc+"
    SERVICE_WITHOUT_SCOPE = "svc-"
    ANONYMOUS = "anon"


CODES = {
    "ok": grpc.StatusCode.OK,
    "--": grpc.StatusCode.PERMISSION_DENIED,
    "UN": grpc.StatusCode.UNAUTHENTICATED,
    "NF": grpc.StatusCode.NOT_FOUND,
    "FP": grpc.StatusCode.FAILED_PRECONDITION,
    "UA": grpc.StatusCode.UNAVAILABLE,
}

EXISTING = """
rpc                        admin teacher other_t host student other_s svc+ svc- anon
GetMeetingParticipants     ok    ok      --      ok   --      --      --   --   UN
GetMeetingAttendance       ok    ok      --      ok   --      --      --   --   UN
SyncMeetingAttendance      FP    FP      --      FP   --      --      FP   --   UN
WatchMeetingParticipants   ok    ok      --      ok   --      --      --   --   UN
ListAttendanceRecords      ok    ok      --      --   ok      --      ok   --   UN
StreamAttendanceRecords    ok    ok      --      --   ok      --      ok   --   UN
ExportAttendanceCsv        ok    ok      --      --   --      --      --   --   UN
UpdateAttendanceRecord     ok    ok      --      --   --      --      --   --   UN
CreateQrCheckInCode        --    ok      --      --   --      --      --   --   UN
RecordQrCheckIn            --    --      --      --   ok      --      --   --   UN
IngestZoomEvent            --    --      --      --   --      --      ok   --   UN
ListAuditEvents            ok    --      --      --   --      --      --   --   UN
ExportAuditEventsCsv       ok    --      --      --   --      --      --   --   UN
RegisterStudent            ok    --      --      --   --      --      --   --   UN
StartClassRegistration     ok    --      --      --   --      --      --   --   UN
GetRegistrationJob         ok    ok      --      --   --      --      --   --   UN
WatchRegistrationJob       ok    ok      --      --   --      --      --   --   UN
CancelRegistrationJob      ok    --      --      --   --      --      --   --   UN
ListMeetingRegistrants     ok    ok      --      --   --      --      --   --   UN
CancelRegistration         ok    ok      --      --   --      --      --   --   UN
CreateClassMeeting         UA    UA      --      --   --      --      --   --   UN
LinkZoomMeeting            UA    UA      --      --   --      --      --   --   UN
ListClasses                ok    ok      ok      ok   ok      ok      ok   --   UN
ListClassMeetings          ok    ok      --      --   ok      --      ok   --   UN
ListClassStudents          ok    ok      --      --   --      --      --   --   UN
"""

MISSING = """
rpc                        admin teacher other_t host student other_s svc+ svc- anon
GetMeetingParticipants     NF    --      --      --   --      --      --   --   UN
GetMeetingAttendance       NF    --      --      --   --      --      --   --   UN
SyncMeetingAttendance      NF    --      --      --   --      --      NF   --   UN
WatchMeetingParticipants   NF    --      --      --   --      --      --   --   UN
ListAttendanceRecords      ok    --      --      --   --      --      ok   --   UN
StreamAttendanceRecords    ok    --      --      --   --      --      ok   --   UN
ExportAttendanceCsv        ok    --      --      --   --      --      --   --   UN
UpdateAttendanceRecord     FP    --      --      --   --      --      --   --   UN
CreateQrCheckInCode        --    --      --      --   --      --      --   --   UN
RegisterStudent            NF    --      --      --   --      --      --   --   UN
StartClassRegistration     NF    --      --      --   --      --      --   --   UN
GetRegistrationJob         NF    --      --      --   --      --      --   --   UN
WatchRegistrationJob       NF    --      --      --   --      --      --   --   UN
CancelRegistrationJob      NF    --      --      --   --      --      --   --   UN
ListMeetingRegistrants     NF    --      --      --   --      --      --   --   UN
CancelRegistration         NF    --      --      --   --      --      --   --   UN
CreateClassMeeting         NF    --      --      --   --      --      --   --   UN
LinkZoomMeeting            NF    --      --      --   --      --      --   --   UN
ListClassMeetings          NF    --      --      --   --      --      NF   --   UN
ListClassStudents          NF    --      --      --   --      --      --   --   UN
"""


def _parse(table: str) -> dict[str, dict[Who, str]]:
    header, *rows = [line.split() for line in table.strip().splitlines()]
    columns = [Who(name) for name in header[1:]]
    parsed = {}
    for name, *codes in rows:
        assert len(codes) == len(columns), f"row {name} has {len(codes)} cells"
        assert set(codes) <= set(CODES), f"row {name} has an unknown code"
        parsed[name] = dict(zip(columns, codes, strict=True))
    return parsed


def expected(rpc: str, who: Who, *, target_exists: bool) -> str | None:
    """The table's code for the cell, or None when the RPC has no target to leave out."""
    table = _parse(EXISTING if target_exists else MISSING)
    return table[rpc][who] if rpc in table else None


# ---- callers ------------------------------------------------------------------------------------

_ALL_SCOPES = frozenset(SERVICE_SCOPES.values()) | {"gateway"}
Metadata = tuple[tuple[str, str], ...]


def metadata_for(who: Who, world: World, action: Action) -> Metadata:
    """The caller's token: a service "with scope" holds exactly the action's scope (every scope
    when the action has none, to show that no scope grants it), "without" every other one."""
    needed = SERVICE_SCOPES.get(action)
    if who is Who.ANONYMOUS:
        return ()
    if who is Who.SERVICE_WITH_SCOPE:
        return bearer(world.service, "service", *sorted({needed} if needed else _ALL_SCOPES))
    if who is Who.SERVICE_WITHOUT_SCOPE:
        return bearer(world.service, "service", *sorted(_ALL_SCOPES - {needed}))
    user, role = {
        Who.ADMIN: (world.admin, "admin"),
        Who.CLASS_TEACHER: (world.class_teacher, "teacher"),
        Who.OTHER_TEACHER: (world.other_teacher, "teacher"),
        Who.MEETING_HOST: (world.host, "teacher"),
        Who.ENROLLED_STUDENT: (world.student, "student"),
        Who.OTHER_STUDENT: (world.other_student, "student"),
    }[who]
    return bearer(user, role)


def relations(who: Who, action: Action, target: str, *, target_exists: bool) -> frozenset[Relation]:
    """The caller's relations to the target in the policy's terms (`target` is meeting, class, job
    or none): what the table's allowed cells must agree with."""
    exists = target_exists or target == "none"
    match who:
        case Who.ADMIN:
            return frozenset({Relation.ADMIN})
        case Who.CLASS_TEACHER:
            return frozenset({Relation.CLASS_TEACHER if exists else Relation.OTHER_TEACHER})
        case Who.OTHER_TEACHER:
            return frozenset({Relation.OTHER_TEACHER})
        case Who.MEETING_HOST:
            hosts = exists and target == "meeting"
            return frozenset({Relation.OTHER_TEACHER, *([Relation.MEETING_HOST] if hosts else [])})
        case Who.ENROLLED_STUDENT:
            return frozenset({Relation.ENROLLED_STUDENT if exists else Relation.OTHER_STUDENT})
        case Who.OTHER_STUDENT:
            return frozenset({Relation.OTHER_STUDENT})
        case Who.SERVICE_WITH_SCOPE:
            scoped = action in SERVICE_SCOPES
            return frozenset({Relation.SERVICE_WITH_SCOPE if scoped else Relation.SERVICE_WITHOUT_SCOPE})
        case Who.SERVICE_WITHOUT_SCOPE:
            return frozenset({Relation.SERVICE_WITHOUT_SCOPE})
        case Who.ANONYMOUS:
            return frozenset()


# ---- the calls ----------------------------------------------------------------------------------

_TIMEOUT = 10
Request = Callable[[World, bool], Message]  # the request for the seeded target (True) or a missing one


@dataclass(frozen=True)
class Rpc:
    service: str  # the Clients attribute: attendance, audit or registration
    action: Action
    target: str  # what the request's ids name: "meeting", "class", "job" or "none"
    request: Request
    stream: str = ""  # "first": read one message of an open-ended stream; "all": read to the end


def _meeting(world: World, here: bool) -> int:
    return world.meeting_id if here else world.missing_meeting_id()


def _class(world: World, here: bool) -> str:
    return str(world.class_id if here else uuid.uuid4())


def _job(world: World, here: bool) -> str:
    return str(world.job_id if here else uuid.uuid4())


def _in_a_month() -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(datetime.now(UTC) + timedelta(days=30))
    return stamp


def _zoom_event() -> bytes:
    body = {
        "event": "meeting.started",
        "event_ts": int(time.time() * 1000) + random.randrange(10**6),
        "payload": {"account_id": "acct", "object": {"id": random.randrange(10**12, 10**13), "uuid": uuid.uuid4().hex}},
    }
    return json.dumps(body).encode()


_DATES = {"start_date": "2026-11-01", "end_date": "2026-11-30"}

CALLS: dict[str, Rpc] = {
    # AttendanceService
    "GetMeetingParticipants": Rpc(
        "attendance",
        Action.READ_PARTICIPANTS,
        "meeting",
        lambda w, here: att.GetMeetingParticipantsRequest(meeting_id=_meeting(w, here)),
    ),
    "GetMeetingAttendance": Rpc(
        "attendance",
        Action.READ_ATTENDANCE,
        "meeting",
        lambda w, here: att.GetMeetingAttendanceRequest(meeting_id=_meeting(w, here)),
    ),
    "SyncMeetingAttendance": Rpc(
        "attendance",
        Action.SYNC_ATTENDANCE,
        "meeting",
        lambda w, here: att.SyncMeetingAttendanceRequest(meeting_id=_meeting(w, here)),
    ),
    "WatchMeetingParticipants": Rpc(
        "attendance",
        Action.READ_PARTICIPANTS,
        "meeting",
        lambda w, here: att.WatchMeetingParticipantsRequest(meeting_id=_meeting(w, here)),
        "first",
    ),
    "ListAttendanceRecords": Rpc(
        "attendance",
        Action.LIST_ATTENDANCE_RECORDS,
        "class",
        lambda w, here: att.ListAttendanceRecordsRequest(class_id=_class(w, here)),
    ),
    "StreamAttendanceRecords": Rpc(
        "attendance",
        Action.LIST_ATTENDANCE_RECORDS,
        "class",
        lambda w, here: att.StreamAttendanceRecordsRequest(class_id=_class(w, here)),
        "all",
    ),
    "ExportAttendanceCsv": Rpc(
        "attendance",
        Action.EXPORT_ATTENDANCE,
        "class",
        lambda w, here: att.ExportAttendanceCsvRequest(class_id=_class(w, here), **_DATES),
        "all",
    ),
    "UpdateAttendanceRecord": Rpc(
        "attendance",
        Action.UPDATE_ATTENDANCE_RECORD,
        "class",
        lambda w, here: att.UpdateAttendanceRecordRequest(
            class_id=_class(w, here),
            student_id=str(w.student),
            attendance_date="2026-11-02",
            status=att.ATTENDANCE_STATUS_EXCUSED,
        ),
    ),
    "CreateQrCheckInCode": Rpc(
        "attendance",
        Action.CREATE_QR_CODE,
        "class",
        lambda w, here: att.CreateQrCheckInCodeRequest(class_id=_class(w, here)),
    ),
    "RecordQrCheckIn": Rpc(
        "attendance", Action.RECORD_QR_CHECK_IN, "none", lambda w, here: att.RecordQrCheckInRequest()
    ),  # `call` adds a fresh code of the class
    "IngestZoomEvent": Rpc(
        "attendance",
        Action.INGEST_ZOOM_EVENT,
        "none",
        lambda w, here: att.IngestZoomEventRequest(body=_zoom_event(), request_timestamp=int(time.time())),
    ),
    # AuditService
    "ListAuditEvents": Rpc(
        "audit",
        Action.READ_AUDIT_LOG,
        "none",
        lambda w, here: aud.ListAuditEventsRequest(filter=aud.AuditEventFilter(actor_id=str(w.admin)), page_size=5),
    ),
    "ExportAuditEventsCsv": Rpc(
        "audit",
        Action.READ_AUDIT_LOG,
        "none",
        lambda w, here: aud.ExportAuditEventsCsvRequest(filter=aud.AuditEventFilter(actor_id=str(w.admin))),
        "all",
    ),
    # RegistrationService
    "RegisterStudent": Rpc(
        "registration",
        Action.REGISTER_STUDENT,
        "class",
        lambda w, here: reg.RegisterStudentRequest(class_id=_class(w, here), student_id=str(w.registered_student)),
    ),
    "StartClassRegistration": Rpc(
        "registration",
        Action.START_CLASS_REGISTRATION,
        "class",
        lambda w, here: reg.StartClassRegistrationRequest(class_id=_class(w, here)),
    ),
    "GetRegistrationJob": Rpc(
        "registration",
        Action.READ_REGISTRATION_JOB,
        "job",
        lambda w, here: reg.GetRegistrationJobRequest(job_id=_job(w, here)),
    ),
    "WatchRegistrationJob": Rpc(
        "registration",
        Action.READ_REGISTRATION_JOB,
        "job",
        lambda w, here: reg.WatchRegistrationJobRequest(job_id=_job(w, here)),
        "first",
    ),
    "CancelRegistrationJob": Rpc(
        "registration",
        Action.CANCEL_REGISTRATION_JOB,
        "job",
        lambda w, here: reg.CancelRegistrationJobRequest(job_id=_job(w, here)),
    ),
    "ListMeetingRegistrants": Rpc(
        "registration",
        Action.LIST_MEETING_REGISTRANTS,
        "meeting",
        lambda w, here: reg.ListMeetingRegistrantsRequest(meeting_id=_meeting(w, here)),
    ),
    "CancelRegistration": Rpc(
        "registration",
        Action.CANCEL_REGISTRATION,
        "meeting",
        lambda w, here: reg.CancelRegistrationRequest(
            meeting_id=_meeting(w, here), student_id=str(w.cancelled_student)
        ),
    ),
    "CreateClassMeeting": Rpc(
        "registration",
        Action.CREATE_CLASS_MEETING,
        "class",
        lambda w, here: reg.CreateClassMeetingRequest(
            class_id=_class(w, here),
            topic="Math",
            start_time=_in_a_month(),
            duration=duration_pb2.Duration(seconds=3600),
        ),
    ),
    "LinkZoomMeeting": Rpc(
        "registration",
        Action.LINK_ZOOM_MEETING,
        "class",
        lambda w, here: reg.LinkZoomMeetingRequest(class_id=_class(w, here), meeting_id=w.meeting_id),
    ),
    "ListClasses": Rpc("registration", Action.LIST_CLASSES, "none", lambda w, here: reg.ListClassesRequest()),
    "ListClassMeetings": Rpc(
        "registration",
        Action.LIST_CLASS_MEETINGS,
        "class",
        lambda w, here: reg.ListClassMeetingsRequest(class_id=_class(w, here)),
    ),
    "ListClassStudents": Rpc(
        "registration",
        Action.LIST_CLASS_STUDENTS,
        "class",
        lambda w, here: reg.ListClassStudentsRequest(class_id=_class(w, here)),
    ),
}


async def call(name: str, clients: Clients, world: World, *, target_exists: bool, metadata: Metadata) -> None:
    """Makes the call; a refusal raises grpc.aio.AioRpcError."""
    rpc = CALLS[name]
    request = rpc.request(world, target_exists)
    if isinstance(request, att.RecordQrCheckInRequest):
        issued = await clients.attendance.CreateQrCheckInCode(
            att.CreateQrCheckInCodeRequest(class_id=str(world.class_id)),
            metadata=bearer(world.class_teacher, "teacher"),
        )
        request.code = issued.code
    method = getattr(getattr(clients, rpc.service), name)
    answer = method(request, metadata=metadata, timeout=_TIMEOUT)
    if not rpc.stream:
        await answer
        return
    async for _ in answer:
        if rpc.stream == "first":
            answer.cancel()  # an open-ended stream: its first message shows the caller was let in
            return
