"""Pure rules: people from segments, statistics, class dates, and the sync's plans."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from attendance_service.domain import (
    AttendancePolicy,
    AttendanceSource,
    AttendanceStatus,
    ExpectedStudent,
    MatchMethod,
    Roster,
    Segment,
    local_date,
    people_of,
    person_key,
    scheduled_start_of_instance,
    statistics_of,
)
from attendance_service.reconcile import (
    RecordState,
    StoredSegment,
    count_statuses,
    dedupe_segments,
    match_segments,
    plan_records,
    plan_segments,
    report_is_complete,
)

START = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # 07:30 in Manila on the 24th


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def seg(user_id: str, join: float, leave: float | None, name: str = "Someone", **extra: object) -> Segment:
    return Segment(user_id, at(join), None if leave is None else at(leave), name, **extra)  # type: ignore[arg-type]


def test_rejoins_and_second_devices_of_a_student_make_one_person() -> None:
    segments = [
        seg("1", 0, 20, "Ana", student_id="ana", match_method=MatchMethod.REGISTRANT_ID),
        seg("2", 25, 60, "Ana (phone)", student_id="ana", match_method=MatchMethod.NAME),
        seg("3", 30, None, "Ana (tablet)", student_id="ana", match_method=MatchMethod.EMAIL),
    ]
    [ana] = people_of(segments, now=at(70))
    assert ana.key == "ana"
    assert ana.attended == timedelta(minutes=65)  # 0-20 and 25-70 (the open tablet counts until now)
    assert ana.in_meeting
    assert ana.last_leave is None
    assert ana.display_name == "Ana (tablet)"  # as last seen
    assert ana.match_method is MatchMethod.REGISTRANT_ID  # the strongest way any segment matched


def test_guests_are_told_apart_by_zoom_account_then_by_name_and_keys_spell_no_name() -> None:
    people = people_of(
        [seg("1", 0, 10, "Guest", zoom_id="z1"), seg("2", 5, 15, "guest"), seg("3", 20, 30, " GUEST ")], now=at(60)
    )
    assert len(people) == 2
    assert all(p.key.startswith("guest-") and "guest" not in p.key[6:] for p in people)
    assert person_key(seg("9", 0, 1, "Mary")) == person_key(seg("8", 2, 3, "mary"))


def test_statistics_count_expected_students_who_came() -> None:
    expected = [ExpectedStudent("a", "A", "a@x"), ExpectedStudent("b", "B", "b@x"), ExpectedStudent("c", "C", "c@x")]
    people = people_of([seg("1", 0, 30, student_id="a"), seg("2", 0, 60, "Guest")], now=at(60))
    stats = statistics_of(people, expected)
    assert (stats.total_participants, stats.joined_count, stats.expected_count) == (2, 1, 3)
    assert stats.attendance_rate_percent == 100 / 3
    assert stats.total_duration == timedelta(minutes=90)
    assert stats.average_duration == timedelta(minutes=45)
    assert statistics_of([], []).attendance_rate_percent == 0


def test_a_manila_morning_belongs_to_the_manila_date() -> None:
    assert local_date(START, "Asia/Manila") == date(2026, 11, 24)


def test_a_recurring_occurrence_keeps_its_time_of_day() -> None:
    next_week = START + timedelta(days=7, minutes=3)  # the occurrence started 3 minutes late
    assert scheduled_start_of_instance(START, next_week, "Asia/Manila") == START + timedelta(days=7)
    assert scheduled_start_of_instance(START, at(3), "Asia/Manila") == START
    assert scheduled_start_of_instance(None, at(3), "Asia/Manila") == at(3)


def test_the_same_report_twice_plans_nothing() -> None:
    report = [seg("1", 0, 60), seg("2", 5, 50)]
    stored = [StoredSegment(s, "report") for s in report]
    assert plan_segments(stored, report).writes == 0


def test_a_newer_report_replaces_the_stored_one() -> None:
    stored = [StoredSegment(seg("1", 0, 40), "report"), StoredSegment(seg("2", 5, 50), "report")]
    stored.append(StoredSegment(seg("3", 7, None), "webhook"))
    newer = [seg("1", 0, 60), seg("3", 7, 55)]
    plan = plan_segments(stored, newer)
    assert plan.upserts == (seg("1", 0, 60), seg("3", 7, 55))  # changed, and live rows become report rows
    assert plan.deletes == (("2", at(5)),)


def test_a_row_listed_twice_is_kept_once_with_its_longest_sighting() -> None:
    assert dedupe_segments([seg("1", 0, 30), seg("1", 0, 45), seg("2", 1, 2)]) == [seg("1", 0, 45), seg("2", 1, 2)]


def test_matching_never_picks_between_two_students_with_one_name() -> None:
    roster = Roster.of(registrants={"r1": "a"}, emails={}, names={"a": "Juan Dela Cruz", "b": "Juan Dela Cruz"})
    matched = match_segments([seg("1", 0, 60, "juan dela  cruz"), seg("2", 0, 60, "x", registrant_id="r1")], roster)
    assert [(s.student_id, s.match_method) for s in matched] == [
        (None, MatchMethod.UNMATCHED),
        ("a", MatchMethod.REGISTRANT_ID),
    ]


def test_report_completeness_needs_every_leave_and_the_joins_seen_live() -> None:
    assert not report_is_complete([], 0)
    assert not report_is_complete([seg("1", 0, None)], 0)
    assert not report_is_complete([seg("1", 0, 10)], 2)
    assert report_is_complete([seg("1", 0, 10), seg("2", 0, 10)], 2)


def _plan(existing: dict[str, RecordState], segments: list[Segment]) -> tuple[dict[str, RecordState], int]:
    plan = plan_records(
        students=["a", "b", "c"],
        segments=segments,
        existing=existing,
        meeting_id=7,
        scheduled_start=START,
        scheduled_duration=timedelta(hours=1),
        policy=AttendancePolicy(),
        now=at(120),
    )
    return dict(plan.writes), plan.unchanged


def test_records_follow_the_segments_and_the_same_result_writes_nothing() -> None:
    segments = [seg("1", 0, 60, student_id="a", match_method=MatchMethod.EMAIL), seg("2", 0, 30, student_id="b")]
    writes, unchanged = _plan({}, segments)
    assert {k: v.status for k, v in writes.items()} == {
        "a": AttendanceStatus.PRESENT,
        "b": AttendanceStatus.ABSENT,  # an unmatched segment counts for nobody
        "c": AttendanceStatus.ABSENT,
    }
    assert unchanged == 0
    assert _plan(writes, segments) == ({}, 3)


def test_a_teachers_hand_and_a_qr_check_in_are_never_overwritten() -> None:
    excused = RecordState(AttendanceStatus.EXCUSED, AttendanceSource.MANUAL)
    corrected = RecordState(AttendanceStatus.PRESENT, AttendanceSource.MANUAL)
    scanned = RecordState(AttendanceStatus.PRESENT, AttendanceSource.QR)
    writes, unchanged = _plan({"a": excused, "b": corrected, "c": scanned}, [])
    assert (writes, unchanged) == ({}, 3)


def test_counts_tally_statuses() -> None:
    counts = count_statuses([AttendanceStatus.PRESENT, AttendanceStatus.PRESENT, AttendanceStatus.EXCUSED], 5)
    assert (counts.present, counts.excused, counts.absent, counts.enrolled) == (2, 1, 0, 5)
