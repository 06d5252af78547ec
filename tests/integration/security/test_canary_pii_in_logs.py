"""Canary emails, names, client IPs, join URLs and tokens go through every RPC of both services
(and Zoom's webhooks, a sync and QR check-ins) at debug level; not one log line holds any of them."""

from __future__ import annotations

import ipaddress
import json
import time
import uuid
from collections.abc import AsyncIterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
import httpx
import jwt
import psycopg
import pytest
from google.protobuf import duration_pb2, timestamp_pb2
from rollcall.attendance.v1 import attendance_service_pb2 as att
from rollcall.attendance.v1 import attendance_service_pb2_grpc as att_rpc
from rollcall.audit.v1 import audit_service_pb2 as aud
from rollcall.audit.v1 import audit_service_pb2_grpc as aud_rpc
from rollcall.registration.v1 import registration_service_pb2 as reg
from rollcall.registration.v1 import registration_service_pb2_grpc as reg_rpc

from common.db import libpq_url
from tests.integration.security.canary import CanarySchool, canary_stack, emulator_registrants, seed_canary_school
from tests.support.polling import eventually

_DESCRIPTORS = (
    att.DESCRIPTOR.services_by_name["AttendanceService"],
    aud.DESCRIPTOR.services_by_name["AuditService"],
    reg.DESCRIPTOR.services_by_name["RegistrationService"],
)


@dataclass(frozen=True)
class Run:
    """What the stack logged, what must not be in it, and evidence the canaries really flowed."""

    logs: dict[str, list[str]]
    canaries: set[str]
    participant_names: set[str]
    registered_emails: set[str]
    stored_ip_key_ids: list[str]


