"""The participants page of a running meeting: a teacher watches a student join and leave live,
fed by the emulator's signed webhooks through the gateway."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from tests.e2e.browsing import Browsing
from tests.e2e.stack import Stack


def test_a_teacher_opens_a_meeting_and_watches_a_student_join_live(browsing: Browsing, stack: Stack) -> None:
    sampaguita = stack.school_class("Sampaguita")
    student = sampaguita.students[0]
    meeting_id = stack.add_meeting(sampaguita, datetime.now(UTC) + timedelta(minutes=1))
    zoom = stack.zoom()

    page = browsing.open(f"/participants/?meeting_id={meeting_id}")
    browsing.sign_in(sampaguita.teacher, landing="/participants/")
    expect(page.locator("#live")).to_be_visible()
    expect(page.locator("#stat-expected dd")).to_have_text(str(len(sampaguita.students)))
    expect(page.locator("#stat-joined dd")).to_have_text("0")
    absent_row = page.locator(f'#expected-table tr[data-student-id="{student.id}"]')
    expect(absent_row).to_contain_text("Absent")

    zoom.post(f"/_emulator/meetings/{meeting_id}/start").raise_for_status()
    expect(page.locator("#announcer")).to_have_text("The meeting started.")
    joined = zoom.post(
        f"/_emulator/meetings/{meeting_id}/participants/join",
        json={"email": student.email, "name": student.display_name},
    )
    joined.raise_for_status()

    expect(page.locator("#announcer")).to_contain_text(f"{student.display_name} joined")
    expect(page.locator("#stat-joined dd")).to_have_text("1")
    expect(page.locator("#stat-total dd")).to_have_text("1")
    row = page.locator(f'#expected-table tr[data-student-id="{student.id}"]')
    expect(row).to_contain_text("Attended")
    expect(row).to_contain_text("in the meeting now")
    person = page.locator(f'#people-table tr[data-participant-key="{student.id}"]')
    expect(person).to_contain_text("still in the meeting")
    expect(person).to_contain_text("Email")  # matched by the email Zoom reported
    browsing.screenshot("live")

    zoom.post(
        f"/_emulator/meetings/{meeting_id}/participants/leave", json={"user_id": joined.json()["user_id"]}
    ).raise_for_status()
    expect(page.locator("#announcer")).to_contain_text(f"{student.display_name} left")
    expect(person).not_to_contain_text("still in the meeting")

    zoom.post(f"/_emulator/meetings/{meeting_id}/end").raise_for_status()
    expect(page.locator("#live")).to_be_hidden()
    expect(page.locator("#meeting-facts")).to_contain_text("Ended")
    expect(page.locator("#stat-joined dd")).to_have_text("1")
    expect(page.locator("#people-table tbody tr")).to_have_count(1)
    expect(page.locator("#unmatched-table")).to_have_text(re.compile("Nobody yet"))
    browsing.screenshot("ended")
