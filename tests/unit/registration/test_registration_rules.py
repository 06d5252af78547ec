"""Registration's domain rules: names for Zoom, summaries, job progress, retry timing, and the
Zoom-error table that decides what an admin is told."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from common.zoom.errors import (
    ZoomCapacityReached,
    ZoomDailyLimitReached,
    ZoomNotFound,
    ZoomNotHost,
    ZoomRateLimited,
    ZoomRegistrationDisabled,
    ZoomUnavailable,
)
from registration_service.domain import (
    JobCounts,
    JobState,
    JobView,
    Outcome,
    PairResult,
    retry_delay,
    summarize,
    zoom_names,
)
from registration_service.registrar import result_of_error

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("display_name", "expected"),
    [
        ("Juan Dela Cruz", ("Juan Dela", "Cruz")),
        ("Maria", ("Maria", None)),
        ("  ", ("Student", None)),
        ("A" * 80 + " B", ("A" * 64, "B")),
    ],
)
def test_zoom_gets_a_first_name_within_its_limit_and_the_last_word_as_last_name(
    display_name: str, expected: tuple[str, str | None]
) -> None:
    assert zoom_names(display_name) == expected


def test_summary_counts_each_outcome() -> None:
    results = [PairResult(Outcome.REGISTERED), PairResult(Outcome.REGISTERED), PairResult(Outcome.FAILED)]

    summary = summarize(results)

    assert (summary.total, summary.registered, summary.failed, summary.not_eligible) == (3, 2, 1, 0)


def _job(state: JobState, pending: int, recent_done: int) -> JobView:
    return JobView(
        job_id=uuid.uuid4(),
        class_id=uuid.uuid4(),
        state=state,
        counts=JobCounts(pending=pending, registered=100),
        meeting_ids=(1,),
        created_at=NOW,
        started_at=NOW,
        finished_at=None,
        resume_at=None,
        recent_done=recent_done,
        rate_window=timedelta(seconds=10),
    )


def test_running_job_reports_rate_and_time_left_from_recent_work() -> None:
    job = _job(JobState.RUNNING, pending=600, recent_done=300)

    assert job.items_per_second == 30.0
    assert job.estimated_remaining == timedelta(seconds=20)
    assert job.counts.total == 700


def test_idle_job_has_no_estimate_and_a_finished_one_has_nothing_left() -> None:
    assert _job(JobState.QUEUED, pending=10, recent_done=0).estimated_remaining is None
    done = _job(JobState.COMPLETED, pending=0, recent_done=50)
    assert done.estimated_remaining == timedelta(0)
    assert done.items_per_second == 0.0


def test_retries_back_off_exponentially_unless_zoom_says_when() -> None:
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4, 10)] == [1.0, 2.0, 4.0, 8.0, 60.0]
    assert retry_delay(3, retry_after_seconds=0.4) == timedelta(seconds=0.4)


@pytest.mark.parametrize(
    ("error", "outcome", "retryable"),
    [
        (ZoomRegistrationDisabled("off", http_status=404, code=404), Outcome.NOT_ELIGIBLE, False),
        (ZoomNotFound("gone", http_status=404, code=3001), Outcome.NOT_ELIGIBLE, False),
        (ZoomCapacityReached("full", http_status=400, code=3043), Outcome.NOT_ELIGIBLE, False),
        (ZoomNotHost("host", http_status=400, code=3003), Outcome.FAILED, False),
        (ZoomRateLimited("slow down", http_status=429), Outcome.FAILED, True),
        (ZoomUnavailable("down", http_status=503), Outcome.FAILED, True),
        (
            ZoomDailyLimitReached("spent", resume_at=NOW, scope="registrant", http_status=429, code=429),
            Outcome.FAILED,
            True,
        ),
    ],
)
def test_each_zoom_error_becomes_one_outcome_with_a_reason(error: Exception, outcome: Outcome, retryable: bool) -> None:
    result = result_of_error(error)  # type: ignore[arg-type]

    assert result.outcome is outcome
    assert result.retryable is retryable
    assert result.reason
