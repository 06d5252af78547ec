"""A student whose 3 Zoom adds of the day are spent is settled from Zoom's registrant list, or sent
once more when only our budget refused and Zoom holds no such registrant (the adds were spent by
attempts of unknown outcome, e.g. in a killed replica), or retried soon when the list cannot be
read: found by the registration-under-faults suite, where jobs waited for Zoom's daily reset."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import cast

from common.zoom import ZoomClient
from common.zoom.errors import ZoomDailyLimitReached, ZoomError, ZoomUnavailable
from common.zoom.models import ZoomRegistrant, ZoomRegistrantInput, ZoomRegistrantRecord
from registration_service.domain import Outcome
from registration_service.registrar import Person, Registrar, TargetMeeting

MEETING = TargetMeeting(81_234_567_890, 8, 0)
RESET = datetime(2026, 11, 26, tzinfo=UTC)
ANA = Person(uuid.uuid4(), "ana@r1.deped.gov.ph", "Ana Cruz")


def _spent(*, by_zoom: bool) -> ZoomDailyLimitReached:
    return ZoomDailyLimitReached(
        "spent", resume_at=RESET, scope="registrant", http_status=429 if by_zoom else None, code=429
    )


class FakeZoom:
    """Adds are refused as spent until doubted; the registrant list is what Zoom holds."""

    def __init__(
        self, *, listed: Sequence[str] = (), refusal: ZoomDailyLimitReached, list_error: ZoomError | None = None
    ) -> None:
        self.listed = listed
        self.refusal = refusal
        self.list_error = list_error
        self.doubted: list[str] = []

    async def add_registrant(
        self, meeting_id: int, registrant: ZoomRegistrantInput, *, timeout_seconds: float | None = None
    ) -> ZoomRegistrant:
        if registrant.email not in self.doubted:
            raise self.refusal
        return ZoomRegistrant("new-id", meeting_id, None, None, None, "https://zoom.example/w/new")

    async def list_registrants(
        self, meeting_id: int, *, status: str = "approved", timeout_seconds: float | None = None
    ) -> AsyncIterator[ZoomRegistrantRecord]:
        if self.list_error is not None:
            raise self.list_error
        for email in self.listed:
            yield ZoomRegistrantRecord("zoom-id", status, None, email, "Ana", "Cruz", "https://zoom.example/w/zoom")

    def doubt_registrant_adds(self, meeting_id: int, email: str) -> None:
        self.doubted.append(email)


async def _register(zoom: FakeZoom) -> tuple[Outcome, str | None, datetime | None]:
    attempt = (await Registrar(cast(ZoomClient, zoom)).register(MEETING, [ANA], batch=False, timeout_seconds=5))[
        ANA.student_id
    ]
    return attempt.result.outcome, attempt.result.registrant_id, attempt.resume_at


async def test_spent_adds_of_a_registrant_zoom_holds_settle_with_zoom_registrant() -> None:
    zoom = FakeZoom(listed=["ANA@r1.deped.gov.ph"], refusal=_spent(by_zoom=False))

    assert await _register(zoom) == (Outcome.REGISTERED, "zoom-id", None)
    assert zoom.doubted == []


async def test_adds_spent_only_in_our_budget_get_the_benefit_of_doubt_and_one_more_add() -> None:
    zoom = FakeZoom(listed=[], refusal=_spent(by_zoom=False))

    assert await _register(zoom) == (Outcome.REGISTERED, "new-id", None)
    assert zoom.doubted == [ANA.email]


async def test_zoom_own_daily_refusal_without_a_registrant_waits_for_the_reset() -> None:
    zoom = FakeZoom(listed=[], refusal=_spent(by_zoom=True))

    assert await _register(zoom) == (Outcome.FAILED, None, RESET)
    assert zoom.doubted == []


async def test_an_unreadable_registrant_list_makes_the_pair_retry_soon_not_tomorrow() -> None:
    zoom = FakeZoom(refusal=_spent(by_zoom=False), list_error=ZoomUnavailable("down"))

    outcome, _, resume_at = await _register(zoom)

    assert outcome is Outcome.FAILED
    assert resume_at is None
