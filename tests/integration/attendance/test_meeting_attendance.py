"""A whole meeting through real processes: the emulator simulates it and sends its webhooks, the
relay forwards them, the service syncs Zoom's report by itself after `meeting.ended`.

The meeting: 60 min from 07:30 Manila on 24 Nov 2026; the class has the default thresholds
(late after 10 min, present at 80 % = 48 min, ghost joins under 60 s ignored, early leave 10 min).

| who               | how Zoom sees them                                   | minutes (union) | status  |
| ----------------- | ---------------------------------------------------- | --------------- | ------- |
| Ana Cruz          | registration link, 0-20 then rejoins 25-60           | 20+35 = 55      | PRESENT |
| Ben Santos        | registration link on two devices, 5-50 and 30-60     | 5-60 = 55       | PRESENT |
| Carla Reyes       | registration link, renamed "Carla (iPad)", 12-60     | 48, first at 12 | LATE    |
| Dan Lopez         | school email, no registration, 0-30                  | 30 < 48         | PARTIAL |
| Eva Gómez         | guest named "eva  gomez" (unique normalised name)    | 60              | PRESENT |
| Gil Tan           | school email, 0:00-0:30 (a mis-click)                | 0.5 < 1 (ghost) | ABSENT  |
| Juan Dela Cruz x2 | a guest named "Juan Dela Cruz", 0-60: ambiguous      | -               | ABSENT  |
| Fe Ramos          | never joins                                          | -               | ABSENT  |
| guest "Visitor"   | unmatched, 0-30                                      | 30              | -       |
| phone dial-in     | unmatched, 10-40                                     | 30              | -       |

Counts: present 3 (Ana, Ben, Eva), late 1, partial 1, absent 4 (Gil, both Juans, Fe), enrolled 9.
Participants: 9 people (Ana, Ben, Carla, Dan, Eva, Gil, the Juan guest, Visitor, the dial-in);
joined = expected with a segment = Ana, Ben, Carla, Dan, Eva, Gil = 6 of 9 = 66.67 %; total time
55+55+48+30+60+0.5+60+30+30 = 368.5 min; average 368.5 / 9 = 40 min 56.67 s. Report rows: 11.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from rollcall.attendance.v1 import attendance_service_pb2 as pb
from rollcall.attendance.v1 import attendance_service_pb2_grpc as rpc

from tests.integration.attendance.conftest import (
    EmulatorAdmin,
    School,
    WebhookRelay,
    manila,
    seed_meeting,
    seed_registrants,
    seed_school,
)
from tests.support.polling import eventually

START = manila(2026, 11, 24, 7, 30)
NAMES = (
    "Ana Cruz",
    "Ben Santos",
    "Carla Reyes",
    "Dan Lopez",
    "Eva Gómez",
    "Gil Tan",
    "Juan Dela Cruz",
    "Juan Dela Cruz",
    "Fe Ramos",
)
S = pb.AttendanceStatus


def _minutes(m: float) -> float:
    return m * 60


def _script(school: School, registrants: dict[str, str]) -> list[dict[str, object]]:
    dan, gil = school.student("Dan Lopez"), school.student("Gil Tan")
    return [
        {"at_seconds": 0, "action": "start"},
        {"at_seconds": 0, "action": "join", "registrant_id": registrants["Ana Cruz"], "as": "ana1"},
        {"at_seconds": _minutes(20), "action": "leave", "as": "ana1"},
        {"at_seconds": _minutes(25), "action": "join", "registrant_id": registrants["Ana Cruz"], "as": "ana2"},
        {"at_seconds": _minutes(5), "action": "join", "registrant_id": registrants["Ben Santos"], "as": "ben-laptop"},
        {"at_seconds": _minutes(50), "action": "leave", "as": "ben-laptop"},
        {"at_seconds": _minutes(30), "action": "join", "registrant_id": registrants["Ben Santos"], "as": "ben-phone"},
        {
            "at_seconds": _minutes(12),
            "action": "join",
            "registrant_id": registrants["Carla Reyes"],
            "display_name": "Carla (iPad)",
            "as": "carla",
        },
        {"at_seconds": 0, "action": "join", "email": dan.email, "name": "Dan Lopez", "as": "dan"},
        {"at_seconds": _minutes(30), "action": "leave", "as": "dan"},
        {"at_seconds": 0, "action": "join", "name": "eva  gomez", "guest": True, "as": "eva"},
        {"at_seconds": 1, "action": "join", "email": gil.email, "name": "Gil Tan", "as": "gil"},
        {"at_seconds": 31, "action": "leave", "as": "gil"},
        {"at_seconds": 0, "action": "join", "name": "Juan Dela Cruz", "guest": True, "as": "juan"},
        {"at_seconds": 0, "action": "join", "name": "Visitor", "guest": True, "as": "visitor"},
        {"at_seconds": _minutes(30), "action": "leave", "as": "visitor"},
        {"at_seconds": _minutes(10), "action": "join", "phone": True, "as": "phone"},
        {"at_seconds": _minutes(40), "action": "leave", "as": "phone"},
        {"at_seconds": _minutes(60), "action": "end"},
    ]


@pytest.fixture(scope="module")
def meeting(database_url: str, zoom: EmulatorAdmin, relay: WebhookRelay) -> tuple[School, int]:
    school = seed_school(database_url, NAMES)
    meeting_id = seed_meeting(database_url, school, start=START)
    # Zoom takes registrants only before a meeting is over: register with a future start first.
    zoom.put_meeting(meeting_id, school.host_zoom_id, START + timedelta(days=30))
    registrants = {name: zoom.register(meeting_id, school.student(name)) for name in NAMES[:3]}
    seed_registrants(database_url, meeting_id, {school.student(n).id: r for n, r in registrants.items()})
    zoom.put_meeting(meeting_id, school.host_zoom_id, START)
    zoom.call(
        "POST",
        f"/_emulator/meetings/{meeting_id}/simulate",
        {"start_time": START.isoformat(), "script": _script(school, registrants)},
    )
    return school, meeting_id


async def _synced_attendance(
    stub: rpc.AttendanceServiceAsyncStub, school: School, meeting_id: int
) -> pb.GetMeetingAttendanceResponse:
    reply = pb.GetMeetingAttendanceResponse()

    async def records_are_final() -> bool:
        nonlocal reply
        reply = await stub.GetMeetingAttendance(
            pb.GetMeetingAttendanceRequest(meeting_id=meeting_id), metadata=school.teacher_md(), timeout=5
        )
        return len(reply.records) == len(NAMES) and not reply.provisional

    await eventually(records_are_final, within=20, what="the automatic sync after meeting.ended")
    return reply


async def test_the_automatic_sync_gives_the_hand_computed_statuses(
    stub: rpc.AttendanceServiceAsyncStub, meeting: tuple[School, int]
) -> None:
    school, meeting_id = meeting
    reply = await _synced_attendance(stub, school, meeting_id)
    assert reply.linked
    assert reply.attendance_date == "2026-11-24"  # 07:30 Manila is 23:30 UTC on the 23rd
    by_student = {r.student_id: r for r in reply.records}
    expected = {
        "Ana Cruz": S.ATTENDANCE_STATUS_PRESENT,
        "Ben Santos": S.ATTENDANCE_STATUS_PRESENT,
        "Carla Reyes": S.ATTENDANCE_STATUS_LATE,
        "Dan Lopez": S.ATTENDANCE_STATUS_PARTIAL,
        "Eva Gómez": S.ATTENDANCE_STATUS_PRESENT,
        "Gil Tan": S.ATTENDANCE_STATUS_ABSENT,
        "Fe Ramos": S.ATTENDANCE_STATUS_ABSENT,
    }
    for name, status in expected.items():
        assert by_student[str(school.student(name).id)].status == status, name
    juans = [s for s in school.students if s.name == "Juan Dela Cruz"]
    assert [by_student[str(j.id)].status for j in juans] == [S.ATTENDANCE_STATUS_ABSENT] * 2
    assert by_student[str(school.student("Ana Cruz").id)].attended_minutes == 55
    assert by_student[str(school.student("Ben Santos").id)].attended_minutes == 55
    assert by_student[str(school.student("Dan Lopez").id)].left_early
    counts = reply.counts
    assert (counts.present_count, counts.late_count, counts.partial_count, counts.absent_count) == (3, 1, 1, 4)
    assert (counts.excused_count, counts.enrolled_count) == (0, 9)


async def test_participants_statistics_match_the_hand_computation(
    stub: rpc.AttendanceServiceAsyncStub, meeting: tuple[School, int]
) -> None:
    school, meeting_id = meeting
    await _synced_attendance(stub, school, meeting_id)
    reply = await stub.GetMeetingParticipants(
        pb.GetMeetingParticipantsRequest(meeting_id=meeting_id), metadata=school.teacher_md(), timeout=5
    )
    stats = reply.statistics
    assert (stats.total_participants, stats.joined_count, stats.expected_count) == (9, 6, 9)
    assert stats.attendance_rate_percent == pytest.approx(200 / 3)
    assert stats.total_duration.ToTimedelta() == timedelta(minutes=368.5)
    assert stats.average_duration.ToTimedelta() == timedelta(minutes=368.5) / 9
    assert len(reply.unmatched_participants) == 3
    assert {p.display_name for p in reply.unmatched_participants} >= {"Juan Dela Cruz", "Visitor"}
    ben = next(p for p in reply.participants if p.student_id == str(school.student("Ben Santos").id))
    assert len(ben.segments) == 2
    assert ben.attended_duration.ToTimedelta() == timedelta(minutes=55)
    carla = next(p for p in reply.participants if p.student_id == str(school.student("Carla Reyes").id))
    assert carla.match_method == pb.MATCH_METHOD_REGISTRANT_ID
    assert carla.display_name == "Carla (iPad)"
    methods = {p.display_name: p.match_method for p in reply.participants if p.student_id}
    assert methods["Dan Lopez"] == pb.MATCH_METHOD_EMAIL
    assert methods["eva  gomez"] == pb.MATCH_METHOD_NAME
    attended = {e.display_name: e.attended for e in reply.expected_attendees if e.display_name != "Juan Dela Cruz"}
    assert attended == {
        "Ana Cruz": True,
        "Ben Santos": True,
        "Carla Reyes": True,
        "Dan Lopez": True,
        "Eva Gómez": True,
        "Gil Tan": True,
        "Fe Ramos": False,
    }


async def test_same_name_students_are_never_matched_by_name(
    stub: rpc.AttendanceServiceAsyncStub, meeting: tuple[School, int]
) -> None:
    school, meeting_id = meeting
    await _synced_attendance(stub, school, meeting_id)
    reply = await stub.GetMeetingParticipants(
        pb.GetMeetingParticipantsRequest(meeting_id=meeting_id), metadata=school.teacher_md(), timeout=5
    )
    juan_ids = {str(s.id) for s in school.students if s.name == "Juan Dela Cruz"}
    assert not any(p.student_id in juan_ids for p in reply.participants)
    juan = next(p for p in reply.unmatched_participants if p.display_name == "Juan Dela Cruz")
    assert juan.match_method == pb.MATCH_METHOD_UNMATCHED
    assert not any(e.attended for e in reply.expected_attendees if e.student_id in juan_ids)


async def test_a_second_sync_of_the_same_report_writes_nothing(
    stub: rpc.AttendanceServiceAsyncStub, meeting: tuple[School, int]
) -> None:
    school, meeting_id = meeting
    await _synced_attendance(stub, school, meeting_id)
    reply = await stub.SyncMeetingAttendance(
        pb.SyncMeetingAttendanceRequest(meeting_id=meeting_id), metadata=school.teacher_md(), timeout=15
    )
    assert reply.report_row_count == 11
    assert (reply.segments_written, reply.records_written, reply.records_unchanged) == (0, 0, 9)
    assert (reply.matched_count, reply.unmatched_count) == (6, 3)


async def test_an_excused_record_survives_a_sync(
    stub: rpc.AttendanceServiceAsyncStub, meeting: tuple[School, int]
) -> None:
    school, meeting_id = meeting
    await _synced_attendance(stub, school, meeting_id)
    fe = school.student("Fe Ramos")
    await stub.UpdateAttendanceRecord(
        pb.UpdateAttendanceRecordRequest(
            class_id=str(school.class_id),
            student_id=str(fe.id),
            attendance_date="2026-11-24",
            status=S.ATTENDANCE_STATUS_EXCUSED,
            note="medical certificate",
        ),
        metadata=school.teacher_md(),
        timeout=5,
    )
    reply = await stub.SyncMeetingAttendance(
        pb.SyncMeetingAttendanceRequest(meeting_id=meeting_id), metadata=school.teacher_md(), timeout=15
    )
    assert reply.records_written == 0
    assert reply.counts.excused_count == 1
    sheet = await stub.GetMeetingAttendance(
        pb.GetMeetingAttendanceRequest(meeting_id=meeting_id), metadata=school.teacher_md(), timeout=5
    )
    record = next(r for r in sheet.records if r.student_id == str(fe.id))
    assert (record.status, record.source) == (S.ATTENDANCE_STATUS_EXCUSED, pb.ATTENDANCE_SOURCE_MANUAL)
