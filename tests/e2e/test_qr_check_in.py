"""QR check-in: the teacher's page shows the class's rotating code as a QR image of the check-in
link; a student follows the link, signs in and checks in."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from tests.e2e.browsing import Browsing
from tests.e2e.qr_reference import reference_rows, svg_rows
from tests.e2e.stack import Stack


def test_a_teacher_shows_a_rotating_qr_code_and_a_student_checks_in_with_it(
    browsing: Browsing, second_browsing: Browsing, stack: Stack
) -> None:
    narra = stack.school_class("Narra")
    page = browsing.open("/")
    browsing.sign_in(narra.teacher)
    page.get_by_role("region", name=narra.name).get_by_role("link", name="Show a QR check-in code").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"QR check-in: {narra.name}")

    image = page.get_by_role("img", name="QR code of the check-in link")
    expect(image).to_be_visible()
    link = page.locator("#check-in-link")
    expect(link).to_have_attribute("href", re.compile(re.escape(f"{stack.url}/check-in/?code=")))
    check_in_url = link.get_attribute("href") or ""
    # The image is the check-in link itself, module for module.
    version, mask = int(image.get_attribute("data-version") or 0), int(image.get_attribute("data-mask") or 0)
    drawn = svg_rows(image.locator("path").get_attribute("d") or "", version)
    assert drawn == reference_rows(check_in_url, "M", mask)[1]
    browsing.screenshot("code")

    # A new code comes by itself (the stack rotates every 5 s).
    expect(link).not_to_have_attribute("href", check_in_url)

    student = next(s for s in narra.students if s.email.endswith("@r1.deped.gov.ph"))
    scanned = second_browsing.open(check_in_url)
    expect(scanned).to_have_url(re.compile(r"/sign-in/\?next="))
    second_browsing.sign_in(student, landing="/check-in/")
    expect(scanned.get_by_label("Check-in code")).to_have_value(check_in_url.split("code=")[1])
    scanned.get_by_role("button", name="Check in").click()
    today = datetime.now(ZoneInfo("Asia/Manila")).date().isoformat()
    expect(scanned.locator("#checked-in")).to_contain_text(f"You are checked in for {today}")
    second_browsing.screenshot("checked-in")
