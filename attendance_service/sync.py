"""SyncMeetingAttendance: Zoom's participant report in, matched segments and attendance records out.

The report is read whole (every page) before any write, outside a transaction; the writes then
happen in one transaction under a per-meeting lock, and only where something differs, so the same
report twice writes nothing and a newer report replaces the older result.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

from attendance_service.domain import (
    ExpectedStudent,
    MatchMethod,
    Roster,
    Segment,
    local_date,
    person_key,
    scheduled_start_of_instance,
)
from attendance_service.ports import Clock, Transactions, system_clock
from attendance_service.read_models import MeetingOverview, SyncOutcome
from attendance_service.reconcile import (
    Counts,
    RecordState,
    SegmentPlan,
    StoredSegment,
    count_statuses,
    dedupe_segments,
    match_segments,
    plan_records,
    plan_segments,
)
from attendance_service.repository import Instance
from attendance_service.service import meeting_facts, refuse_missing
from common.errors import FailedPrecondition, ResourceExhausted, RollcallError, Unavailable
from common.security.policy import Action, authorize
from common.security.principal import Principal
from common.zoom import ZoomClient, ZoomDailyLimitReached, ZoomError, ZoomNotFound, ZoomParticipant, ZoomRateLimited

__all__ = ["AttendanceSync", "ReportNotReady", "ReportSource", "SyncStore", "ZoomReportSource", "zoom_error"]


class ReportNotReady(Exception):
    """Zoom has no participant report for the instance yet (it can lag the end by 30 minutes)."""


class ReportSource(Protocol):
    """Zoom's side of a sync, as the use case needs it."""

    async def latest_instance(self, meeting_id: int) -> tuple[str, datetime] | None: ...

    async def report(self, meeting_uuid: str) -> list[Segment]:
        """Every row of the instance's report as unmatched segments; ReportNotReady when none."""
        ...


class ZoomReportSource:
    """ReportSource over the shared Zoom client."""

    def __init__(self, client: ZoomClient) -> None:
        self._client = client

    async def latest_instance(self, meeting_id: int) -> tuple[str, datetime] | None:
        try:
            instances = await self._client.meeting_instances(meeting_id)
        except ZoomNotFound:
            return None
        latest = max(instances, key=lambda i: i.start_time, default=None)
        return None if latest is None else (latest.uuid, latest.start_time)

    async def report(self, meeting_uuid: str) -> list[Segment]:
        try:
            return [_segment_of(p) async for p in self._client.participants_report(meeting_uuid)]
        except ZoomNotFound as exc:
            raise ReportNotReady(str(exc)) from exc


def _segment_of(row: ZoomParticipant) -> Segment:
    # Rows without a per-join id get a stable one from what identifies the join, so a re-sync
    # of the same report finds the same key.
    basis = f"{row.id}|{row.name}|{row.user_email}|{row.join_time.isoformat()}"
    return Segment(
        zoom_user_id=row.user_id or "anon-" + hashlib.sha256(basis.encode()).hexdigest()[:16],
        join_time=row.join_time,
        leave_time=row.leave_time,
        display_name=row.name,
        email=row.user_email or None,
        registrant_id=row.registrant_id or None,
        zoom_id=row.id or None,
        duration_seconds=row.duration_seconds,
    )


def zoom_error(exc: ZoomError) -> RollcallError:
    """A Zoom failure as the caller should see it: retry later, quota spent, or Zoom refused."""
    if isinstance(exc, ZoomDailyLimitReached):
        return ResourceExhausted(
            "Zoom's daily limit for reports is spent", reason="ZOOM_DAILY_LIMIT", retry_at=exc.resume_at
        )
    if isinstance(exc, ZoomRateLimited):
        return Unavailable(
            "Zoom is rate limiting; try again shortly",
            reason="ZOOM_RATE_LIMITED",
            retry_after_seconds=exc.retry_after_seconds or 5.0,
        )
    if isinstance(exc, ZoomNotFound):
        return FailedPrecondition("Zoom does not know this meeting instance", reason="ZOOM_MEETING_NOT_FOUND")
    return Unavailable("Zoom did not answer as expected; try again later", reason="ZOOM_UNAVAILABLE")


class SyncStore(Protocol):
    async def meeting(self, meeting_id: int, caller: uuid.UUID | None) -> MeetingOverview | None: ...

    async def lock_meeting(self, meeting_id: int) -> None: ...

    async def roster_inputs(
        self, meeting_id: int
    ) -> tuple[object, tuple[ExpectedStudent, ...], dict[str, str]] | None: ...

    async def stored_segments(self, uuid: str) -> list[StoredSegment]: ...

    async def apply_segment_plan(self, meeting_id: int, uuid: str, plan: SegmentPlan) -> None: ...

    async def note_instance(
        self, uuid: str, meeting_id: int, *, start_time: datetime | None = None, end_time: datetime | None = None
    ) -> Instance: ...

    async def set_current_instance(self, meeting_id: int, uuid: str) -> None: ...

    async def record_states(self, class_id: uuid.UUID, day: date) -> dict[str, RecordState]: ...

    async def write_zoom_records(self, class_id: uuid.UUID, day: date, writes: dict[str, RecordState]) -> None: ...

    async def audit(
        self, actor: Principal | None, action: str, *, target_type: str, target_id: str, detail: str | None = None
    ) -> None: ...


