"""The attendance page after a meeting: counts by status from Zoom's report, a teacher marking an
absent student excused, and the CSV export downloaded and read back."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from tests.e2e.browsing import Browsing
from tests.e2e.stack import Stack

MANILA = ZoneInfo("Asia/Manila")


def test_after_the_meeting_the_attendance_page_shows_the_counts_and_the_csv_opens(
    browsing: Browsing, stack: Stack
) -> None:
    molave = stack.school_class("Molave")
    # Yesterday 08:00 Manila: never the date of a demo meeting (those are last week's Thursday and Friday).
    day = datetime.now(MANILA).date() - timedelta(days=1)
    start = datetime.combine(day, time(8, 0), MANILA)
    meeting_id = stack.add_meeting(molave, start)
    present, late, partial = molave.students[0:3], molave.students[3:5], molave.students[5:6]
    script: list[dict[str, object]] = [{"at_seconds": 0, "action": "start"}]
    # The class's defaults: late after 10 minutes, present from 80 % of the 60 minutes (48), and
    # less than that is partial even when on time.
    for index, (student, joins, leaves) in enumerate(
        [(s, 60, 3600) for s in present] + [(s, 660, 3600) for s in late] + [(s, 120, 1200) for s in partial]
    ):
        person = {"email": student.email, "name": student.display_name, "as": f"p{index}"}
        script += [
            {"at_seconds": joins, "action": "join", **person},
            {"at_seconds": leaves, "action": "leave", "as": f"p{index}"},
        ]
    script += [
        {"at_seconds": 300, "action": "join", "name": "Tita Baby (guest)", "guest": True, "as": "guest"},
        {"at_seconds": 3600, "action": "end"},
    ]
    stack.zoom().post(
        f"/_emulator/meetings/{meeting_id}/simulate", json={"start_time": start.isoformat(), "script": script}
    ).raise_for_status()
    absent = len(molave.students) - len(present) - len(late) - len(partial)

    page = browsing.open(f"/attendance/?meeting_id={meeting_id}")
    browsing.sign_in(molave.teacher, landing="/attendance/")
    page.get_by_role("button", name="Get Zoom's final report").click()
    expect(page.locator("#announcer")).to_contain_text("Zoom's report has")
    expected_counts = {
        "present": len(present),
        "late": len(late),
        "partial": len(partial),
        "absent": absent,
        "excused": 0,
        "enrolled": len(molave.students),
    }
    for status, count in expected_counts.items():
        expect(page.locator(f"#count-{status} dd")).to_have_text(str(count))
    expect(page.locator("#records-table tbody tr")).to_have_count(len(molave.students))
    browsing.screenshot("counts")

    excused = molave.students[-1]
    row = page.locator(f'#records-table tr[data-student-id="{excused.id}"]')
    expect(row).to_contain_text("Absent")
    row.get_by_role("button", name="Mark excused").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Reason (optional)").fill("medical certificate")
    dialog.get_by_role("button", name="Mark excused").click()
    expect(page.locator("#announcer")).to_have_text(f"{excused.display_name} is marked excused.")
    expect(row).to_contain_text("Excused")
    expect(row).to_contain_text("medical certificate")
    expect(page.locator("#count-absent dd")).to_have_text(str(absent - 1))
    expect(page.locator("#count-excused dd")).to_have_text("1")

    name, content = browsing.download(lambda: page.get_by_role("button", name="Export CSV").click())
    assert name.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    assert len(rows) == len(molave.students)
    assert {r["attendance_date"] for r in rows} == {day.isoformat()}
    assert Counter(r["status"] for r in rows) == {
        "present": len(present),
        "late": len(late),
        "partial": len(partial),
        "absent": absent - 1,
        "excused": 1,
    }
    excused_row = next(r for r in rows if r["student_id"] == str(excused.id))
    assert (excused_row["note"], excused_row["source"]) == ("medical certificate", "manual")
    expect(page.get_by_role("link", name="Download the CSV again")).to_be_visible()
    browsing.screenshot("excused")
