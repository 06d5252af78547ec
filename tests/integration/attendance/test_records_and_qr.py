"""Records for school systems (keyset pages, streams, CSV), scoped by role, and QR check-ins."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, timedelta

import grpc
import pytest
from rollcall.attendance.v1 import attendance_service_pb2 as pb
from rollcall.attendance.v1 import attendance_service_pb2_grpc as rpc

from tests.integration.attendance.conftest import School, owner_connection, seed_school
from tests.support.tokens import bearer, token_for

DAYS = [date(2026, 11, 2) + timedelta(days=i) for i in range(5)]


@pytest.fixture(scope="module")
def school(database_url: str) -> School:
    school = seed_school(database_url, ("Ana Cruz", "Ben Santos", '=HYPERLINK("http://x")'), qr_ip_limit=1)
    with owner_connection(database_url) as owner:
        for day in DAYS:
            for student in school.students:
                owner.execute(
                    "INSERT INTO attendance_records (class_id, student_id, attendance_date, status, source, "
                    "attended_seconds) VALUES (%s, %s, %s, 'present', 'zoom', 3000)",
                    (school.class_id, student.id, day),
                )
    return school


async def _all_pages(
    stub: rpc.AttendanceServiceAsyncStub, request: pb.ListAttendanceRecordsRequest, md: tuple[tuple[str, str]]
) -> list[pb.AttendanceRecord]:
    records: list[pb.AttendanceRecord] = []
    while True:
        reply = await stub.ListAttendanceRecords(request, metadata=md, timeout=5)
        records.extend(reply.records)
        if not reply.next_page_token:
            return records
        request.page_token = reply.next_page_token


async def test_teachers_page_through_their_class_in_key_order(
    stub: rpc.AttendanceServiceAsyncStub, school: School
) -> None:
    request = pb.ListAttendanceRecordsRequest(class_id=str(school.class_id), page_size=4)
    records = await _all_pages(stub, request, school.teacher_md())
    keys = [(r.attendance_date, r.class_id, r.student_id) for r in records]
    assert len(keys) == 15
    assert keys == sorted(keys)
    assert len(set(keys)) == 15


async def test_students_see_only_their_own_records(stub: rpc.AttendanceServiceAsyncStub, school: School) -> None:
    ana = school.student("Ana Cruz")
    own = await _all_pages(stub, pb.ListAttendanceRecordsRequest(), bearer(ana.id, "student"))
    assert {r.student_id for r in own} == {str(ana.id)}
    assert len(own) == 5
    ben = school.student("Ben Santos")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.ListAttendanceRecords(
            pb.ListAttendanceRecordsRequest(student_id=str(ben.id)), metadata=bearer(ana.id, "student"), timeout=5
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_services_need_the_read_scope(stub: rpc.AttendanceServiceAsyncStub, school: School) -> None:
    request = pb.ListAttendanceRecordsRequest(class_id=str(school.class_id), start_date="2026-11-03")
    reply = await stub.ListAttendanceRecords(request, metadata=bearer(uuid.uuid4(), "service", "attendance.read"))
    assert len(reply.records) == 12
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.ListAttendanceRecords(request, metadata=bearer(uuid.uuid4(), "service"), timeout=5)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_a_page_token_is_refused_with_other_filters(stub: rpc.AttendanceServiceAsyncStub, school: School) -> None:
    first = await stub.ListAttendanceRecords(
        pb.ListAttendanceRecordsRequest(class_id=str(school.class_id), page_size=2), metadata=school.teacher_md()
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.ListAttendanceRecords(
            pb.ListAttendanceRecordsRequest(page_size=2, page_token=first.next_page_token), metadata=school.teacher_md()
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_stream_sends_every_record_in_batches(stub: rpc.AttendanceServiceAsyncStub, school: School) -> None:
    md = bearer(uuid.uuid4(), "service", "attendance.read")
    batches = [
        b
        async for b in stub.StreamAttendanceRecords(
            pb.StreamAttendanceRecordsRequest(class_id=str(school.class_id), end_date="2026-11-10"), metadata=md
        )
    ]
    assert sum(len(b.records) for b in batches) == 15
    assert all(len(b.records) <= 1000 for b in batches)


async def test_the_csv_export_defuses_formulas(stub: rpc.AttendanceServiceAsyncStub, school: School) -> None:
    request = pb.ExportAttendanceCsvRequest(
        class_id=str(school.class_id), start_date="2026-11-01", end_date="2026-11-10"
    )
    chunks = [c async for c in stub.ExportAttendanceCsv(request, metadata=school.teacher_md())]
    assert {c.content_type for c in chunks} == {"text/csv; charset=utf-8"}
    rows = list(csv.reader(io.StringIO(b"".join(c.data for c in chunks).decode("utf-8-sig"))))
    assert len(rows) == 16
    assert '\'=HYPERLINK("http://x")' in {row[3] for row in rows}


async def test_qr_check_in_keeps_only_a_keyed_ip_hash_and_flags_a_shared_network(
    stub: rpc.AttendanceServiceAsyncStub, school: School, database_url: str
) -> None:
    issued = await stub.CreateQrCheckInCode(
        pb.CreateQrCheckInCodeRequest(class_id=str(school.class_id)), metadata=school.teacher_md(), timeout=5
    )
    assert issued.check_in_url.endswith(issued.code)
    gateway = token_for(uuid.uuid4(), "service", "gateway")

    async def check_in(student_id: uuid.UUID, ip: str) -> pb.RecordQrCheckInResponse:
        md = (
            *bearer(student_id, "student"),
            ("x-rollcall-client-ip", ip),
            ("x-rollcall-gateway-authorization", f"Bearer {gateway}"),
        )
        reply: pb.RecordQrCheckInResponse = await stub.RecordQrCheckIn(
            pb.RecordQrCheckInRequest(code=issued.code), metadata=md, timeout=5
        )
        return reply

    ana, ben = school.student("Ana Cruz"), school.student("Ben Santos")
    first = await check_in(ana.id, "203.0.113.7")
    assert not first.flagged
    assert first.record.source == pb.ATTENDANCE_SOURCE_QR
    second = await check_in(ben.id, "203.0.113.7")  # the class allows one student per network
    assert second.flagged
    with owner_connection(database_url) as owner:
        stored = owner.execute(
            "SELECT ip_hash, ip_key_id, flagged FROM qr_checkins WHERE class_id = %s", (school.class_id,)
        ).fetchall()
    hashes = [row[0] for row in stored]
    assert len(hashes) == 2
    assert all(isinstance(h, bytes) and len(h) == 32 and b"203.0.113.7" not in h for h in hashes)
    assert hashes[0] == hashes[1]
    assert all(row[2] for row in stored)
    stranger = uuid.uuid4()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await check_in(stranger, "198.51.100.1")
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_an_ip_without_the_gateways_word_is_not_trusted(
    stub: rpc.AttendanceServiceAsyncStub, school: School
) -> None:
    issued = await stub.CreateQrCheckInCode(
        pb.CreateQrCheckInCodeRequest(class_id=str(school.class_id)), metadata=school.teacher_md(), timeout=5
    )
    student = school.students[2]
    md = (*bearer(student.id, "student"), ("x-rollcall-client-ip", "192.0.2.1"))
    reply = await stub.RecordQrCheckIn(pb.RecordQrCheckInRequest(code=issued.code), metadata=md, timeout=5)
    assert reply.flagged
    # A character in the middle changes: the last one of a base64 text may carry unused bits only.
    middle = len(issued.code) // 2
    tampered = issued.code[:middle] + ("A" if issued.code[middle] != "A" else "B") + issued.code[middle + 1 :]
    with pytest.raises(grpc.aio.AioRpcError) as forged:
        await stub.RecordQrCheckIn(pb.RecordQrCheckInRequest(code=tampered), metadata=md, timeout=5)
    assert forged.value.code() == grpc.StatusCode.INVALID_ARGUMENT
