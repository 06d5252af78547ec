"""Attendance rules: merging join segments, matching people to students, formal statuses.

Standard library only. Matching is deterministic and never guesses between two candidates:
Moodle's users report same-name students receiving each other's attendance.
"""

from __future__ import annotations

import enum
import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "AttendancePolicy",
    "AttendanceSource",
    "AttendanceStatus",
    "Classification",
    "ExpectedStudent",
    "MatchMethod",
    "Person",
    "Roster",
    "Segment",
    "Statistics",
    "Stay",
    "attended_time",
    "classify",
    "local_date",
    "merge_stays",
    "normalise_name",
    "people_of",
    "person_key",
    "scheduled_start_of_instance",
    "statistics_of",
]


@dataclass(frozen=True, slots=True)
class Stay:
    """One continuous presence of a participant in a meeting; `leave_time` None while present."""

    join_time: datetime
    leave_time: datetime | None


def merge_stays(stays: Iterable[Stay], now: datetime) -> list[Stay]:
    """The union of `stays` as disjoint stretches, so two devices at once count once.

    Open stays (still in the meeting) end at `now` for the union and stay open in the result.
    """
    ordered = sorted(stays, key=lambda s: s.join_time)
    merged: list[Stay] = []
    for stay in ordered:
        if merged:
            last = merged[-1]
            last_end = last.leave_time or now
            if stay.join_time <= last_end:
                if last.leave_time is None or stay.leave_time is None:
                    merged[-1] = Stay(last.join_time, None)
                else:
                    merged[-1] = Stay(last.join_time, max(last.leave_time, stay.leave_time))
                continue
        merged.append(stay)
    return merged


def attended_time(stays: Iterable[Stay], now: datetime) -> timedelta:
    """Time present, without double-counting overlaps; open stays count up to `now`."""
    total = timedelta()
    for stay in merge_stays(stays, now):
        end = stay.leave_time or now
        if end > stay.join_time:
            total += end - stay.join_time
    return total


class AttendanceStatus(enum.Enum):
    """Formal status of a student for a class date (the values stored in the database)."""

    PRESENT = "present"
    LATE = "late"
    PARTIAL = "partial"
    ABSENT = "absent"
    EXCUSED = "excused"


@dataclass(frozen=True, slots=True)
class AttendancePolicy:
    """A class's thresholds; the defaults are the ones schools most often use."""

    late_after: timedelta = timedelta(minutes=10)
    present_min_percent: int = 80
    ghost_join: timedelta = timedelta(minutes=1)
    early_leave: timedelta = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Classification:
    status: AttendanceStatus
    attended: timedelta
    first_join: datetime | None
    last_leave: datetime | None
    left_early: bool


def classify(
    stays: Sequence[Stay],
    *,
    scheduled_start: datetime,
    scheduled_duration: timedelta,
    policy: AttendancePolicy,
    now: datetime,
) -> Classification:
    """A student's status for one meeting from their stays.

    Stays shorter than the ghost-join threshold are ignored (a mis-click is not attendance).
    Late beats present: a student who joins late is LATE even if they then stay long enough;
    one who attends less than the present threshold is PARTIAL whether late or not.
    """
    real = [s for s in stays if ((s.leave_time or now) - s.join_time) >= policy.ghost_join]
    if not real:
        return Classification(AttendanceStatus.ABSENT, timedelta(), None, None, False)
    attended = attended_time(real, now)
    first_join = min(s.join_time for s in real)
    open_stay = any(s.leave_time is None for s in real)
    last_leave = None if open_stay else max(s.leave_time for s in real if s.leave_time is not None)
    scheduled_end = scheduled_start + scheduled_duration
    left_early = last_leave is not None and last_leave < scheduled_end - policy.early_leave
    required = scheduled_duration * policy.present_min_percent / 100
    if attended < required:
        status = AttendanceStatus.PARTIAL
    elif first_join > scheduled_start + policy.late_after:
        status = AttendanceStatus.LATE
    else:
        status = AttendanceStatus.PRESENT
    return Classification(status, attended, first_join, last_leave, left_early)


