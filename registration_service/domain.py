"""Registration rules: who may be registered, and into which meetings. Standard library only."""

from __future__ import annotations

import enum
import re
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = [
    "MAX_ITEM_ATTEMPTS",
    "EmailDomainPolicy",
    "JobCounts",
    "JobState",
    "JobView",
    "MeetingRef",
    "Outcome",
    "PairResult",
    "Summary",
    "is_registrable",
    "retry_delay",
    "summarize",
    "upcoming_registrable",
    "zoom_names",
]

# Local part: the dot-atom of RFC 5322 without quoted strings or comments, which no school account
# uses and which hide a second "@" (e.g. "a@b"@allowed).
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_MAX_EMAIL_LENGTH = 128  # Zoom's limit for a registrant's email


def _ascii_domain(domain: str) -> str | None:
    """The domain in IDNA ASCII form, or None if it is not a valid host name."""
    try:
        ascii_form = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    labels = ascii_form.split(".")
    if len(labels) < 2 or any(not label or len(label) > 63 for label in labels):
        return None
    return ascii_form


@dataclass(frozen=True, slots=True)
class EmailDomainPolicy:
    """Only addresses whose domain is exactly one of `allowed_domains` (case-insensitive).

    Subdomains, look-alike suffixes (`x@r1.deped.gov.ph.evil.com`), a second `@`, and Unicode
    compatibility forms (full-width letters that IDNA would quietly fold to ASCII) are refused.
    """

    allowed_domains: tuple[str, ...]

    def __post_init__(self) -> None:
        normalised = tuple(sorted({d for d in (_ascii_domain(a.strip()) for a in self.allowed_domains) if d}))
        if not normalised:
            raise ValueError("at least one valid allowed domain is required")
        object.__setattr__(self, "allowed_domains", normalised)

    def allows(self, email: str) -> bool:
        if not email or len(email) > _MAX_EMAIL_LENGTH or email != email.strip():
            return False
        if email.count("@") != 1:
            return False
        local, domain = email.split("@")
        if not _LOCAL_PART.match(local) or not domain or domain.endswith("."):
            return False
        if not domain.isascii() and unicodedata.normalize("NFKC", domain) != domain:
            return False
        ascii_domain = _ascii_domain(domain)
        return ascii_domain is not None and ascii_domain in self.allowed_domains


@dataclass(frozen=True, slots=True)
class MeetingRef:
    """What registration needs to know of a meeting (Zoom's type and approval_type)."""

    meeting_id: int
    meeting_type: int
    approval_type: int
    start_time: datetime | None
    duration: timedelta
    ended: bool


def is_registrable(meeting: MeetingRef, now: datetime) -> bool:
    """Zoom accepts registrants only for scheduled (2) and fixed-time recurring (8) meetings with
    registration on (approval_type 0 or 1); a scheduled meeting must not have ended."""
    if meeting.meeting_type not in (2, 8) or meeting.approval_type not in (0, 1) or meeting.ended:
        return False
    if meeting.meeting_type == 2:
        return meeting.start_time is not None and meeting.start_time + meeting.duration > now
    return True


def upcoming_registrable(meetings: Iterable[MeetingRef], now: datetime) -> list[MeetingRef]:
    """The meetings a student should be registered into, soonest first."""
    chosen = [m for m in meetings if is_registrable(m, now)]
    return sorted(chosen, key=lambda m: (m.start_time or now, m.meeting_id))


# ---- outcomes ----------------------------------------------------------------------------------


class Outcome(enum.Enum):
    """What happened to one (meeting, student) pair; the values are the job item states."""

    REGISTERED = "registered"
    ALREADY_REGISTERED = "already_registered"
    NOT_ELIGIBLE = "not_eligible"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class PairResult:
    """The outcome for one pair, with what an admin needs to act on it."""

    outcome: Outcome
    registrant_id: str | None = None
    join_url: str | None = None
    reason: str = ""
    zoom_error_code: int | None = None
    retryable: bool = False


@dataclass(frozen=True, slots=True)
class Summary:
    total: int
    registered: int
    already_registered: int
    not_eligible: int
    failed: int


def summarize(results: Iterable[PairResult]) -> Summary:
    outcomes = [r.outcome for r in results]
    return Summary(
        total=len(outcomes),
        registered=outcomes.count(Outcome.REGISTERED),
        already_registered=outcomes.count(Outcome.ALREADY_REGISTERED),
        not_eligible=outcomes.count(Outcome.NOT_ELIGIBLE),
        failed=outcomes.count(Outcome.FAILED),
    )


def zoom_names(display_name: str) -> tuple[str, str | None]:
    """Zoom wants a first name (≤ 64 chars) and an optional last name: the last word is the last
    name ("Juan Dela Cruz" → "Juan Dela", "Cruz"), a single word is a first name only."""
    words = display_name.split()
    if not words:
        return "Student", None
    if len(words) == 1:
        return words[0][:64], None
    return " ".join(words[:-1])[:64], words[-1][:64]


# ---- jobs --------------------------------------------------------------------------------------


class JobState(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    WAITING_FOR_QUOTA = "waiting_for_quota"

    @property
    def final(self) -> bool:
        return self in (JobState.COMPLETED, JobState.CANCELLED)


@dataclass(frozen=True, slots=True)
class JobCounts:
    """Items of a job by state; `pending` includes items being sent."""

    pending: int = 0
    registered: int = 0
    already_registered: int = 0
    not_eligible: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        return (
            self.pending + self.registered + self.already_registered + self.not_eligible + self.failed + self.cancelled
        )


@dataclass(frozen=True, slots=True)
class JobView:
    """A job as callers see it; `recent_done` items finished within `rate_window` give the rate."""

    job_id: uuid.UUID
    class_id: uuid.UUID
    state: JobState
    counts: JobCounts
    meeting_ids: tuple[int, ...]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    resume_at: datetime | None
    recent_done: int
    rate_window: timedelta

    @property
    def items_per_second(self) -> float:
        if self.state.final or self.rate_window.total_seconds() <= 0:
            return 0.0
        return self.recent_done / self.rate_window.total_seconds()

    @property
    def estimated_remaining(self) -> timedelta | None:
        """Time left at the current rate; None while the rate is unknown (nothing done lately)."""
        if self.state.final:
            return timedelta(0)
        rate = self.items_per_second
        if rate <= 0:
            return None
        return timedelta(seconds=self.counts.pending / rate)


# ---- retries of job items ---------------------------------------------------------------------

MAX_ITEM_ATTEMPTS = 6


def retry_delay(attempts: int, retry_after_seconds: float | None = None) -> timedelta:
    """How long an item waits before its next attempt: Zoom's Retry-After when it gave one, else
    exponential from 1 s (1, 2, 4, 8, 16 s), capped at a minute."""
    if retry_after_seconds is not None and retry_after_seconds > 0:
        return timedelta(seconds=min(retry_after_seconds, 3600.0))
    return timedelta(seconds=min(2.0 ** max(attempts - 1, 0), 60.0))
