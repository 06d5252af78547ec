"""The registration service's own settings, read once in `__main__` beside common.config.Settings.

- ROLLCALL_REGISTRATION_WORKERS (4): concurrent job workers in this process; each sends one batch
  (or up to 30 single adds) at a time. Zoom's pacing is shared account-wide, so more workers or
  replicas never exceed Zoom's limits, they only keep the pipe full under latency.
- ROLLCALL_REGISTRATION_LEASE_SECONDS (60): how long a claimed item stays with its worker; a killed
  worker's items are claimed again after it. Zoom calls of a job give up at half of it.
- ROLLCALL_IDEMPOTENCY_RETENTION_HOURS (24): how long request_id keys are remembered.
- ROLLCALL_JOB_WATCH_REFRESH_SECONDS (5): a job watcher is woken by each change (NOTIFY) and
  reads the job again after this long without one, so its rate and time left stay current.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from common.config import number_within

__all__ = ["RegistrationSettings"]


@dataclass(frozen=True, slots=True)
class RegistrationSettings:
    workers: int
    lease: timedelta
    idempotency_retention: timedelta
    watch_refresh: timedelta
    owner: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RegistrationSettings:
        return cls(
            workers=int(number_within(env, "ROLLCALL_REGISTRATION_WORKERS", 4, 0, 64)),
            lease=timedelta(seconds=number_within(env, "ROLLCALL_REGISTRATION_LEASE_SECONDS", 60, 2, 3600)),
            idempotency_retention=timedelta(
                hours=number_within(env, "ROLLCALL_IDEMPOTENCY_RETENTION_HOURS", 24, 1, 720)
            ),
            watch_refresh=timedelta(seconds=number_within(env, "ROLLCALL_JOB_WATCH_REFRESH_SECONDS", 5, 0.5, 3600)),
            owner=f"{socket.gethostname()}:{os.getpid()}",
        )
