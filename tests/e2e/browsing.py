"""A person at a browser, so journeys read as steps: sign in, open a page, look, download."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from common.demo_school import DemoUser
from tests.e2e.stack import Stack
from tests.support.processes import ARTIFACTS

__all__ = ["SCREENSHOTS", "Browsing"]

SCREENSHOTS = ARTIFACTS / "e2e"
WAIT_MS = 10_000  # the longest any step waits for the page; live updates arrive well within it


class Browsing:
    def __init__(self, page: Page, stack: Stack, name: str) -> None:
        self.page = page
        self.stack = stack
        self.name = re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
        self.problems: list[str] = []
        page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))
        page.on("console", self._console)

    @classmethod
    @contextmanager
    def opened(cls, browser: Browser, stack: Stack, name: str) -> Iterator[Browsing]:
        context = browser.new_context(base_url=stack.url, accept_downloads=True, locale="en-PH")
        context.set_default_timeout(WAIT_MS)
        expect.set_options(timeout=WAIT_MS)
        try:
            yield cls(context.new_page(), stack, name)
        finally:
            context.close()

    def _console(self, message: ConsoleMessage) -> None:
        # A refused call logs "Failed to load resource"; that is the page working, not failing.
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.problems.append(message.text)

    def assert_no_page_errors(self) -> None:
        assert not self.problems, f"the page reported errors: {self.problems}"

    def sign_in(self, user: DemoUser, *, landing: str = "/") -> None:
        """Signs in on the sign-in page with a pasted token, as in production."""
        if "/sign-in/" not in self.page.url:
            self.page.goto("/sign-in/")
        self.page.get_by_role("textbox", name="Bearer token").fill(self.stack.token(user))
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(lambda url: "/sign-in/" not in url and url.split("?")[0].endswith(landing))

    def open(self, path: str) -> Page:
        self.page.goto(path)
        return self.page

    def screenshot(self, label: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.name}-{label}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def download(self, click: Callable[[], None]) -> tuple[str, bytes]:
        """The file name and bytes of the download that `click` starts."""
        with self.page.expect_download() as started:
            click()
        download = started.value
        failure = download.failure()
        assert failure is None, failure
        return download.suggested_filename, Path(download.path()).read_bytes()

    def stat(self, element_id: str) -> str:
        """The value of one statistics entry (a <dd> in the block with `element_id`)."""
        return self.page.locator(f"#{element_id} dd").inner_text().strip()
