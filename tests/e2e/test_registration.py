"""Registration pages: an admin registers one student and sees each personal join link; a whole
class is registered by a job whose progress bar follows it live."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from common.demo_school import DemoClass
from tests.e2e.browsing import Browsing
from tests.e2e.stack import Stack

ALLOWED_DOMAIN = "@r1.deped.gov.ph"


def class_option(school_class: DemoClass) -> str:
    return f"{school_class.name} ({len(school_class.students)} students)"


def test_an_admin_registers_a_student_and_sees_the_join_urls(browsing: Browsing, stack: Stack) -> None:
    narra = stack.school_class("Narra")
    student = next(s for s in narra.students if s.email.endswith(ALLOWED_DOMAIN))
    upcoming = stack.meetings_of(narra, "scheduled")
    page = browsing.open("/")
    browsing.sign_in(stack.school.admin)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Registration").click()

    form = page.locator("#student-form")
    form.get_by_label("Class").select_option(label=class_option(narra))
    form.get_by_label("Student", exact=True).select_option(label=f"{student.display_name} — {student.email}")
    form.get_by_role("button", name="Register").click()

    expect(page.locator("#student-summary")).to_have_text(
        f"{len(upcoming)} meetings: {len(upcoming)} newly registered, 0 already registered, 0 not eligible, 0 failed."
    )
    rows = page.locator("#registrations-table tbody tr")
    expect(rows).to_have_count(len(upcoming))
    browsing.screenshot("registered")

    # Each link shown is the personal join URL rollcall stored for that meeting.
    with stack.api(stack.school.admin) as api:
        for meeting in upcoming:
            registrants = api.get(f"/v1/meetings/{meeting.id}/registrants").json()["registrants"]
            stored = next(r for r in registrants if r["student_id"] == str(student.id))
            row = page.locator(f'#registrations-table tr[data-meeting-id="{meeting.id}"]')
            if meeting.approval_type == 0:
                expect(row.get_by_role("link")).to_have_attribute("href", stored["join_url"])
                assert stored["join_url"].startswith("http")
            else:  # manual approval: no join link until the host approves
                expect(row).to_contain_text("waiting for the host's approval")
                assert stored["join_url"] == ""


def test_a_student_outside_the_allowed_domains_is_refused_with_the_reason(browsing: Browsing, stack: Stack) -> None:
    narra = stack.school_class("Narra")
    outsider = next(s for s in narra.students if not s.email.endswith(ALLOWED_DOMAIN))
    page = browsing.open("/registration/")
    browsing.sign_in(stack.school.admin, landing="/registration/")
    page.get_by_label("Class").first.select_option(label=class_option(narra))
    # The list already warns; the refusal still comes from the service, with its reason.
    label = f"{outsider.display_name} — {outsider.email} (email domain not allowed)"
    page.get_by_label("Student", exact=True).select_option(label=label)
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("alert")).to_contain_text(re.compile("domain", re.IGNORECASE))
    browsing.screenshot("refused")


def test_a_class_registration_job_fills_its_progress_bar_live(browsing: Browsing, stack: Stack) -> None:
    molave = stack.school_class("Molave")
    page = browsing.open("/registration/")
    browsing.sign_in(stack.school.admin, landing="/registration/")
    form = page.locator("#class-form")
    form.get_by_label("Class").select_option(label=class_option(molave))
    form.get_by_role("button", name="Start registration").click()

    job = page.locator("#job")
    expect(job).to_be_visible()
    expect(page).to_have_url(re.compile(r"[?&]job=[0-9a-f-]{36}"))
    expect(job).to_have_attribute("data-state", "JOB_STATE_COMPLETED", timeout=45_000)
    bar = page.get_by_label("Progress")
    total = int(bar.get_attribute("max") or 0)
    assert total == len(molave.students) * len(stack.meetings_of(molave, "scheduled"))
    assert bar.get_attribute("value") == str(total)
    expect(page.locator("#job-summary")).to_contain_text(f"Completed: 100 % ({total} of {total})")
    counts = {
        name: int(browsing.stat(f"job-{name}"))
        for name in ("registered", "already", "not-eligible", "failed", "cancelled", "pending")
    }
    assert sum(counts.values()) == total
    assert counts["pending"] == counts["failed"] == 0
    expect(page.get_by_role("button", name="Cancel the job")).to_be_hidden()
    browsing.screenshot("job-done")