class AttendanceSync:
    """Runs syncs on demand (SyncMeetingAttendance) and for the background worker."""

    def __init__(self, db: Transactions[SyncStore], source: ReportSource | None, clock: Clock = system_clock) -> None:
        self._db = db
        self.source = source
        self._clock = clock

    async def sync_on_demand(self, principal: Principal, meeting_id: int, meeting_uuid: str) -> SyncOutcome:
        async with self._db.as_caller(principal) as store:
            overview = await store.meeting(meeting_id, principal.user_id)
            if overview is None:
                raise refuse_missing(principal, Action.SYNC_ATTENDANCE, "meeting")
            authorize(principal, Action.SYNC_ATTENDANCE, meeting_facts(overview))
        if self.source is None:
            raise FailedPrecondition("Zoom is not configured for this deployment", reason="ZOOM_NOT_CONFIGURED")
        try:
            instance_start = None
            if not meeting_uuid:
                latest = await self.source.latest_instance(meeting_id)
                if latest is not None:
                    meeting_uuid, instance_start = latest
                elif overview.meeting.uuid:
                    meeting_uuid = overview.meeting.uuid
                else:
                    raise FailedPrecondition("the meeting has not run yet", reason="MEETING_NOT_RUN")
            rows = await self.source.report(meeting_uuid)
        except ReportNotReady:
            raise FailedPrecondition(
                "Zoom has no participant report for this meeting yet (it can take 30 minutes after the end)",
                reason="REPORT_NOT_READY",
            ) from None
        except ZoomError as exc:
            raise zoom_error(exc) from exc
        return await self.apply(meeting_id, meeting_uuid, rows, actor=principal, instance_start=instance_start)

    async def apply(
        self,
        meeting_id: int,
        meeting_uuid: str,
        report: Sequence[Segment] | None,
        *,
        actor: Principal | None,
        instance_start: datetime | None = None,
    ) -> SyncOutcome:
        """Stores `report` for the instance and recomputes the class's records. With no report
        (Zoom never produced one), the records come from the live segments as they are."""
        async with self._db.as_system() as store:
            await store.lock_meeting(meeting_id)
            overview = await store.meeting(meeting_id, None)
            inputs = await store.roster_inputs(meeting_id)
            if overview is None or inputs is None:
                raise FailedPrecondition("the meeting is no longer known", reason="MEETING_NOT_FOUND")
            _, students, registrants = inputs
            latest_known = overview.meeting.instance_start
            instance = await store.note_instance(meeting_uuid, meeting_id, start_time=instance_start)
            if report is None:
                segments = [s.segment for s in await store.stored_segments(meeting_uuid)]
                segments_written = 0
            else:
                roster = Roster.for_class(students, registrants)
                segments = match_segments(dedupe_segments(report), roster)
                plan = plan_segments(await store.stored_segments(meeting_uuid), segments)
                await store.apply_segment_plan(meeting_id, meeting_uuid, plan)
                segments_written = plan.writes
            if (
                overview.meeting.uuid is None
                or latest_known is None
                or (instance.start_time is not None and instance.start_time >= latest_known)
            ):
                await store.set_current_instance(meeting_id, meeting_uuid)
            written, unchanged, counts = await self._records(store, overview, instance, students, segments)
            if actor is not None or segments_written or written:
                await store.audit(
                    actor,
                    Action.SYNC_ATTENDANCE.value,
                    target_type="meeting",
                    target_id=str(meeting_id),
                    detail=f"segments_written={segments_written} records_written={written}",
                )
        matched = {s.student_id for s in segments if s.match_method is not MatchMethod.UNMATCHED}
        return SyncOutcome(
            report_row_count=0 if report is None else len(report),
            segments_written=segments_written,
            matched_count=len(matched),
            unmatched_count=len({person_key(s) for s in segments if s.match_method is MatchMethod.UNMATCHED}),
            records_written=written,
            records_unchanged=unchanged,
            counts=counts,
        )

    async def _records(
        self,
        store: SyncStore,
        overview: MeetingOverview,
        instance: Instance,
        students: tuple[ExpectedStudent, ...],
        segments: Sequence[Segment],
    ) -> tuple[int, int, Counts]:
        meeting, school_class = overview.meeting, overview.school_class
        start = instance.start_time or meeting.start_time or min((s.join_time for s in segments), default=None)
        if school_class is None or start is None:
            return 0, 0, Counts(enrolled=len(students))
        day = local_date(start, school_class.timezone)
        plan = plan_records(
            students=[s.student_id for s in students],
            segments=segments,
            existing=await store.record_states(school_class.class_id, day),
            meeting_id=meeting.meeting_id,
            scheduled_start=scheduled_start_of_instance(meeting.start_time, start, school_class.timezone),
            scheduled_duration=meeting.duration,
            policy=school_class.policy,
            now=self._clock(),
        )
        await store.write_zoom_records(school_class.class_id, day, dict(plan.writes))
        counts = count_statuses((state.status for state in plan.final.values()), len(students))
        return len(plan.writes), plan.unchanged, counts
