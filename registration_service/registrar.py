"""Registering people into one Zoom meeting: batch for scheduled meetings, single adds otherwise,
and every Zoom failure turned into a per-person outcome an admin can act on.

Zoom answers a known e-mail with the same registrant, so repeating a registration after a crash or
a lost response finds the first one again: that is how a pair stays registered exactly once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from common.zoom import ZoomClient
from common.zoom.errors import (
    ZoomAccessDenied,
    ZoomCapacityReached,
    ZoomConfigurationError,
    ZoomDailyLimitReached,
    ZoomError,
    ZoomHostCannotRegister,
    ZoomMeetingOver,
    ZoomNotFound,
    ZoomNotHost,
    ZoomNotScheduledMeeting,
    ZoomRateLimited,
    ZoomRegistrationDisabled,
    ZoomValidationError,
)
from common.zoom.models import ZoomRegistrantInput
from registration_service.domain import Outcome, PairResult, zoom_names

__all__ = ["BATCH_LIMIT", "Person", "Registrar", "TargetMeeting", "result_of_error"]

BATCH_LIMIT = 30  # Zoom's batch_registrants takes at most 30 people


@dataclass(frozen=True, slots=True)
class Person:
    student_id: uuid.UUID
    email: str = field(repr=False)
    display_name: str = field(repr=False)

    def zoom_input(self) -> ZoomRegistrantInput:
        first, last = zoom_names(self.display_name)
        return ZoomRegistrantInput(email=self.email, first_name=first, last_name=last)


@dataclass(frozen=True, slots=True)
class TargetMeeting:
    meeting_id: int
    meeting_type: int
    approval_type: int

    @property
    def status(self) -> str:
        """Stored status of a new registrant: manual approval leaves it pending."""
        return "pending" if self.approval_type == 1 else "approved"


def _daily_reason(error: ZoomDailyLimitReached) -> str:
    whose = {
        "registrant": "this student's 3 registrations a day",
        "account-heavy": "the account's daily batch quota",
        "host-meetings": "the host's 100 meeting changes a day",
    }[error.scope]
    return f"Zoom's daily limit ({whose}) is spent; it resets at {error.resume_at:%Y-%m-%d %H:%M} UTC"


def result_of_error(error: ZoomError) -> PairResult:
    """One table from Zoom's errors to outcomes: the meeting cannot take the student (NOT_ELIGIBLE),
    or the call failed and may (retryable) or may not succeed later."""
    code = error.code
    match error:
        case ZoomRegistrationDisabled():
            return PairResult(
                Outcome.NOT_ELIGIBLE,
                reason="registration is not enabled for this meeting at Zoom",
                zoom_error_code=code,
            )
        case ZoomNotFound():
            return PairResult(Outcome.NOT_ELIGIBLE, reason="the meeting no longer exists at Zoom", zoom_error_code=code)
        case ZoomCapacityReached():
            return PairResult(Outcome.NOT_ELIGIBLE, reason="the meeting is full at Zoom", zoom_error_code=code)
        case ZoomMeetingOver():
            return PairResult(Outcome.NOT_ELIGIBLE, reason="the meeting is over", zoom_error_code=code)
        case ZoomHostCannotRegister():
            return PairResult(
                Outcome.NOT_ELIGIBLE, reason="the meeting's host cannot be a registrant", zoom_error_code=code
            )
        case ZoomNotHost() | ZoomAccessDenied() | ZoomConfigurationError():
            return PairResult(
                Outcome.FAILED, reason="rollcall's Zoom app may not manage this meeting", zoom_error_code=code
            )
        case ZoomValidationError():
            return PairResult(
                Outcome.FAILED, reason=f"Zoom refused the registrant: {error.message}", zoom_error_code=code
            )
        case ZoomDailyLimitReached():
            return PairResult(Outcome.FAILED, reason=_daily_reason(error), zoom_error_code=code, retryable=True)
        case ZoomRateLimited():
            return PairResult(
                Outcome.FAILED, reason="Zoom's rate limit: try again shortly", zoom_error_code=code, retryable=True
            )
        case _:
            return PairResult(
                Outcome.FAILED, reason="Zoom is not answering: try again later", zoom_error_code=code, retryable=True
            )


@dataclass(frozen=True, slots=True)
class Attempt:
    """A result, with the Zoom error behind a failure (the worker reads its timing hints)."""

    result: PairResult
    error: ZoomError | None = None

    @property
    def resume_at(self) -> datetime | None:
        return self.error.resume_at if isinstance(self.error, ZoomDailyLimitReached) else None

    @property
    def paced(self) -> bool:
        """Refused for pacing (Zoom's per-second limits), not for a fault."""
        return isinstance(self.error, ZoomRateLimited)

    @property
    def retry_after_seconds(self) -> float | None:
        return self.error.retry_after_seconds if isinstance(self.error, ZoomRateLimited) else None


class Registrar:
    """Sends registrations to Zoom; pacing and retries within the deadline are the client's."""

    def __init__(self, zoom: ZoomClient) -> None:
        self._zoom = zoom

    async def register(
        self, meeting: TargetMeeting, people: Sequence[Person], *, batch: bool, timeout_seconds: float
    ) -> dict[uuid.UUID, Attempt]:
        """Registers `people` into `meeting`; one person's failure never hides another's result."""
        if batch and meeting.meeting_type == 2 and len(people) > 1:
            return await self._batch(meeting, people, timeout_seconds)
        return await self._singles(meeting, people, timeout_seconds)

    async def _singles(
        self, meeting: TargetMeeting, people: Sequence[Person], timeout_seconds: float
    ) -> dict[uuid.UUID, Attempt]:
        attempts = await asyncio.gather(*(self._single(meeting, p, timeout_seconds) for p in people))
        return {person.student_id: attempt for person, attempt in zip(people, attempts, strict=True)}

    async def _single(
        self, meeting: TargetMeeting, person: Person, timeout_seconds: float, *, recover: bool = True
    ) -> Attempt:
        try:
            registrant = await self._zoom.add_registrant(
                meeting.meeting_id, person.zoom_input(), timeout_seconds=timeout_seconds
            )
        except ZoomDailyLimitReached as error:
            if not recover:
                return Attempt(result_of_error(error), error)
            return (await self._recover(meeting, [person], error, timeout_seconds))[person.student_id]
        except ZoomError as error:
            return Attempt(result_of_error(error), error)
        return Attempt(PairResult(Outcome.REGISTERED, registrant.registrant_id, registrant.join_url))

    async def _recover(
        self, meeting: TargetMeeting, people: Sequence[Person], error: ZoomDailyLimitReached, timeout_seconds: float
    ) -> dict[uuid.UUID, Attempt]:
        """A student's daily adds are spent, most often by earlier attempts whose answers were
        lost: Zoom then holds the registrant, and its registrant list tells who (one Medium call
        a page) instead of leaving the student waiting for tomorrow.

        When the list lacks the student, none of the spent adds was applied (Zoom answers a known
        e-mail with the same registrant). If only our budget refused, the adds were spent by
        attempts of unknown outcome, perhaps in a replica killed before it could remember them as
        such: the client gives the student the benefit of doubt and one more add is sent (Zoom
        answers its own daily 429 if it did count them). A list that cannot be read leaves the
        pairs to be retried soon, like any Zoom failure, rather than tomorrow."""
        wanted = {p.email.lower(): p for p in people}
        found: dict[uuid.UUID, Attempt] = {}
        try:
            for status in ("approved", "pending"):
                async for record in self._zoom.list_registrants(
                    meeting.meeting_id, status=status, timeout_seconds=timeout_seconds
                ):
                    person = wanted.pop(record.email.lower(), None)
                    if person is not None:
                        result = PairResult(Outcome.REGISTERED, record.registrant_id, record.join_url)
                        found[person.student_id] = Attempt(result)
                if not wanted:
                    break
        except ZoomError as listing:
            found.update({p.student_id: Attempt(result_of_error(listing), listing) for p in wanted.values()})
            return found
        if error.http_status is None and error.scope == "registrant" and wanted:
            for person in wanted.values():
                self._zoom.doubt_registrant_adds(meeting.meeting_id, person.email)
            again = await asyncio.gather(
                *(self._single(meeting, p, timeout_seconds, recover=False) for p in wanted.values())
            )
            found.update({p.student_id: a for p, a in zip(wanted.values(), again, strict=True)})
            return found
        for person in wanted.values():
            found[person.student_id] = Attempt(result_of_error(error), error)
        return found

    async def _batch(
        self, meeting: TargetMeeting, people: Sequence[Person], timeout_seconds: float
    ) -> dict[uuid.UUID, Attempt]:
        results: dict[uuid.UUID, Attempt] = {}
        for start in range(0, len(people), BATCH_LIMIT):
            chunk = people[start : start + BATCH_LIMIT]
            results.update(await self._one_batch(meeting, chunk, timeout_seconds))
        return results

    async def _one_batch(
        self, meeting: TargetMeeting, people: Sequence[Person], timeout_seconds: float
    ) -> dict[uuid.UUID, Attempt]:
        try:
            created = await self._zoom.batch_registrants(
                meeting.meeting_id,
                [p.zoom_input() for p in people],
                auto_approve=meeting.approval_type == 0,
                timeout_seconds=timeout_seconds,
            )
        except ZoomNotScheduledMeeting:
            # Stored type was stale: Zoom says it is not a scheduled meeting, so add one by one.
            return await self._singles(meeting, people, timeout_seconds)
        except ZoomDailyLimitReached as error:
            if error.scope == "account-heavy":
                # The batch quota is spent for today; single adds (Light) still work, only slower.
                return await self._singles(meeting, people, timeout_seconds)
            spent = set(error.exhausted_indexes)
            results = await self._recover(
                meeting, [p for i, p in enumerate(people) if i in spent], error, timeout_seconds
            )
            rest = [p for i, p in enumerate(people) if i not in spent]
            if rest and spent:
                results.update(await self._one_batch(meeting, rest, timeout_seconds))
            elif rest:
                results.update(await self._recover(meeting, rest, error, timeout_seconds))
            return results
        except ZoomError as error:
            return {p.student_id: Attempt(result_of_error(error), error) for p in people}
        by_email = {r.email.lower(): r for r in created}
        results = {}
        for person in people:
            found = by_email.get(person.email.lower())
            if found is None:
                missing = PairResult(Outcome.FAILED, reason="Zoom's batch answer left this student out", retryable=True)
                results[person.student_id] = Attempt(missing)
            else:
                results[person.student_id] = Attempt(
                    PairResult(Outcome.REGISTERED, found.registrant_id, found.join_url)
                )
        return results
