"""Classes, their meetings and their registrants: ListClasses, ListClassMeetings,
ListMeetingRegistrants, CreateClassMeeting, LinkZoomMeeting and CancelRegistration."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from common.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound, Unavailable
from common.paging import decode_page_token, encode_page_token
from common.security.policy import Action, Facts, authorize
from common.security.principal import Principal
from common.zoom import ZoomClient
from common.zoom.errors import ZoomError, ZoomNotFound
from common.zoom.models import RegistrantRef, ZoomMeeting
from registration_service.domain import EmailDomainPolicy
from registration_service.read_models import ClassInfo, MeetingRow, Page, RegistrantView, StudentInfo
from registration_service.register import class_facts, load_class
from registration_service.registrar import result_of_error
from registration_service.repository import Database, RegistrationRepository

__all__ = ["Catalog", "NewMeeting"]


@dataclass(frozen=True, slots=True)
class NewMeeting:
    topic: str
    start_time: datetime
    duration: timedelta
    timezone: str | None
    meeting_type: Literal[2, 8]
    approval_type: Literal[0, 1]
    host_user: str | None
    recurrence: Mapping[str, object] | None


def _meeting_row(meeting: ZoomMeeting, class_id: uuid.UUID, fallback_timezone: str) -> MeetingRow:
    return MeetingRow(
        meeting_id=meeting.id,
        class_id=class_id,
        topic=meeting.topic,
        meeting_type=meeting.type,
        approval_type=meeting.approval_type if meeting.approval_type is not None else 2,
        start_time=meeting.start_time,
        duration=timedelta(minutes=meeting.duration_minutes or 0),
        timezone=meeting.timezone or fallback_timezone,
        status="scheduled",
        host_id=meeting.host_id,
        uuid=meeting.uuid or None,
        join_url=meeting.join_url,
    )


def _zoom_failure(error: ZoomError) -> Exception:
    result = result_of_error(error)
    if result.retryable:
        return Unavailable(f"Zoom could not be reached: {result.reason}", reason="ZOOM_UNAVAILABLE")
    return FailedPrecondition(result.reason, reason="ZOOM_REFUSED")


class Catalog:
    def __init__(
        self,
        db: Database,
        zoom: ZoomClient | None,
        clock: Callable[[], datetime],
        timeout_seconds: float,
        domains: EmailDomainPolicy,
    ) -> None:
        self._db = db
        self._domains = domains
        self._zoom = zoom
        self._clock = clock
        self._timeout = timeout_seconds

    def _require_zoom(self) -> ZoomClient:
        if self._zoom is None:
            raise Unavailable("Zoom is not configured for this service", reason="ZOOM_NOT_CONFIGURED")
        return self._zoom

    # ---- reads -------------------------------------------------------------------------------

    async def classes(self, principal: Principal, page_size: int, page_token: str) -> Page[ClassInfo]:
        # Every signed-in person may list; row-level security shows each only their own classes.
        authorize(principal, Action.LIST_CLASSES, Facts())
        filters = ("classes", str(principal.user_id))
        after = None
        if page_token:
            name, class_id = decode_page_token(page_token, filters, 2)
            after = (name, _uuid_from_token(class_id))
        async with self._db.as_caller(principal) as repo:
            rows = await repo.classes_page(after, page_size + 1)
        page = rows[:page_size]
        token = encode_page_token((page[-1].name, str(page[-1].class_id)), filters) if len(rows) > page_size else ""
        return Page(tuple(page), token)

    async def class_meetings(
        self, principal: Principal, class_id: uuid.UUID, page_size: int, page_token: str
    ) -> Page[MeetingRow]:
        filters = ("meetings", str(class_id))
        after = None
        if page_token:
            start, meeting_id = decode_page_token(page_token, filters, 2)
            try:
                after = (datetime.fromisoformat(start) if start else None, int(meeting_id))
            except ValueError:
                raise InvalidArgument(FieldViolation("page_token", "not a token from a previous page")) from None
        async with self._db.as_caller(principal) as repo:
            await _load_class_for(repo, principal, Action.LIST_CLASS_MEETINGS, class_id)
            rows = await repo.class_meetings(class_id, after, page_size + 1)
        page = rows[:page_size]
        token = ""
        if len(rows) > page_size:
            last = page[-1]
            token = encode_page_token(
                (last.start_time.isoformat() if last.start_time else "", str(last.meeting_id)), filters
            )
        return Page(tuple(page), token)

    async def students(
        self, principal: Principal, class_id: uuid.UUID, page_size: int, page_token: str
    ) -> Page[tuple[StudentInfo, bool]]:
        """The class's students, each with whether their email may be registered."""
        filters = ("students", str(class_id))
        after = None
        if page_token:
            name, student_id = decode_page_token(page_token, filters, 2)
            after = (name, _uuid_from_token(student_id))
        async with self._db.as_caller(principal) as repo:
            await load_class(repo, principal, Action.LIST_CLASS_STUDENTS, class_id)
            rows, total = await repo.students_page(class_id, after, page_size + 1)
            await repo.audit(
                principal, "registration.list_class_students", target_type="class", target_id=str(class_id)
            )
        page = rows[:page_size]
        token = ""
        if len(rows) > page_size:
            token = encode_page_token((page[-1].display_name, str(page[-1].student_id)), filters)
        return Page(tuple((s, self._domains.allows(s.email)) for s in page), token, total)

    async def registrants(
        self, principal: Principal, meeting_id: int, statuses: tuple[str, ...], page_size: int, page_token: str
    ) -> Page[RegistrantView]:
        filters = ("registrants", meeting_id, statuses)
        after = None
        if page_token:
            name, student_id = decode_page_token(page_token, filters, 2)
            after = (name, _uuid_from_token(student_id))
        async with self._db.as_caller(principal) as repo:
            await self._load_meeting(repo, principal, Action.LIST_MEETING_REGISTRANTS, meeting_id)
            rows, total = await repo.registrants_page(meeting_id, statuses, after, page_size + 1)
            await repo.audit(
                principal, "registration.list_registrants", target_type="meeting", target_id=str(meeting_id)
            )
        page = rows[:page_size]
        token = ""
        if len(rows) > page_size:
            token = encode_page_token((page[-1].display_name, str(page[-1].student_id)), filters)
        return Page(tuple(page), token, total)

    async def _load_meeting(
        self, repo: RegistrationRepository, principal: Principal, action: Action, meeting_id: int
    ) -> MeetingRow:
        meeting = await repo.meeting(meeting_id)
        school_class = await repo.school_class(meeting.class_id) if meeting and meeting.class_id else None
        authorize(principal, action, class_facts(school_class))
        if meeting is None:
            raise NotFound("meeting not found", reason="NOT_FOUND")
        return meeting

    # ---- changes -----------------------------------------------------------------------------

    async def cancel_registration(self, principal: Principal, meeting_id: int, student_id: uuid.UUID) -> RegistrantView:
        async with self._db.as_caller(principal) as repo:
            await self._load_meeting(repo, principal, Action.CANCEL_REGISTRATION, meeting_id)
            registrant = await repo.registrant(meeting_id, student_id)
        if registrant is None:
            raise NotFound("the student is not registered for this meeting", reason="NOT_FOUND")
        if registrant.status in ("cancelled", "denied"):
            return registrant
        try:
            await self._require_zoom().update_registrant_status(
                meeting_id,
                "cancel",
                [RegistrantRef(registrant_id=registrant.registrant_id)],
                timeout_seconds=self._timeout,
            )
        except ZoomNotFound:
            pass  # the meeting is gone at Zoom: nothing left to cancel there
        except ZoomError as error:
            raise _zoom_failure(error) from None
        async with self._db.as_caller(principal) as repo:
            await repo.cancel_registration(meeting_id, student_id)
            await repo.audit(
                principal,
                "registration.cancel_registration",
                target_type="meeting_registrant",
                target_id=f"{meeting_id}:{student_id}",
            )
            cancelled = await repo.registrant(meeting_id, student_id)
        assert cancelled is not None
        return cancelled

    async def create_meeting(self, principal: Principal, class_id: uuid.UUID, new: NewMeeting) -> MeetingRow:
        if new.start_time <= self._clock():
            raise InvalidArgument(FieldViolation("start_time", "must be in the future"))
        async with self._db.as_caller(principal) as repo:
            school_class = await load_class(repo, principal, Action.CREATE_CLASS_MEETING, class_id)
        host = new.host_user or school_class.teacher_zoom_user_id or "me"
        try:
            meeting = await self._require_zoom().create_meeting(
                host,
                topic=new.topic,
                start_time=new.start_time,
                duration_minutes=int(new.duration.total_seconds() // 60),
                timezone=new.timezone or school_class.timezone,
                meeting_type=new.meeting_type,
                recurrence=new.recurrence,
                approval_type=new.approval_type,
                timeout_seconds=self._timeout,
            )
        except ZoomError as error:
            raise _zoom_failure(error) from None
        return await self._store_link(principal, school_class, meeting, "registration.create_class_meeting")

    async def link_meeting(self, principal: Principal, class_id: uuid.UUID, meeting_id: int) -> MeetingRow:
        async with self._db.as_caller(principal) as repo:
            school_class = await load_class(repo, principal, Action.LINK_ZOOM_MEETING, class_id)
            existing = await repo.meeting(meeting_id)
        if existing is not None and existing.class_id not in (None, class_id):
            raise FailedPrecondition("the meeting is linked to another class", reason="MEETING_LINKED_ELSEWHERE")
        try:
            meeting = await self._require_zoom().get_meeting(meeting_id, timeout_seconds=self._timeout)
        except ZoomNotFound:
            raise NotFound("Zoom has no such meeting", reason="NOT_FOUND") from None
        except ZoomError as error:
            raise _zoom_failure(error) from None
        if meeting.type not in (2, 8) or meeting.approval_type not in (0, 1):
            raise FailedPrecondition(
                "registration is not enabled for this meeting at Zoom (it must be a scheduled or fixed-time "
                "recurring meeting with registration required)",
                reason="REGISTRATION_DISABLED",
            )
        return await self._store_link(principal, school_class, meeting, "registration.link_zoom_meeting")

    async def _store_link(
        self, principal: Principal, school_class: ClassInfo, meeting: ZoomMeeting, action: str
    ) -> MeetingRow:
        row = _meeting_row(meeting, school_class.class_id, school_class.timezone)
        async with self._db.as_caller(principal) as repo:
            await repo.save_meeting(row)
            await repo.audit(
                principal,
                action,
                target_type="meeting",
                target_id=str(meeting.id),
                detail=f"class {school_class.class_id}",
            )
            stored = await repo.meeting(meeting.id)
        assert stored is not None
        return stored


def _uuid_from_token(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidArgument(FieldViolation("page_token", "not a token from a previous page")) from None


async def _load_class_for(
    repo: RegistrationRepository, principal: Principal, action: Action, class_id: uuid.UUID
) -> ClassInfo:
    """Like load_class, but an enrolled student may also act (on their own class's listing)."""
    school_class = await repo.school_class(class_id)
    facts = class_facts(school_class)
    if principal.role == "student" and school_class is not None:
        me = await repo.student(class_id, principal.user_id)
        facts = Facts(class_teacher_id=school_class.teacher_id, caller_enrolled=bool(me and me.enrolled))
    authorize(principal, action, facts)
    if school_class is None:
        raise NotFound("class not found", reason="NOT_FOUND")
    return school_class
