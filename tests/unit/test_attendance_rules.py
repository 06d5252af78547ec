"""Segments merge without double counting; statuses follow the class's thresholds; no name guessing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from attendance_service.domain import (
    AttendancePolicy,
    AttendanceStatus,
    MatchMethod,
    Roster,
    Stay,
    attended_time,
    classify,
    merge_stays,
    normalise_name,
)

START = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)  # 07:30 in Manila on the 25th
HOUR = timedelta(hours=1)


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def stay(join: float, leave: float | None) -> Stay:
    return Stay(at(join), None if leave is None else at(leave))


def test_two_devices_at_once_count_once() -> None:
    assert attended_time([stay(0, 40), stay(10, 50)], now=at(60)) == timedelta(minutes=50)


def test_reconnect_gap_is_not_counted() -> None:
    assert attended_time([stay(0, 20), stay(25, 60)], now=at(60)) == timedelta(minutes=55)


def test_open_stay_counts_until_now_and_stays_open() -> None:
    merged = merge_stays([stay(0, 10), stay(5, None)], now=at(30))
    assert merged == [stay(0, None)]
    assert attended_time(merged, now=at(30)) == timedelta(minutes=30)


DEFAULTS = AttendancePolicy()


def classify_at(*stays: Stay, policy: AttendancePolicy = DEFAULTS) -> AttendanceStatus:
    return classify(stays, scheduled_start=START, scheduled_duration=HOUR, policy=policy, now=at(120)).status


@pytest.mark.parametrize(
    ("stays", "expected"),
    [
        ((stay(0, 60),), AttendanceStatus.PRESENT),
        ((stay(10, 60),), AttendanceStatus.PRESENT),  # exactly at the late threshold is on time
        ((stay(11, 60),), AttendanceStatus.LATE),  # 49 min >= 48 min (80 % of 60)
        ((stay(0, 30),), AttendanceStatus.PARTIAL),
        ((stay(20, 50),), AttendanceStatus.PARTIAL),  # late and short: partial
        ((stay(0, 0.5),), AttendanceStatus.ABSENT),  # ghost join under a minute
        ((), AttendanceStatus.ABSENT),
        ((stay(0, 0.5), stay(1, 55)), AttendanceStatus.PRESENT),  # ghost ignored, first real join at 1 min
    ],
)
def test_status_follows_default_thresholds(stays: tuple[Stay, ...], expected: AttendanceStatus) -> None:
    assert classify_at(*stays) == expected


def test_class_thresholds_change_the_outcome() -> None:
    lenient = AttendancePolicy(late_after=timedelta(minutes=15), present_min_percent=50)
    assert classify_at(stay(12, 45), policy=lenient) == AttendanceStatus.PRESENT


def test_leaving_before_the_end_is_flagged() -> None:
    result = classify(
        [stay(0, 49)], scheduled_start=START, scheduled_duration=HOUR, policy=AttendancePolicy(), now=at(90)
    )
    assert result.left_early
    assert result.status is AttendanceStatus.PRESENT


def test_names_match_across_case_accents_and_spaces() -> None:
    assert normalise_name("  JOSÉ   reyes ") == normalise_name("Jose Reyes")


def test_matching_prefers_registrant_id_then_email_then_a_unique_name() -> None:
    roster = Roster.of(
        registrants={"reg-1": "s1"},
        emails={"Ana.Cruz@r1.deped.gov.ph": "s2"},
        names={"s1": "Ben Santos", "s2": "Ana Cruz", "s3": "Carla Reyes"},
    )
    assert roster.match(registrant_id="reg-1", email="ana.cruz@r1.deped.gov.ph", name="x") == (
        "s1",
        MatchMethod.REGISTRANT_ID,
    )
    assert roster.match(registrant_id=None, email="ANA.CRUZ@r1.deped.gov.ph", name="x") == ("s2", MatchMethod.EMAIL)
    assert roster.match(registrant_id="unknown", email="", name="carla  REYES") == ("s3", MatchMethod.NAME)
    assert roster.match(registrant_id=None, email=None, name="Guest 1") == (None, MatchMethod.UNMATCHED)


def test_two_students_with_the_same_name_are_never_matched_by_name() -> None:
    roster = Roster.of(registrants={}, emails={}, names={"a": "Juan Dela Cruz", "b": "Juan Dela Cruz"})
    assert roster.match(registrant_id=None, email=None, name="Juan Dela Cruz") == (None, MatchMethod.UNMATCHED)
