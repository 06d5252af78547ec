"""The audit log page: an admin filters the log down to one target and exports what matches."""

from __future__ import annotations

import csv
import io

from playwright.sync_api import expect

from tests.e2e.browsing import Browsing
from tests.e2e.stack import Stack


def test_an_admin_filters_the_audit_log_and_exports_it(browsing: Browsing, stack: Stack) -> None:
    sampaguita = stack.school_class("Sampaguita")
    meeting = stack.meetings_of(sampaguita, "ended")[0]
    with stack.api(sampaguita.teacher) as teacher:  # a read of personal data is audited
        assert teacher.get(f"/api/zoom/meetings/{meeting.id}/participants").status_code == 200

    page = browsing.open("/")
    browsing.sign_in(stack.school.admin)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
    expect(page.locator("#events-table tbody tr").first).to_be_visible()
    page.get_by_label("Action").fill("attendance.read_participants")
    page.get_by_label("Target id").fill(str(meeting.id))
    page.get_by_label("Actor (user id)").fill(str(sampaguita.teacher.id))
    page.get_by_role("button", name="Show events").click()
    rows = page.locator("#events-table tbody tr")
    # The unfiltered page shown on arrival is replaced by the filtered one.
    expect(rows.filter(has_not_text=str(meeting.id))).to_have_count(0)
    expect(rows.filter(has_text="attendance.read_participants").first).to_be_visible()
    shown = rows.count()
    browsing.screenshot("filtered")

    name, content = browsing.download(lambda: page.get_by_role("button", name="Export CSV").click())
    assert name.endswith(".csv")
    exported = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    assert len(exported) == shown
    assert {(e["action"], e["target_id"], e["actor_id"]) for e in exported} == {
        ("attendance.read_participants", str(meeting.id), str(sampaguita.teacher.id))
    }


def test_a_malformed_filter_is_marked_at_its_field(browsing: Browsing, stack: Stack) -> None:
    page = browsing.open("/audit/")
    browsing.sign_in(stack.school.admin, landing="/audit/")
    actor = page.get_by_label("Actor (user id)")
    actor.fill("nobody")
    page.get_by_role("button", name="Show events").click()
    expect(actor).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#actor_id-error")).to_have_text("must be a UUID")
    expect(actor).to_have_accessible_description("must be a UUID")
    expect(page.get_by_role("alert")).to_have_text("Please correct the field marked below.")
    browsing.screenshot("field-error")
