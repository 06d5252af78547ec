"""Use cases with fakes of our own ports: sync, webhook ingestion, QR check-in, record listings."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta

import pytest

from attendance_service.domain import AttendanceStatus, ExpectedStudent, Segment
from attendance_service.qr import QrCheckIns, QrKeys, hash_client_ip
from attendance_service.read_models import RecordFilter
from attendance_service.records import decode_page_token, encode_page_token
from attendance_service.sync import AttendanceSync, ReportNotReady
from attendance_service.webhooks import WebhookIngest, event_key
from common.errors import FailedPrecondition, InvalidArgument, PermissionDenied, Unauthenticated
from common.security.principal import Principal
from tests.unit.attendance.fakes import CLASS_ID, MEETING_ID, START, TEACHER, FakeAttendanceStore, FakeDb

ANA = ExpectedStudent(str(uuid.uuid4()), "Ana Cruz", "ana@r1.deped.gov.ph")
BEN = ExpectedStudent(str(uuid.uuid4()), "Ben Santos", "ben@r1.deped.gov.ph")
TEACHER_P = Principal(TEACHER, "teacher")
GATEWAY = Principal(uuid.uuid4(), "service", frozenset({"zoom.webhooks"}))


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


class FakeReport:
    def __init__(self, rows: list[Segment] | None) -> None:
        self.rows = rows

    async def latest_instance(self, meeting_id: int) -> tuple[str, datetime] | None:
        return ("inst-1", START)

    async def report(self, meeting_uuid: str) -> list[Segment]:
        if self.rows is None:
            raise ReportNotReady("not yet")
        return list(self.rows)


def _report() -> list[Segment]:
    return [
        Segment("1", at(0), at(60), "Ana Cruz", email=ANA.email),
        Segment("2", at(12), at(60), "ben santos"),
        Segment("3", at(0), at(30), "Visitor"),
    ]


async def test_an_on_demand_sync_matches_classifies_and_then_writes_nothing_the_second_time() -> None:
    store = FakeAttendanceStore(students=(ANA, BEN))
    sync = AttendanceSync(FakeDb(store), FakeReport(_report()), clock=lambda: at(120))
    first = await sync.sync_on_demand(TEACHER_P, MEETING_ID, "")
    assert (first.report_row_count, first.matched_count, first.unmatched_count) == (3, 2, 1)
    assert (first.segments_written, first.records_written) == (3, 2)
    day = date(2026, 11, 24)
    assert store.records[(ANA.student_id, day)].status is AttendanceStatus.PRESENT
    assert store.records[(BEN.student_id, day)].status is AttendanceStatus.LATE
    store.writes = 0
    second = await sync.sync_on_demand(TEACHER_P, MEETING_ID, "")
    assert (second.segments_written, second.records_written, second.records_unchanged) == (0, 0, 2)
    assert store.writes == 0


async def test_a_sync_is_refused_to_another_teacher_and_without_zoom() -> None:
    store = FakeAttendanceStore(students=(ANA,))
    with pytest.raises(PermissionDenied):
        await AttendanceSync(FakeDb(store), FakeReport([])).sync_on_demand(
            Principal(uuid.uuid4(), "teacher"), MEETING_ID, ""
        )
    with pytest.raises(FailedPrecondition):
        await AttendanceSync(FakeDb(store), None).sync_on_demand(TEACHER_P, MEETING_ID, "")


async def test_a_report_zoom_has_not_made_yet_is_a_failed_precondition() -> None:
    sync = AttendanceSync(FakeDb(FakeAttendanceStore()), FakeReport(None))
    with pytest.raises(FailedPrecondition) as refused:
        await sync.sync_on_demand(TEACHER_P, MEETING_ID, "inst-1")
    assert refused.value.reason == "REPORT_NOT_READY"


def _event(event: str, **participant: object) -> bytes:
    obj: dict[str, object] = {"id": str(MEETING_ID), "uuid": "inst-1", "start_time": "2026-11-23T23:30:00Z"}
    if participant:
        obj["participant"] = participant
    if event == "meeting.ended":
        obj["end_time"] = "2026-11-24T00:30:00Z"
    return json.dumps({"event": event, "event_ts": 1, "payload": {"account_id": "a", "object": obj}}).encode()


async def test_a_join_opens_a_matched_live_segment_once_and_notifies() -> None:
    store = FakeAttendanceStore(students=(ANA,), registrants={"reg-ana": ANA.student_id})
    woken: list[bool] = []
    ingest = WebhookIngest(FakeDb(store), lambda end: end, lambda: woken.append(True))
    body = _event(
        "meeting.participant_joined",
        user_id="16001",
        user_name="x",
        registrant_id="reg-ana",
        join_time="2026-11-23T23:31:00Z",
    )
    first = await ingest.ingest(GATEWAY, body, 1)
    again = await ingest.ingest(GATEWAY, body, 2)
    assert (first.duplicate, again.duplicate) == (False, True)
    [stored] = store.segments.values()
    assert stored.segment.student_id == ANA.student_id
    assert stored.source == "webhook"
    assert store.notices == [
        {"meeting_id": MEETING_ID, "event": "meeting.participant_joined", "event_ts": 1, "zoom_user_id": "16001"}
    ]
    assert not woken


@pytest.mark.parametrize(
    "name",
    ["Ana\x00", "\ud800 alone", "x\udc00"],
    ids=["NUL", "high surrogate", "low surrogate"],
)
async def test_an_event_postgresql_cannot_store_is_refused_and_stores_nothing(name: str) -> None:
    store = FakeAttendanceStore(students=(ANA,))
    ingest = WebhookIngest(FakeDb(store), lambda end: end, lambda: None)
    body = _event("meeting.participant_joined", user_id="16001", user_name=name, join_time="2026-11-23T23:31:00Z")
    with pytest.raises(InvalidArgument) as refused:
        await ingest.ingest(GATEWAY, body, 1)
    assert [v.field for v in refused.value.violations] == ["body"]
    assert not store.segments


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
async def test_an_event_with_a_non_json_number_is_refused(constant: str) -> None:
    store = FakeAttendanceStore(students=(ANA,))
    ingest = WebhookIngest(FakeDb(store), lambda end: end, lambda: None)
    body = b'{"event": "meeting.ended", "event_ts": 1, "payload": {"object": {"x": %s}}}' % constant.encode()
    with pytest.raises(InvalidArgument) as refused:
        await ingest.ingest(GATEWAY, body, 1)
    assert [(v.field, v.description) for v in refused.value.violations] == [("body", "not JSON")]


async def test_the_meetings_end_closes_live_segments_and_schedules_a_sync() -> None:
    store = FakeAttendanceStore()
    woken: list[bool] = []
    ingest = WebhookIngest(FakeDb(store), lambda end: end + timedelta(minutes=2), lambda: woken.append(True))
    await ingest.ingest(
        GATEWAY, _event("meeting.participant_joined", user_id="1", user_name="G", join_time="2026-11-23T23:31:00Z"), 1
    )
    await ingest.ingest(GATEWAY, _event("meeting.ended"), 1)
    [stored] = store.segments.values()
    assert stored.segment.leave_time == at(60)
    assert store.scheduled == [("inst-1", at(62))]
    assert store.statuses == ["ended"]
    assert woken == [True]


async def test_only_the_gateways_scope_may_forward_events_and_bodies_must_be_json() -> None:
    ingest = WebhookIngest(FakeDb(FakeAttendanceStore()), lambda end: end)
    with pytest.raises(PermissionDenied):
        await ingest.ingest(TEACHER_P, _event("meeting.started"), 1)
    with pytest.raises(InvalidArgument):
        await ingest.ingest(GATEWAY, b"[1, 2", 1)


def test_an_event_key_survives_reformatting() -> None:
    body = json.loads(_event("meeting.started"))
    assert event_key(body) == event_key(json.loads(json.dumps(body, indent=2)))


KEYS = QrKeys(signing_key=b"k" * 32, ip_hash_key=b"i" * 32, ip_key_id="k1")


async def _vouch(token: str) -> Principal:
    if token != "gateway-token":
        raise Unauthenticated("bad token")
    return Principal(uuid.uuid4(), "service", frozenset({"gateway"}))


async def test_a_qr_code_checks_in_the_student_and_flags_a_crowded_network() -> None:
    store = FakeAttendanceStore(students=(ANA, BEN, ExpectedStudent(str(uuid.uuid4()), "C", "c@x")))
    clock = [START]
    qr = QrCheckIns(FakeDb(store), KEYS, _vouch, clock=lambda: clock[0])
    issued = await qr.create_code(TEACHER_P, CLASS_ID, 0)
    assert issued.expire_time == START + timedelta(seconds=90)
    assert (await qr.create_code(TEACHER_P, CLASS_ID, 0)).code == issued.code  # same window, same code
    flags = []
    for student in store.students:
        _, flagged = await qr.check_in(
            Principal(uuid.UUID(student.student_id), "student"),
            issued.code,
            client_ip="203.0.113.9",
            gateway_token="gateway-token",
        )
        flags.append(flagged)
    assert flags == [False, False, True]  # the class allows 2 per network
    assert all(flagged for _, _, flagged in store.check_ins.values())
    clock[0] = START + timedelta(seconds=91)
    with pytest.raises(FailedPrecondition):
        await qr.check_in(
            Principal(uuid.UUID(ANA.student_id), "student"), issued.code, client_ip=None, gateway_token=None
        )


async def test_a_tampered_code_or_an_unvouched_ip_is_not_trusted() -> None:
    store = FakeAttendanceStore(students=(ANA,))
    qr = QrCheckIns(FakeDb(store), KEYS, _vouch, clock=lambda: START)
    code = (await qr.create_code(TEACHER_P, CLASS_ID, 0)).code
    student = Principal(uuid.UUID(ANA.student_id), "student")
    with pytest.raises(InvalidArgument):
        await qr.check_in(
            student, code.replace(code[3], "A" if code[3] != "A" else "B", 1), client_ip=None, gateway_token=None
        )
    _, flagged = await qr.check_in(student, code, client_ip="203.0.113.9", gateway_token="forged")
    assert flagged
    assert store.check_ins[student.user_id][1] == "unverified"
    with pytest.raises(PermissionDenied):
        await qr.check_in(Principal(uuid.uuid4(), "student"), code, client_ip=None, gateway_token=None)


def test_ip_hashes_are_keyed_and_group_an_ipv6_household() -> None:
    assert hash_client_ip(b"a" * 32, "2001:db8:1:2::5") == hash_client_ip(b"a" * 32, "2001:db8:1:2:ffff::9")
    assert hash_client_ip(b"a" * 32, "203.0.113.9") != hash_client_ip(b"b" * 32, "203.0.113.9")
    assert hash_client_ip(b"a" * 32, "::ffff:203.0.113.9") == hash_client_ip(b"a" * 32, "203.0.113.9")


def test_a_page_token_is_bound_to_its_filters() -> None:
    where = RecordFilter(class_id=CLASS_ID)
    key = (date(2026, 11, 2), CLASS_ID, uuid.uuid4())
    assert decode_page_token(encode_page_token(key, where), where) == key
    with pytest.raises(InvalidArgument):
        decode_page_token(encode_page_token(key, where), RecordFilter())
    with pytest.raises(InvalidArgument):
        decode_page_token("garbage", where)
