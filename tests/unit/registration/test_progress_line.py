"""The CLI's live progress line for `rollcall register-class`."""

from __future__ import annotations

from google.protobuf import duration_pb2
from rollcall.registration.v1 import registration_service_pb2 as pb

from rollcall_cli.register_class import progress_line


def test_progress_line_shows_the_bar_counts_rate_and_time_left() -> None:
    job = pb.RegistrationJob(
        state=pb.JOB_STATE_RUNNING,
        progress=pb.JobProgress(total_count=200, pending_count=100, registered_count=90, not_eligible_count=10),
        items_per_second=29.5,
        estimated_remaining_duration=duration_pb2.Duration(seconds=3),
    )

    line = progress_line(job)

    assert line.startswith("[" + "#" * 15 + "." * 15 + "]  50% 100/200")
    assert "registered 90" in line
    assert "not eligible 10" in line
    assert "29.5/s" in line
    assert "3 s left" in line
    assert line.endswith("running")


def test_a_finished_job_shows_a_full_bar_and_no_estimate() -> None:
    job = pb.RegistrationJob(
        state=pb.JOB_STATE_COMPLETED,
        progress=pb.JobProgress(total_count=4, registered_count=3, cancelled_count=1),
        estimated_remaining_duration=duration_pb2.Duration(seconds=0),
    )

    line = progress_line(job)

    assert "100% 4/4" in line
    assert "cancelled 1" in line
    assert "left" not in line
