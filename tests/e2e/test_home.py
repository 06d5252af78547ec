"""The first page after signing in: the caller's classes with their meetings and where to go."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.browsing import Browsing
from tests.e2e.stack import Stack


def test_a_teacher_sees_her_class_and_its_meetings_and_no_admin_pages(browsing: Browsing, stack: Stack) -> None:
    sampaguita = stack.school_class("Sampaguita")
    page = browsing.open("/")
    expect(page).to_have_url(f"{stack.url}/sign-in/?next=%2F")
    browsing.screenshot("sign-in")
    browsing.sign_in(sampaguita.teacher)

    section = page.get_by_role("region", name=sampaguita.name)
    expect(section).to_be_visible()
    expect(page.locator("#classes > section")).to_have_count(1)
    for meeting in stack.meetings_of(sampaguita, "ended"):
        row = section.get_by_role("row").filter(has_text=meeting.topic)
        expect(row).to_contain_text("Ended")
        expect(row.get_by_role("link", name="Attendance")).to_have_attribute(
            "href", f"/attendance/?meeting_id={meeting.id}"
        )
    navigation = page.get_by_role("navigation", name="Main")
    expect(navigation.get_by_role("link", name="Registration")).to_be_hidden()
    expect(navigation.get_by_role("link", name="Audit log")).to_be_hidden()
    expect(page.locator("#who")).to_have_text("Signed in as teacher")
    browsing.screenshot("classes")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{stack.url}/sign-in/")
    assert page.evaluate("() => sessionStorage.getItem('rollcall.token')") is None


def test_signing_in_and_opening_a_page_works_from_the_keyboard_alone(browsing: Browsing, stack: Stack) -> None:
    page = browsing.open("/sign-in/")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    admin = page.get_by_role("button", name="Region 1 Administrator (admin)")
    for _ in range(30):  # past the skip link's target to the demo users the gateway offers
        if admin.evaluate("(element) => element === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(admin).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{stack.url}/")
    audit = page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log")
    expect(audit).to_be_visible()
    audit.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
