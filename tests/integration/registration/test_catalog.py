"""Classes, meetings and registrants: create and link meetings, list, page and cancel."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf import duration_pb2, timestamp_pb2
from rollcall.registration.v1 import registration_service_pb2 as pb

from tests.integration.registration.conftest import Replica, stored_registrants, zoom_registrants
from tests.support.emulator import EmulatorProcess
from tests.support.school import add_meeting, seed_class
from tests.support.tokens import bearer

SOON = datetime.now(UTC) + timedelta(days=2)


def _timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def test_teacher_creates_a_weekly_meeting_with_registration_on_and_repeats_are_idempotent(
    database_url: str, emulator: EmulatorProcess, replica: Replica
) -> None:
    school = seed_class(database_url, 2)
    request = pb.CreateClassMeetingRequest(
        request_id=f"create-{uuid.uuid4()}",
        class_id=str(school.class_id),
        topic="Science 7",
        start_time=_timestamp(SOON.replace(microsecond=0)),
        duration=duration_pb2.Duration(seconds=3600),
        type=pb.MEETING_TYPE_RECURRING_FIXED_TIME,
        recurrence=pb.Recurrence(type=pb.RECURRENCE_TYPE_WEEKLY, repeat_interval=1, weekly_days=[1, 3], end_times=10),
    )

    created = replica.stub.CreateClassMeeting(request, metadata=bearer(school.teacher, "teacher")).meeting
    again = replica.stub.CreateClassMeeting(request, metadata=bearer(school.teacher, "teacher")).meeting
    at_zoom = emulator.admin().get(f"/_emulator/meetings/{created.meeting_id}").json()
    listed = replica.stub.ListClassMeetings(
        pb.ListClassMeetingsRequest(class_id=str(school.class_id)), metadata=bearer(school.teacher, "teacher")
    ).meetings

    assert again.meeting_id == created.meeting_id
    assert created.type == pb.MEETING_TYPE_RECURRING_FIXED_TIME
    assert created.approval_mode == pb.APPROVAL_MODE_AUTOMATIC
    assert (at_zoom["type"], at_zoom["host_id"], at_zoom["settings"]["approval_type"]) == (8, school.host_zoom_id, 0)
    assert [m.meeting_id for m in listed] == [created.meeting_id]


def test_invalid_meeting_requests_name_every_bad_field(replica: Replica) -> None:
    with pytest.raises(grpc.RpcError) as invalid:
        replica.stub.CreateClassMeeting(
            pb.CreateClassMeetingRequest(
                class_id=str(uuid.uuid4()),
                topic="",
                duration=duration_pb2.Duration(seconds=10),
                timezone="Mars/Olympus",
                approval_mode=pb.APPROVAL_MODE_REGISTRATION_OFF,
            ),
            metadata=bearer(uuid.uuid4(), "admin"),
        )

    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for field in ("topic", "duration", "start_time", "timezone", "approval_mode"):
        assert field in (invalid.value.details() or "")


def test_linking_needs_registration_enabled_at_zoom(
    database_url: str, emulator: EmulatorProcess, replica: Replica
) -> None:
    school = seed_class(database_url, 1)
    open_meeting, closed_meeting = 90000000000 + uuid.uuid4().int % 10**9, 91000000000 + uuid.uuid4().int % 10**9
    for meeting_id, approval in ((open_meeting, 0), (closed_meeting, 2)):
        emulator.admin().put(
            f"/_emulator/meetings/{meeting_id}",
            json={"type": 2, "start_time": SOON.isoformat(), "approval_type": approval, "host_id": school.host_zoom_id},
        ).raise_for_status()
    admin = bearer(school.admin, "admin")

    linked = replica.stub.LinkZoomMeeting(
        pb.LinkZoomMeetingRequest(class_id=str(school.class_id), meeting_id=open_meeting), metadata=admin
    ).meeting
    with pytest.raises(grpc.RpcError) as refused:
        replica.stub.LinkZoomMeeting(
            pb.LinkZoomMeetingRequest(class_id=str(school.class_id), meeting_id=closed_meeting), metadata=admin
        )
    with pytest.raises(grpc.RpcError) as missing:
        replica.stub.LinkZoomMeeting(
            pb.LinkZoomMeetingRequest(class_id=str(school.class_id), meeting_id=99999999999), metadata=admin
        )

    assert linked.class_id == str(school.class_id)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


def test_registrants_page_by_name_and_cancelling_keeps_history(
    database_url: str, emulator: EmulatorProcess, replica: Replica
) -> None:
    school = seed_class(database_url, 5)
    meeting = add_meeting(database_url, school, emulator.root, start=SOON)
    admin = bearer(school.admin, "admin")
    for student in school.students:
        replica.stub.RegisterStudent(
            pb.RegisterStudentRequest(class_id=str(school.class_id), student_id=str(student)), metadata=admin
        )
    teacher = bearer(school.teacher, "teacher")

    pages, token = [], ""
    while True:
        page = replica.stub.ListMeetingRegistrants(
            pb.ListMeetingRegistrantsRequest(meeting_id=meeting.meeting_id, page_size=2, page_token=token),
            metadata=teacher,
        )
        pages.append(page)
        token = page.next_page_token
        if not token:
            break
    cancelled = replica.stub.CancelRegistration(
        pb.CancelRegistrationRequest(meeting_id=meeting.meeting_id, student_id=str(school.students[0])),
        metadata=teacher,
    ).registrant
    history = replica.stub.ListMeetingRegistrants(
        pb.ListMeetingRegistrantsRequest(meeting_id=meeting.meeting_id, status=pb.REGISTRANT_STATUS_CANCELLED),
        metadata=teacher,
    )

    names = [r.display_name for p in pages for r in p.registrants]
    assert [len(p.registrants) for p in pages] == [2, 2, 1]
    assert names == sorted(names)
    assert pages[0].total_size == 5
    assert cancelled.status == pb.REGISTRANT_STATUS_CANCELLED
    assert cancelled.HasField("cancel_time")
    assert [r.student_id for r in history.registrants] == [str(school.students[0])]
    assert len(stored_registrants(database_url, meeting.meeting_id)) == 4
    at_zoom = {r["email"]: r["status"] for r in zoom_registrants(emulator, meeting.meeting_id)}
    assert at_zoom[school.emails[school.students[0]]] == "cancelled"


def test_classes_are_listed_to_their_teacher_and_students_only(database_url: str, replica: Replica) -> None:
    school = seed_class(database_url, 2)
    other = seed_class(database_url, 1)

    def names(user: uuid.UUID, role: str) -> set[str]:
        answer = replica.stub.ListClasses(pb.ListClassesRequest(), metadata=bearer(user, role))
        return {c.class_id for c in answer.classes}

    assert names(school.teacher, "teacher") == {str(school.class_id)}
    assert names(school.students[0], "student") == {str(school.class_id)}
    assert {str(school.class_id), str(other.class_id)} <= names(school.admin, "admin")
    with pytest.raises(grpc.RpcError) as garbage:
        replica.stub.ListClasses(pb.ListClassesRequest(page_token="garbage"), metadata=bearer(school.admin, "admin"))
    assert garbage.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_class_students_page_by_name_and_say_whose_email_may_be_registered(database_url: str, replica: Replica) -> None:
    school = seed_class(database_url, 3, foreign_emails=[f"kid{uuid.uuid4().hex[:6]}@gmail.com"])
    teacher = bearer(school.teacher, "teacher")

    first = replica.stub.ListClassStudents(
        pb.ListClassStudentsRequest(class_id=str(school.class_id), page_size=3), metadata=teacher
    )
    rest = replica.stub.ListClassStudents(
        pb.ListClassStudentsRequest(class_id=str(school.class_id), page_token=first.next_page_token), metadata=teacher
    )
    with pytest.raises(grpc.RpcError) as denied:
        replica.stub.ListClassStudents(
            pb.ListClassStudentsRequest(class_id=str(school.class_id)), metadata=bearer(uuid.uuid4(), "teacher")
        )

    students = [*first.students, *rest.students]
    assert first.total_size == 4
    assert [s.display_name for s in students] == sorted(s.display_name for s in students)
    assert {s.student_id for s in students} == {str(s) for s in school.students}
    assert [s.email_allowed for s in students if s.email.endswith("@gmail.com")] == [False]
    assert sum(s.email_allowed for s in students) == 3
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