def _stamp(moment: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


async def _drain(stream: AsyncIterable[object]) -> int:
    return len([item async for item in stream])


async def _registration_rpcs(school: CanarySchool, registration: reg_rpc.RegistrationServiceAsyncStub) -> None:
    admin = school.md("admin", "admin", user=school.admin.id)
    teacher = school.md("teacher", "teacher", user=school.teacher.id)
    class_id = str(school.class_id)
    first = await registration.RegisterStudent(
        reg.RegisterStudentRequest(class_id=class_id, student_id=str(school.students[0].id)), metadata=admin
    )
    school.seen.extend(r.join_url for r in first.registrations if r.join_url)
    job = (
        await registration.StartClassRegistration(reg.StartClassRegistrationRequest(class_id=class_id), metadata=admin)
    ).job

    async def job_done() -> bool:
        reply = await registration.GetRegistrationJob(reg.GetRegistrationJobRequest(job_id=job.job_id), metadata=admin)
        return reply.job.state == reg.JOB_STATE_COMPLETED

    await eventually(job_done, within=30, what="the class registration job")
    assert await _drain(
        registration.WatchRegistrationJob(reg.WatchRegistrationJobRequest(job_id=job.job_id), metadata=admin)
    )
    await registration.CancelRegistrationJob(reg.CancelRegistrationJobRequest(job_id=job.job_id), metadata=admin)
    listed = await registration.ListMeetingRegistrants(
        reg.ListMeetingRegistrantsRequest(meeting_id=school.meeting_id), metadata=teacher
    )
    assert {r.email for r in listed.registrants} == {s.email for s in school.students}
    school.seen.extend(r.join_url for r in listed.registrants if r.join_url)
    await registration.CancelRegistration(
        reg.CancelRegistrationRequest(meeting_id=school.meeting_id, student_id=str(school.students[2].id)),
        metadata=teacher,
    )
    await registration.ListClasses(reg.ListClassesRequest(), metadata=teacher)
    await registration.ListClassMeetings(reg.ListClassMeetingsRequest(class_id=class_id), metadata=teacher)
    students = await registration.ListClassStudents(reg.ListClassStudentsRequest(class_id=class_id), metadata=teacher)
    assert {s.email for s in students.students} == {s.email for s in school.students}
    created = await registration.CreateClassMeeting(
        reg.CreateClassMeetingRequest(
            class_id=class_id,
            topic=f"Review with {school.students[1].name}",
            start_time=_stamp(datetime.now(UTC) + timedelta(days=9)),
            duration=duration_pb2.Duration(seconds=3600),
        ),
        metadata=teacher,
    )
    assert created.meeting.meeting_id
    await registration.LinkZoomMeeting(
        reg.LinkZoomMeetingRequest(class_id=class_id, meeting_id=school.meeting_id), metadata=teacher
    )
    with pytest.raises(grpc.aio.AioRpcError):  # a canary where an id belongs
        await registration.RegisterStudent(
            reg.RegisterStudentRequest(class_id=school.students[0].email, student_id=school.students[0].name),
            metadata=admin,
        )


def _script(school: CanarySchool, registrant_id: str) -> list[dict[str, object]]:
    _, second, guest = school.students
    return [
        {"at_seconds": 0, "action": "start"},
        {"at_seconds": 0, "action": "join", "registrant_id": registrant_id, "as": "first"},
        {"at_seconds": 60, "action": "join", "email": second.email, "name": second.name, "as": "second"},
        {"at_seconds": 120, "action": "join", "name": guest.name, "guest": True, "as": "guest"},
        {"at_seconds": 3000, "action": "leave", "as": "second"},
        {"at_seconds": 3600, "action": "end"},
    ]


def _run_meeting(school: CanarySchool, database_url: str, admin: httpx.Client, registrant_id: str) -> None:
    """Moves the meeting three hours back and plays it at the emulator, which sends its webhooks."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    body = {"host_id": school.host_zoom_id, "topic": "Math", "type": 2, "start_time": start.isoformat(), "duration": 60}
    admin.put(f"/_emulator/meetings/{school.meeting_id}", json=body).raise_for_status()
    with psycopg.connect(libpq_url(database_url), autocommit=True) as owner:
        owner.execute("UPDATE zoom_meetings SET start_time = %s WHERE id = %s", (start, school.meeting_id))
    admin.post(
        f"/_emulator/meetings/{school.meeting_id}/simulate",
        json={"start_time": start.isoformat(), "script": _script(school, registrant_id)},
    ).raise_for_status()


async def _attendance_rpcs(school: CanarySchool, attendance: att_rpc.AttendanceServiceAsyncStub) -> set[str]:
    teacher = school.md("teacher", "teacher", user=school.teacher.id)
    meeting = school.meeting_id
    sheet = att.GetMeetingAttendanceResponse()

    async def synced() -> bool:
        nonlocal sheet
        sheet = await attendance.GetMeetingAttendance(
            att.GetMeetingAttendanceRequest(meeting_id=meeting), metadata=teacher
        )
        return len(sheet.records) == len(school.students) and not sheet.provisional

    await eventually(synced, within=30, what="the automatic sync after meeting.ended")
    await attendance.SyncMeetingAttendance(att.SyncMeetingAttendanceRequest(meeting_id=meeting), metadata=teacher)
    people = await attendance.GetMeetingParticipants(
        att.GetMeetingParticipantsRequest(meeting_id=meeting), metadata=teacher
    )
    assert await _drain(
        attendance.WatchMeetingParticipants(att.WatchMeetingParticipantsRequest(meeting_id=meeting), metadata=teacher)
    )
    reader = school.md("school-system", "service", "attendance.read")
    await attendance.ListAttendanceRecords(
        att.ListAttendanceRecordsRequest(class_id=str(school.class_id)), metadata=reader
    )
    assert await _drain(
        attendance.StreamAttendanceRecords(
            att.StreamAttendanceRecordsRequest(class_id=str(school.class_id)), metadata=reader
        )
    )
    day = sheet.attendance_date
    assert await _drain(
        attendance.ExportAttendanceCsv(
            att.ExportAttendanceCsvRequest(class_id=str(school.class_id), start_date=day, end_date=day),
            metadata=teacher,
        )
    )
    await attendance.UpdateAttendanceRecord(
        att.UpdateAttendanceRecordRequest(
            class_id=str(school.class_id),
            student_id=str(school.students[2].id),
            attendance_date=day,
            status=att.ATTENDANCE_STATUS_EXCUSED,
            note=f"parent {school.students[2].email} called from {school.ipv4}",
        ),
        metadata=teacher,
    )
    await _qr_check_ins(school, attendance)
    gateway = school.md("gateway", "service", "zoom.webhooks", "gateway")
    event = {
        "event": "meeting.participant_joined",
        "event_ts": int(time.time() * 1000),
        "payload": {
            "account_id": "acct",
            "object": {
                "id": "99999999999",
                "uuid": uuid.uuid4().hex,
                "participant": {
                    "user_name": school.students[0].name,
                    "email": school.students[0].email,
                    "ip_address": school.ipv4,
                },
            },
        },
    }
    await attendance.IngestZoomEvent(
        att.IngestZoomEventRequest(body=json.dumps(event).encode(), request_timestamp=int(time.time())),
        metadata=gateway,
    )
    return {p.display_name for p in people.participants}


async def _qr_check_ins(school: CanarySchool, attendance: att_rpc.AttendanceServiceAsyncStub) -> None:
    teacher = school.md("teacher", "teacher", user=school.teacher.id)
    code = (
        await attendance.CreateQrCheckInCode(
            att.CreateQrCheckInCodeRequest(class_id=str(school.class_id)), metadata=teacher
        )
    ).code
    gateway = school.md("gateway-qr", "service", "gateway")[0][1]
    addresses = (school.ipv4, school.ipv6, f"::ffff:{school.ipv4}")
    for number, (student, address) in enumerate(zip(school.students, addresses, strict=True)):
        md = (
            *school.md(f"student{number}", "student", user=student.id),
            ("x-rollcall-client-ip", address),
            ("x-rollcall-gateway-authorization", gateway),
        )
        await attendance.RecordQrCheckIn(att.RecordQrCheckInRequest(code=code), metadata=md)


async def _refused_tokens(school: CanarySchool, registration: reg_rpc.RegistrationServiceAsyncStub) -> None:
    forged = jwt.encode({"sub": str(school.admin.id), "role": "admin", "email": school.admin.email}, "k" * 32)
    school.tokens["forged"] = forged
    school.tokens["opaque"] = f"canarytoken{school.tag}{uuid.uuid4().hex}"
    for token in (forged, school.tokens["opaque"]):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await registration.ListClasses(reg.ListClassesRequest(), metadata=(("authorization", f"Bearer {token}"),))
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def _audit_rpcs(school: CanarySchool, audit: aud_rpc.AuditServiceAsyncStub) -> None:
    admin = school.md("admin", "admin", user=school.admin.id)
    where = aud.AuditEventFilter(target_id=school.students[0].email)
    await audit.ListAuditEvents(aud.ListAuditEventsRequest(filter=where), metadata=admin)
    await _drain(
        audit.ExportAuditEventsCsv(
            aud.ExportAuditEventsCsvRequest(filter=aud.AuditEventFilter(actor_id=str(school.admin.id))), metadata=admin
        )
    )


@pytest.fixture(scope="module")
async def run(database_url: str) -> Run:
    with canary_stack(database_url) as stack:
        school = seed_canary_school(database_url, stack.emulator)
        async with (
            grpc.aio.insecure_channel(stack.attendance_target) as attendance_channel,
            grpc.aio.insecure_channel(stack.registration_target) as registration_channel,
        ):
            registration = reg_rpc.RegistrationServiceStub(registration_channel)
            await _registration_rpcs(school, registration)
            registrants = emulator_registrants(stack.emulator, school.meeting_id)
            first = next(r for r in registrants if r["email"] == school.students[0].email)
            _run_meeting(school, database_url, stack.emulator.admin(), str(first["id"]))
            names = await _attendance_rpcs(school, att_rpc.AttendanceServiceStub(attendance_channel))
            await _refused_tokens(school, registration)
            await _audit_rpcs(school, aud_rpc.AuditServiceStub(registration_channel))
        stack.stop()
        with psycopg.connect(libpq_url(database_url)) as owner:
            key_ids = [
                row[0]
                for row in owner.execute("SELECT ip_key_id FROM qr_checkins WHERE class_id = %s", (school.class_id,))
            ]
        return Run(
            logs=stack.logs(),
            canaries=school.canaries(),
            participant_names=names,
            registered_emails={str(r["email"]) for r in registrants},
            stored_ip_key_ids=key_ids,
        )


def _spellings(value: str) -> set[str]:
    """The value as a log might spell it: IPv6 both compressed and in full."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return {value.lower()}
    return {address.compressed.lower(), address.exploded.lower()}


def _hits(logs: dict[str, list[str]], canaries: set[str]) -> list[tuple[str, int, str]]:
    spellings = {spelling for canary in canaries for spelling in _spellings(canary)}
    return [
        (process, number, canary)
        for process, lines in logs.items()
        for number, line in enumerate(lines, 1)
        for canary in spellings
        if canary in line.lower()
    ]


def test_no_log_line_holds_a_canary(run: Run) -> None:
    assert _hits(run.logs, run.canaries) == []


def test_the_scan_finds_a_canary_however_it_is_spelled(run: Run) -> None:
    ipv6 = next(c for c in run.canaries if c.startswith("2001:db8:"))
    name = next(c for c in run.canaries if c.startswith("Zorbstudent"))
    planted = {"planted": ["{}", f'{{"note": "{name.upper()}"}}', ipaddress.ip_address(ipv6).exploded]}
    hits = _hits(planted, run.canaries)
    assert {line for _, line, _ in hits} == {2, 3}
    assert (2, name.lower()) in {(line, canary) for _, line, canary in hits}


def test_the_canaries_really_went_through_every_rpc(run: Run) -> None:
    """Teeth: the canaries reached Zoom and came back in the sync, and each RPC was logged."""
    assert sum(len(lines) for lines in run.logs.values()) > 100
    assert len(run.canaries) > 40
    assert run.registered_emails >= {c for c in run.canaries if c.startswith("canary.student") and "@" in c}
    assert any("Zorbstudent" in name for name in run.participant_names)
    assert run.stored_ip_key_ids == ["dev"] * 3  # pseudonyms, with the key id beside each
    logged_methods = {
        json.loads(line).get("method", "").rsplit("/", 1)[-1]
        for lines in run.logs.values()
        for line in lines
        if line.startswith("{") and '"rpc.done"' in line
    }
    assert {method.name for service in _DESCRIPTORS for method in service.methods} <= logged_methods
