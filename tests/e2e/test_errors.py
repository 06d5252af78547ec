"""What people read when something is refused or down: another class's meeting, a token that no
longer works, Zoom not answering, a pasted text that is no token."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.browsing import Browsing
from tests.e2e.stack import Stack


def test_a_teacher_opening_another_class_meeting_reads_that_she_may_not_see_it(
    browsing: Browsing, stack: Stack
) -> None:
    sampaguita, narra = stack.school_class("Sampaguita"), stack.school_class("Narra")
    other = stack.meetings_of(narra, "ended")[0]
    page = browsing.open(f"/participants/?meeting_id={other.id}")
    browsing.sign_in(sampaguita.teacher, landing="/participants/")
    expect(page.get_by_role("alert")).to_have_text("You may not see this class.")
    page.goto(f"/attendance/?meeting_id={other.id}")
    expect(page.get_by_role("alert")).to_have_text("You may not see this class.")
    browsing.screenshot("forbidden")


def test_a_refused_token_sends_the_reader_back_to_sign_in_and_then_where_they_were(
    browsing: Browsing, stack: Stack
) -> None:
    page = browsing.open("/sign-in/")
    page.get_by_role("textbox", name="Bearer token").fill("not a token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("That is not a bearer token")

    # A well-formed token the services refuse (signed with another key): the page's first call
    # answers 401 and the reader is back at sign-in, which returns to the page afterwards.
    forged = stack.token(stack.school.admin).rsplit(".", 1)[0] + ".c2lnbmF0dXJl"
    page.evaluate("(token) => sessionStorage.setItem('rollcall.token', token)", forged)
    page.goto("/audit/")
    expect(page).to_have_url(re.compile(r"/sign-in/\?next=%2Faudit%2F$"))
    browsing.sign_in(stack.school.admin, landing="/audit/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")


def test_when_zoom_does_not_answer_registration_says_to_try_again_later(browsing: Browsing, stack: Stack) -> None:
    sampaguita = stack.school_class("Sampaguita")
    student = next(s for s in sampaguita.students if s.email.endswith("@r1.deped.gov.ph"))
    page = browsing.open(f"/registration/?class_id={sampaguita.id}")
    browsing.sign_in(stack.school.admin, landing="/registration/")
    page.get_by_label("Student", exact=True).select_option(label=f"{student.display_name} — {student.email}")
    zoom = stack.zoom()
    zoom.put("/_emulator/config", json={"faults": {"server_error": 1.0}}).raise_for_status()
    try:
        page.get_by_role("button", name="Register").click()
        expect(page.get_by_role("alert")).to_have_text("Zoom is not answering, try again later.", timeout=20_000)
    finally:
        zoom.put("/_emulator/config", json={"faults": {"server_error": 0.0}}).raise_for_status()
    browsing.screenshot("zoom-down")
