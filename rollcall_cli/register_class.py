"""`rollcall register-class CLASS`: starts a class registration job and draws its progress live
from WatchRegistrationJob until it ends. Ctrl-C stops watching; the job goes on in the service."""

from __future__ import annotations

import sys
import uuid
from typing import TextIO

import grpc
from rollcall.registration.v1 import registration_service_pb2 as pb
from rollcall.registration.v1 import registration_service_pb2_grpc as rpc

__all__ = ["progress_line", "register_class"]

_BAR_WIDTH = 30
_STATE_NAMES = {
    pb.JOB_STATE_QUEUED: "queued",
    pb.JOB_STATE_RUNNING: "running",
    pb.JOB_STATE_COMPLETED: "completed",
    pb.JOB_STATE_CANCELLED: "cancelled",
    pb.JOB_STATE_WAITING_FOR_QUOTA: "waiting for Zoom's daily quota",
}


class RegisterClassError(Exception):
    """Printed as one line by the CLI."""


def progress_line(job: pb.RegistrationJob) -> str:
    """One line: bar, share done, counts by outcome, rate and time left."""
    p = job.progress
    done = p.total_count - p.pending_count
    share = done / p.total_count if p.total_count else 1.0
    filled = round(share * _BAR_WIDTH)
    parts = [
        f"[{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] {share:4.0%} {done}/{p.total_count}",
        f"registered {p.registered_count}",
        f"already {p.already_registered_count}",
        f"not eligible {p.not_eligible_count}",
        f"failed {p.failed_count}",
    ]
    if p.cancelled_count:
        parts.append(f"cancelled {p.cancelled_count}")
    if job.items_per_second:
        parts.append(f"{job.items_per_second:.1f}/s")
    if job.HasField("estimated_remaining_duration") and job.state == pb.JOB_STATE_RUNNING:
        parts.append(f"{job.estimated_remaining_duration.seconds} s left")
    parts.append(_STATE_NAMES.get(job.state, "unknown"))
    return " · ".join(parts)


def _class_id(stub: rpc.RegistrationServiceStub, metadata: tuple[tuple[str, str], ...], name_or_id: str) -> str:
    try:
        return str(uuid.UUID(name_or_id))
    except ValueError:
        pass
    token = ""
    while True:
        page = stub.ListClasses(pb.ListClassesRequest(page_size=500, page_token=token), metadata=metadata, timeout=30)
        found = [c.class_id for c in page.classes if name_or_id.casefold() in (c.name.casefold(), c.section.casefold())]
        if found:
            if len(found) > 1:
                raise RegisterClassError(f"{len(found)} classes are called {name_or_id!r}: give the class id")
            return found[0]
        token = page.next_page_token
        if not token:
            raise RegisterClassError(f"no class called {name_or_id!r} that you may see")


def register_class(
    target: str, token: str, name_or_id: str, meeting_ids: list[int], request_id: str, out: TextIO = sys.stderr
) -> int:
    """Runs the job to its end (or until Ctrl-C); 0 when every item was settled without failure."""
    metadata = (("authorization", f"Bearer {token}"),)
    with grpc.insecure_channel(target) as channel:
        stub = rpc.RegistrationServiceStub(channel)
        try:
            class_id = _class_id(stub, metadata, name_or_id)
            job = stub.StartClassRegistration(
                pb.StartClassRegistrationRequest(request_id=request_id, class_id=class_id, meeting_ids=meeting_ids),
                metadata=metadata,
                timeout=60,
            ).job
            out.write(f"job {job.job_id} for {len(job.meeting_ids)} meetings\n")
            for update in stub.WatchRegistrationJob(
                pb.WatchRegistrationJobRequest(job_id=job.job_id), metadata=metadata
            ):
                job = update.job
                out.write("\r" + progress_line(job) + "\033[K")
                out.flush()
        except KeyboardInterrupt:
            out.write(f"\nstopped watching; job {job.job_id} goes on (GetRegistrationJob or the web page show it)\n")
            return 130
        except grpc.RpcError as error:
            raise RegisterClassError(f"{error.code().name}: {error.details()}") from None
    out.write("\n")
    return 0 if job.state == pb.JOB_STATE_COMPLETED and job.progress.failed_count == 0 else 1