class AttendanceSource(enum.Enum):
    """Where a record came from; only ZOOM records are ever recomputed by a sync."""

    ZOOM = "zoom"
    QR = "qr"
    MANUAL = "manual"


class MatchMethod(enum.Enum):
    """How a Zoom participant was tied to a student, strongest first."""

    REGISTRANT_ID = "registrant_id"
    EMAIL = "email"
    NAME = "name"
    UNMATCHED = "unmatched"


_SPACES = re.compile(r"\s+")


def normalise_name(name: str) -> str:
    """Case, accents and spacing do not make two names differ ("JOSÉ  reyes" == "Jose Reyes")."""
    decomposed = unicodedata.normalize("NFKD", name)
    without_marks = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACES.sub(" ", without_marks).strip().casefold()


@dataclass(frozen=True, slots=True)
class Roster:
    """The enrolled students of a class, indexed once for deterministic matching.

    Build it with `Roster.of`: registrant ids and lower-cased emails map to student ids; names map
    to a student only when exactly one student has that normalised name.
    """

    registrants: Mapping[str, str]
    emails: Mapping[str, str]
    unique_names: Mapping[str, str]

    @classmethod
    def of(cls, *, registrants: Mapping[str, str], emails: Mapping[str, str], names: Mapping[str, str]) -> Roster:
        """`names` maps student id to display name; same-name students are left out of name matching."""
        by_name: dict[str, list[str]] = defaultdict(list)
        for student_id, name in names.items():
            by_name[normalise_name(name)].append(student_id)
        return cls(
            registrants=dict(registrants),
            emails={email.strip().lower(): student for email, student in emails.items()},
            unique_names={name: ids[0] for name, ids in by_name.items() if len(ids) == 1},
        )

    @classmethod
    def for_class(cls, students: Iterable[ExpectedStudent], registrants: Mapping[str, str]) -> Roster:
        """The roster of a meeting: its class's students and the meeting's registrant ids."""
        students = list(students)
        return cls.of(
            registrants=registrants,
            emails={s.email: s.student_id for s in students},
            names={s.student_id: s.display_name for s in students},
        )

    def match(self, *, registrant_id: str | None, email: str | None, name: str) -> tuple[str | None, MatchMethod]:
        """Registrant id, then email, then a name that belongs to exactly one student; else unmatched."""
        if registrant_id and registrant_id in self.registrants:
            return self.registrants[registrant_id], MatchMethod.REGISTRANT_ID
        if email and email.strip().lower() in self.emails:
            return self.emails[email.strip().lower()], MatchMethod.EMAIL
        student_id = self.unique_names.get(normalise_name(name))
        if student_id is not None:
            return student_id, MatchMethod.NAME
        return None, MatchMethod.UNMATCHED


# ---- people in a meeting ------------------------------------------------------------------

_MATCH_STRENGTH = {MatchMethod.REGISTRANT_ID: 0, MatchMethod.EMAIL: 1, MatchMethod.NAME: 2, MatchMethod.UNMATCHED: 3}


@dataclass(frozen=True, slots=True)
class Segment:
    """One join segment (one Zoom participant row, or one live join) with the match made for it.

    `zoom_user_id` is Zoom's per-join id; `zoom_id` is Zoom's `id` (the Zoom account when signed
    in, else ""), which stays the same across rejoins of a signed-in person.
    """

    zoom_user_id: str
    join_time: datetime
    leave_time: datetime | None
    display_name: str
    email: str | None = None
    registrant_id: str | None = None
    zoom_id: str | None = None
    duration_seconds: int | None = None
    student_id: str | None = None
    match_method: MatchMethod = MatchMethod.UNMATCHED

    @property
    def stay(self) -> Stay:
        return Stay(self.join_time, self.leave_time)


