"""`ZoomClient`: the typed Zoom operations rollcall uses, over one connection pool per client.

Every operation takes an optional `timeout_seconds`: the time it may take in all (token, pacing,
retries); default `ZoomClientConfig.deadline_seconds`. Paged operations apply it per page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal, TypeVar
from urllib.parse import quote

from common.zoom._aiohttp import AiohttpTransport
from common.zoom._clock import Clock, SystemClock
from common.zoom._http import encode_meeting_id
from common.zoom._ratelimit import (
    HOST_MEETING_WRITES_PER_DAY,
    REGISTRANT_ADDS_PER_DAY,
    DailyCounter,
    RateBudget,
    RateCategory,
    subject_hash,
)
from common.zoom._transport import ApiRequest, Transport
from common.zoom._wire import HttpTransport
from common.zoom.config import ZoomClientConfig
from common.zoom.errors import ZoomProtocolError, ZoomValidationError
from common.zoom.models import (
    MeetingId,
    RegistrantRef,
    ZoomBatchRegistrant,
    ZoomMeeting,
    ZoomMeetingInstance,
    ZoomParticipant,
    ZoomRegistrant,
    ZoomRegistrantInput,
    ZoomRegistrantRecord,
    parse_batch_registrants,
    parse_instance,
    parse_meeting,
    parse_page,
    parse_participant,
    parse_registrant,
    parse_registrant_record,
)

__all__ = ["ZoomClient"]

_T = TypeVar("_T")

# Zoom: page_size max 300 for registrants and participant lists; fewer pages, fewer calls.
_PAGE_SIZE = 300
# Zoom: batch registration takes up to 30 registrants per call.
_BATCH_LIMIT = 30

RegistrantStatus = Literal["pending", "approved", "denied"]
StatusAction = Literal["approve", "cancel", "deny"]


class ZoomClient:
    """Zoom meeting, registrant and participant operations for one account.

    `budget` paces every call within the account's rate limits; share a `PostgresRateBudget`
    between all processes that call Zoom for the account. `transport` carries the requests:
    by default aiohttp's (see common.zoom._aiohttp); unit tests pass a scripted Zoom.
    `clock` drives deadlines and pacing (unit tests pass a fake).
    """

    def __init__(
        self,
        config: ZoomClientConfig,
        budget: RateBudget,
        *,
        transport: HttpTransport | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._config = config
        # Pacing keeps at most (rate x latency) requests in flight; the pool bounds a stall.
        self._http = transport or AiohttpTransport(max_connections=100)
        self._transport = Transport(config, budget, self._http, clock or SystemClock())

    async def aclose(self) -> None:
        """Closes the connections."""
        await self._http.aclose()

    async def __aenter__(self) -> ZoomClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # ---- meetings ----------------------------------------------------------------------------

    async def get_meeting(self, meeting_id: MeetingId, *, timeout_seconds: float | None = None) -> ZoomMeeting:
        """`GET /meetings/{id}` (Light)."""
        request = ApiRequest(
            "GET", f"/meetings/{encode_meeting_id(meeting_id)}", "/meetings/{id}", RateCategory.LIGHT, meeting_id
        )
        return parse_meeting(await self._transport.send(request, timeout_seconds))

    async def create_meeting(
        self,
        host_user_id: str,
        *,
        topic: str,
        start_time: datetime,
        duration_minutes: int,
        timezone: str = "UTC",
        meeting_type: Literal[2, 8] = 2,
        recurrence: Mapping[str, object] | None = None,
        approval_type: Literal[0, 1] = 0,
        timeout_seconds: float | None = None,
    ) -> ZoomMeeting:
        """`POST /users/{userId}/meetings` (Medium), with registration on: approval automatic (0)
        or by the host (1).

        Counts toward the host's 100 creations/updates a day. Not idempotent at Zoom, so a failure
        after the request may have arrived (lost answer, 5xx) is raised, never retried.
        """
        if start_time.tzinfo is None:
            raise ZoomValidationError("start_time must be an aware datetime")
        if not 0 < duration_minutes <= 1440:
            raise ZoomValidationError("duration_minutes must be within 1 to 1440")
        if (meeting_type == 8) != (recurrence is not None):
            raise ZoomValidationError("a recurrence is required for, and only for, meeting type 8")
        body: dict[str, object] = {
            "topic": topic,
            "type": meeting_type,
            "start_time": start_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration": duration_minutes,
            "timezone": timezone,
            # registration_type 1: register once for all occurrences.
            "settings": {"approval_type": approval_type, "registration_type": 1},
        }
        if recurrence is not None:
            body["recurrence"] = dict(recurrence)
        request = ApiRequest(
            "POST",
            f"/users/{quote(host_user_id, safe='')}/meetings",
            "/users/{userId}/meetings",
            RateCategory.MEDIUM,
            json=body,
            idempotent=False,
            daily=(DailyCounter("host-meetings", subject_hash(host_user_id.lower()), HOST_MEETING_WRITES_PER_DAY),),
            daily_scope="host-meetings",
        )
        return parse_meeting(await self._transport.send(request, timeout_seconds))

    async def meeting_instances(
        self, meeting_id: MeetingId, *, timeout_seconds: float | None = None
    ) -> tuple[ZoomMeetingInstance, ...]:
        """`GET /past_meetings/{id}/instances` (Medium): the UUIDs of past occurrences."""
        request = ApiRequest(
            "GET",
            f"/past_meetings/{encode_meeting_id(meeting_id)}/instances",
            "/past_meetings/{id}/instances",
            RateCategory.MEDIUM,
            meeting_id,
        )
        items, _ = parse_page(
            await self._transport.send(request, timeout_seconds), "meetings", parse_instance, "instances"
        )
        return tuple(items)

    # ---- registrants -------------------------------------------------------------------------

    async def add_registrant(
        self,
        meeting_id: int,
        registrant: ZoomRegistrantInput,
        *,
        occurrence_ids: Sequence[str] = (),
        language: str | None = None,
        timeout_seconds: float | None = None,
    ) -> ZoomRegistrant:
        """`POST /meetings/{id}/registrants` (Light). Zoom answers a known e-mail with the same
        registrant, so a retry is safe, but every attempt spends one of the registrant's 3 adds
        a day: the client counts each and refuses the 4th with `ZoomDailyLimitReached`."""
        body: dict[str, object] = {"email": registrant.email, "first_name": registrant.first_name}
        if registrant.last_name:
            body["last_name"] = registrant.last_name
        if language:
            body["language"] = language
        request = ApiRequest(
            "POST",
            f"/meetings/{encode_meeting_id(meeting_id)}/registrants",
            "/meetings/{id}/registrants",
            RateCategory.LIGHT,
            meeting_id,
            params={"occurrence_ids": ",".join(occurrence_ids)} if occurrence_ids else None,
            json=body,
            daily=(self._registrant_counter(meeting_id, registrant.email),),
            daily_scope="registrant",
        )
        return parse_registrant(await self._transport.send(request, timeout_seconds))

    def doubt_registrant_adds(self, meeting_id: int, email: str) -> None:
        """Gives a registrant's spent adds of the day the benefit of doubt, as attempts that ended
        unknown get it: the next add is sent and Zoom decides. For a registrant that Zoom's
        registrant list lacks: none of its adds was applied, so they were spent by attempts of
        unknown outcome that this client does not remember (another replica's, or a killed one's)."""
        self._transport.doubt(self._registrant_counter(meeting_id, email))

    async def batch_registrants(
        self,
        meeting_id: int,
        registrants: Sequence[ZoomRegistrantInput],
        *,
        auto_approve: bool = True,
        send_confirmation_email: bool = False,
        timeout_seconds: float | None = None,
    ) -> tuple[ZoomBatchRegistrant, ...]:
        """`POST /meetings/{id}/batch_registrants` (Heavy): up to 30 people on a type-2 meeting.

        Raises `ZoomValidationError` before any call for more than 30. Each attempt spends one
        of the account's Heavy daily requests and one add of each registrant (forum: batches
        count toward the 3 a day); a spent registrant is named by position in
        `ZoomDailyLimitReached.exhausted_indexes`.
        """
        if len(registrants) > _BATCH_LIMIT:
            raise ZoomValidationError(
                f"Zoom takes at most {_BATCH_LIMIT} registrants per batch, got {len(registrants)}"
            )
        if not registrants:
            return ()
        rows: list[dict[str, str]] = []
        for person in registrants:
            row = {"email": person.email, "first_name": person.first_name}
            if person.last_name:
                row["last_name"] = person.last_name
            rows.append(row)
        request = ApiRequest(
            "POST",
            f"/meetings/{encode_meeting_id(meeting_id)}/batch_registrants",
            "/meetings/{id}/batch_registrants",
            RateCategory.HEAVY,
            meeting_id,
            json={
                "auto_approve": auto_approve,
                "registrants_confirmation_email": send_confirmation_email,
                "registrants": rows,
            },
            daily=tuple(self._registrant_counter(meeting_id, p.email) for p in registrants),
            daily_scope="account-heavy",
        )
        return parse_batch_registrants(await self._transport.send(request, timeout_seconds))

    async def list_registrants(
        self,
        meeting_id: int,
        *,
        status: RegistrantStatus = "approved",
        occurrence_id: str | None = None,
        timeout_seconds: float | None = None,
    ) -> AsyncIterator[ZoomRegistrantRecord]:
        """`GET /meetings/{id}/registrants` (Medium), every page (300 a page) via next_page_token."""
        params: dict[str, str | int] = {"status": status, "page_size": _PAGE_SIZE}
        if occurrence_id:
            params["occurrence_id"] = occurrence_id
        path = f"/meetings/{encode_meeting_id(meeting_id)}/registrants"
        pages = self._pages(
            ApiRequest("GET", path, "/meetings/{id}/registrants", RateCategory.MEDIUM, meeting_id, params),
            "registrants",
            parse_registrant_record,
            timeout_seconds,
        )
        async for item in pages:
            yield item

    async def update_registrant_status(
        self,
        meeting_id: int,
        action: StatusAction,
        registrants: Sequence[RegistrantRef],
        *,
        occurrence_id: str | None = None,
        timeout_seconds: float | None = None,
    ) -> None:
        """`PUT /meetings/{id}/registrants/status` (Medium). Cancelling does not remove someone
        already in the meeting. Zoom allows 10 status updates per registrant per day (not
        tracked here: references by id and by e-mail cannot be matched to one counter)."""
        if not registrants:
            return
        refs = [{k: v for k, v in (("id", r.registrant_id), ("email", r.email)) if v is not None} for r in registrants]
        request = ApiRequest(
            "PUT",
            f"/meetings/{encode_meeting_id(meeting_id)}/registrants/status",
            "/meetings/{id}/registrants/status",
            RateCategory.MEDIUM,
            meeting_id,
            params={"occurrence_id": occurrence_id} if occurrence_id else None,
            json={"action": action, "registrants": refs},
        )
        await self._transport.send(request, timeout_seconds)

    async def delete_registrant(
        self,
        meeting_id: int,
        registrant_id: str,
        *,
        occurrence_id: str | None = None,
        timeout_seconds: float | None = None,
    ) -> None:
        """`DELETE /meetings/{id}/registrants/{registrantId}` (Light)."""
        if not registrant_id:
            raise ZoomValidationError("registrant_id is empty")
        request = ApiRequest(
            "DELETE",
            f"/meetings/{encode_meeting_id(meeting_id)}/registrants/{quote(registrant_id, safe='')}",
            "/meetings/{id}/registrants/{registrantId}",
            RateCategory.LIGHT,
            meeting_id,
            params={"occurrence_id": occurrence_id} if occurrence_id else None,
        )
        await self._transport.send(request, timeout_seconds)

    # ---- participants ------------------------------------------------------------------------

    async def participants_report(
        self, meeting_id: MeetingId, *, timeout_seconds: float | None = None
    ) -> AsyncIterator[ZoomParticipant]:
        """`GET /report/meetings/{id}/participants` (Heavy; Pro plan and up), every page.

        Asks for `include_fields=registrant_id`: without it Zoom leaves registrant_id out.
        Each page spends one of the account's Heavy daily requests.
        """
        path = f"/report/meetings/{encode_meeting_id(meeting_id)}/participants"
        params: dict[str, str | int] = {"page_size": _PAGE_SIZE, "include_fields": "registrant_id"}
        request = ApiRequest("GET", path, "/report/meetings/{id}/participants", RateCategory.HEAVY, meeting_id, params)
        async for item in self._pages(request, "participants", parse_participant, timeout_seconds):
            yield item

    async def past_meeting_participants(
        self, meeting_id: MeetingId, *, timeout_seconds: float | None = None
    ) -> AsyncIterator[ZoomParticipant]:
        """`GET /past_meetings/{id}/participants` (Medium), every page."""
        path = f"/past_meetings/{encode_meeting_id(meeting_id)}/participants"
        params: dict[str, str | int] = {"page_size": _PAGE_SIZE}
        request = ApiRequest("GET", path, "/past_meetings/{id}/participants", RateCategory.MEDIUM, meeting_id, params)
        async for item in self._pages(request, "participants", parse_participant, timeout_seconds):
            yield item

    # ---- internals ---------------------------------------------------------------------------

    async def _pages(
        self,
        first: ApiRequest,
        key: str,
        parse_item: Callable[[object], _T],
        timeout_seconds: float | None,
    ) -> AsyncIterator[_T]:
        """Follows next_page_token to the end (reading only the first page is a known bug
        elsewhere); Zoom's tokens expire after 15 minutes, so consume promptly."""
        request = first
        seen: set[str] = set()
        while True:
            body = await self._transport.send(request, timeout_seconds)
            items, token = parse_page(body, key, parse_item, first.template)
            for item in items:
                yield item
            if not token:
                return
            if token in seen:
                raise ZoomProtocolError(f"Zoom repeated a next_page_token on {first.template}")
            seen.add(token)
            request = ApiRequest(
                first.method,
                first.path,
                first.template,
                first.category,
                first.meeting_id,
                {**(first.params or {}), "next_page_token": token},
            )

    def _registrant_counter(self, meeting_id: int, email: str) -> DailyCounter:
        """The 3-adds-a-day counter: per (meeting, e-mail) as documented, or per e-mail across
        meetings (forum report), as configured. Keyed by hash: no e-mail is stored."""
        email_key = email.strip().lower()
        if self._config.registrant_limit_scope == "email":
            subject = subject_hash(email_key)
        else:
            subject = subject_hash(str(meeting_id), email_key)
        return DailyCounter("registrant", subject, REGISTRANT_ADDS_PER_DAY)
