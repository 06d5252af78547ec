"""Browser journeys: the whole stack once per run (tests/e2e/stack.py) and a fresh Chromium
context per test, Debian's Chromium driven by Playwright."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.e2e.browsing import Browsing
from tests.e2e.stack import Stack, running_stack

CHROMIUM = Path("/usr/bin/chromium")


# Package scope: Playwright's sync API keeps an event loop running in this thread while it is
# open, which would stop every asyncio test collected after the browser journeys.
@pytest.fixture(scope="package")
def stack(database_url: str) -> Iterator[Stack]:
    with running_stack(database_url) as running:
        yield running


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: `make setup` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def browsing(browser: Browser, stack: Stack, request: pytest.FixtureRequest) -> Iterator[Browsing]:
    """One person at one browser; the test fails if a page threw or broke its CSP."""
    with Browsing.opened(browser, stack, request.node.name) as person:
        yield person
    person.assert_no_page_errors()


@pytest.fixture
def second_browsing(browser: Browser, stack: Stack, request: pytest.FixtureRequest) -> Iterator[Browsing]:
    """Another person at another browser (a student beside the teacher)."""
    with Browsing.opened(browser, stack, f"{request.node.name}-second") as person:
        yield person
    person.assert_no_page_errors()
