"""The demo school is deterministic, sized like real classes and shows the domain rule."""

from __future__ import annotations

from datetime import date, timedelta

from common.demo_school import build_demo_school
from registration_service.domain import EmailDomainPolicy


def test_same_week_gives_the_same_school_and_the_next_week_new_meetings() -> None:
    monday = date(2026, 11, 23)
    assert build_demo_school(monday) == build_demo_school(monday + timedelta(days=4))
    later = build_demo_school(monday + timedelta(days=7))
    assert {m.id for m in later.meetings} != {m.id for m in build_demo_school(monday).meetings}


def test_three_classes_of_30_to_40_with_a_few_outside_the_domain() -> None:
    school = build_demo_school(date(2026, 11, 25))
    policy = EmailDomainPolicy(("r1.deped.gov.ph",))
    assert len(school.classes) == 3
    for school_class in school.classes:
        allowed = [s for s in school_class.students if policy.allows(s.email)]
        assert 30 <= len(allowed) <= 40
    outsiders = [s for c in school.classes for s in c.students if not policy.allows(s.email)]
    assert len(outsiders) >= 3


def test_meeting_ids_are_64_bit_sized_and_unique() -> None:
    meetings = build_demo_school(date(2026, 11, 25)).meetings
    assert all(m.id > 2**32 for m in meetings)
    assert len({m.id for m in meetings}) == len(meetings)


def test_past_meetings_get_a_consistent_attendance_script() -> None:
    from rollcall_cli.demo_loader import _attendance_script

    school = build_demo_school(date(2026, 11, 25))
    students = {c.id: c.students for c in school.classes}
    for meeting in (m for m in school.meetings if m.status == "ended"):
        script = sorted(
            _attendance_script(meeting, students[meeting.class_id]), key=lambda s: float(str(s["at_seconds"]))
        )
        present: set[str] = set()
        for step in script:
            if step["action"] == "join":
                present.add(str(step["as"]))
            elif step["action"] == "leave":
                present.remove(str(step["as"]))
        assert script[0]["action"] == "start"
        assert script[-1]["action"] == "end"
        joined = {s["email"] for s in script if s["action"] == "join" and "email" in s}
        assert 0.6 < len(joined) / len(students[meeting.class_id]) < 1
