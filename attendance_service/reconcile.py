"""What a sync must change: Zoom's report against the stored segments, new statuses against records.

Pure functions over domain values (standard library only). Both plans compare before they write,
so syncing the same report twice plans nothing the second time, and records a teacher set by hand
(or a QR check-in) are never planned over.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from attendance_service.domain import (
    AttendancePolicy,
    AttendanceSource,
    AttendanceStatus,
    MatchMethod,
    Roster,
    Segment,
    classify,
)

__all__ = [
    "Counts",
    "RecordPlan",
    "RecordState",
    "SegmentKey",
    "SegmentPlan",
    "StoredSegment",
    "count_statuses",
    "dedupe_segments",
    "match_segments",
    "plan_records",
    "plan_segments",
    "report_is_complete",
]

SegmentKey = tuple[str, datetime]
"""(Zoom's per-join user id, join time): what the database keeps unique per meeting instance."""


def _key(segment: Segment) -> SegmentKey:
    return segment.zoom_user_id, segment.join_time


def dedupe_segments(segments: Iterable[Segment]) -> list[Segment]:
    """One segment per key, keeping the longest sighting: a report can list a row twice across
    pages while it is still being assembled."""
    by_key: dict[SegmentKey, Segment] = {}
    for segment in segments:
        seen = by_key.get(_key(segment))
        if seen is None or _ends_later(segment, seen):
            by_key[_key(segment)] = segment
    return sorted(by_key.values(), key=lambda s: (s.join_time, s.zoom_user_id))


def _ends_later(candidate: Segment, seen: Segment) -> bool:
    if seen.leave_time is None:
        return False
    return candidate.leave_time is None or candidate.leave_time > seen.leave_time


def match_segments(segments: Iterable[Segment], roster: Roster) -> list[Segment]:
    """Ties each segment to a student by registrant id, email, then a unique name; never guesses."""
    matched = []
    for segment in segments:
        student_id, method = roster.match(
            registrant_id=segment.registrant_id, email=segment.email, name=segment.display_name
        )
        matched.append(replace(segment, student_id=student_id, match_method=method))
    return matched


@dataclass(frozen=True, slots=True)
class StoredSegment:
    """A segment as stored, with where it came from: "report" (final) or "webhook" (live)."""

    segment: Segment
    source: str


@dataclass(frozen=True, slots=True)
class SegmentPlan:
    """Rows to insert or update (as report rows) and keys to delete."""

    upserts: tuple[Segment, ...]
    deletes: tuple[SegmentKey, ...]

    @property
    def writes(self) -> int:
        return len(self.upserts) + len(self.deletes)


def plan_segments(existing: Iterable[StoredSegment], report: Sequence[Segment]) -> SegmentPlan:
    """The report replaces what was stored for the instance: live rows become report rows,
    rows the report no longer lists go, and rows equal to what is stored are left alone."""
    stored = {_key(s.segment): s for s in existing}
    wanted = {_key(s) for s in report}
    upserts = tuple(
        s for s in report if (old := stored.get(_key(s))) is None or old.source != "report" or old.segment != s
    )
    deletes = tuple(sorted(key for key in stored if key not in wanted))
    return SegmentPlan(upserts, deletes)


def report_is_complete(report: Sequence[Segment], live_segment_count: int) -> bool:
    """Zoom's report can lag the meeting by up to 30 minutes and fills in gradually: it is taken
    as complete once it has rows, every row has left, and it holds at least the joins seen live."""
    return bool(report) and all(s.leave_time is not None for s in report) and len(report) >= live_segment_count


@dataclass(frozen=True, slots=True)
class RecordState:
    """The stored fields of one attendance record that a sync may set."""

    status: AttendanceStatus
    source: AttendanceSource
    attended_seconds: int = 0
    first_join: datetime | None = None
    last_leave: datetime | None = None
    left_early: bool = False
    meeting_id: int | None = None

    @property
    def protected(self) -> bool:
        """A teacher's hand (manual, excused) and a QR check-in are never overwritten by Zoom data."""
        return self.source is not AttendanceSource.ZOOM or self.status is AttendanceStatus.EXCUSED


@dataclass(frozen=True, slots=True)
class RecordPlan:
    """Records to write (by student id), how many stay as they are, and every student's final state."""

    writes: Mapping[str, RecordState]
    unchanged: int
    final: Mapping[str, RecordState]


def plan_records(
    *,
    students: Iterable[str],
    segments: Sequence[Segment],
    existing: Mapping[str, RecordState],
    meeting_id: int,
    scheduled_start: datetime,
    scheduled_duration: timedelta,
    policy: AttendancePolicy,
    now: datetime,
) -> RecordPlan:
    """Classifies every enrolled student from their matched segments (absent when never seen)."""
    stays: dict[str, list[Segment]] = {}
    for segment in segments:
        if segment.student_id is not None and segment.match_method is not MatchMethod.UNMATCHED:
            stays.setdefault(segment.student_id, []).append(segment)
    writes: dict[str, RecordState] = {}
    final: dict[str, RecordState] = {}
    unchanged = 0
    for student_id in students:
        old = existing.get(student_id)
        if old is not None and old.protected:
            final[student_id] = old
            unchanged += 1
            continue
        result = classify(
            [s.stay for s in stays.get(student_id, ())],
            scheduled_start=scheduled_start,
            scheduled_duration=scheduled_duration,
            policy=policy,
            now=now,
        )
        new = RecordState(
            status=result.status,
            source=AttendanceSource.ZOOM,
            attended_seconds=int(result.attended.total_seconds()),
            first_join=result.first_join,
            last_leave=result.last_leave,
            left_early=result.left_early,
            meeting_id=meeting_id,
        )
        final[student_id] = new
        if new == old:
            unchanged += 1
        else:
            writes[student_id] = new
    return RecordPlan(writes, unchanged, final)


@dataclass(frozen=True, slots=True)
class Counts:
    """Attendance counts of a class date."""

    present: int = 0
    late: int = 0
    partial: int = 0
    absent: int = 0
    excused: int = 0
    enrolled: int = 0


def count_statuses(statuses: Iterable[AttendanceStatus], enrolled: int) -> Counts:
    tally = dict.fromkeys(AttendanceStatus, 0)
    for status in statuses:
        tally[status] += 1
    return Counts(
        present=tally[AttendanceStatus.PRESENT],
        late=tally[AttendanceStatus.LATE],
        partial=tally[AttendanceStatus.PARTIAL],
        absent=tally[AttendanceStatus.ABSENT],
        excused=tally[AttendanceStatus.EXCUSED],
        enrolled=enrolled,
    )