def person_key(segment: Segment) -> str:
    """The student id when matched; else a stable key from Zoom's account id or, for guests and
    dial-ins without one, the normalised display name (hashed: keys must not spell names)."""
    if segment.student_id:
        return segment.student_id
    basis = f"zoom:{segment.zoom_id}" if segment.zoom_id else f"name:{normalise_name(segment.display_name)}"
    return "guest-" + hashlib.sha256(basis.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Person:
    """One person in a meeting: their segments merged; time present is the union of segments."""

    key: str
    display_name: str
    email: str | None
    student_id: str | None
    match_method: MatchMethod
    segments: tuple[Segment, ...]
    first_join: datetime
    last_leave: datetime | None
    attended: timedelta
    in_meeting: bool


def people_of(segments: Iterable[Segment], now: datetime) -> list[Person]:
    """Groups segments by `person_key`, ordered by first join (then key, so output is stable)."""
    groups: dict[str, list[Segment]] = defaultdict(list)
    for segment in segments:
        groups[person_key(segment)].append(segment)
    people = []
    for key, group in groups.items():
        group.sort(key=lambda s: (s.join_time, s.zoom_user_id))
        latest = group[-1]
        open_segment = any(s.leave_time is None for s in group)
        leaves = [s.leave_time for s in group if s.leave_time is not None]
        people.append(
            Person(
                key=key,
                display_name=latest.display_name,
                email=next((s.email for s in reversed(group) if s.email), None),
                student_id=latest.student_id,
                match_method=min((s.match_method for s in group), key=_MATCH_STRENGTH.__getitem__),
                segments=tuple(group),
                first_join=group[0].join_time,
                last_leave=None if open_segment or not leaves else max(leaves),
                attended=attended_time((s.stay for s in group), now),
                in_meeting=open_segment,
            )
        )
    people.sort(key=lambda p: (p.first_join, p.key))
    return people


@dataclass(frozen=True, slots=True)
class ExpectedStudent:
    """An enrolled student of the meeting's class."""

    student_id: str
    display_name: str
    email: str


@dataclass(frozen=True, slots=True)
class Statistics:
    """Counts and durations over a meeting's people (see ParticipantStatistics in the proto)."""

    total_participants: int
    joined_count: int
    expected_count: int
    attendance_rate_percent: float
    total_duration: timedelta
    average_duration: timedelta


def statistics_of(people: Sequence[Person], expected: Iterable[ExpectedStudent]) -> Statistics:
    """Joined counts expected students with at least one segment; rates are 0 with nobody expected."""
    expected_ids = {student.student_id for student in expected}
    joined = len(expected_ids & {p.student_id for p in people if p.student_id})
    total = sum((p.attended for p in people), timedelta())
    return Statistics(
        total_participants=len(people),
        joined_count=joined,
        expected_count=len(expected_ids),
        attendance_rate_percent=joined * 100 / len(expected_ids) if expected_ids else 0.0,
        total_duration=total,
        average_duration=total / len(people) if people else timedelta(),
    )


# ---- dates ----------------------------------------------------------------------------------


def local_date(moment: datetime, timezone: str) -> date:
    """The calendar date of `moment` in `timezone`: 07:30 in Manila is 23:30 UTC the day before."""
    return moment.astimezone(ZoneInfo(timezone)).date()


def scheduled_start_of_instance(scheduled: datetime | None, instance_start: datetime, timezone: str) -> datetime:
    """When an occurrence was meant to start, for lateness.

    A one-off meeting's scheduled start is kept when the instance ran within a day of it; a
    recurring meeting's occurrence keeps the scheduled time of day on the instance's own date.
    A meeting without a schedule (instant, recurring without fixed time) starts when it started.
    """
    if scheduled is None:
        return instance_start
    if abs(instance_start - scheduled) < timedelta(hours=12):
        return scheduled
    zone = ZoneInfo(timezone)
    time_of_day: time = scheduled.astimezone(zone).timetz().replace(tzinfo=None)
    return datetime.combine(local_date(instance_start, timezone), time_of_day, tzinfo=zone)
