"""Fixtures shared by every test folder: one fresh database per run, real service processes."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support.database import fresh_database
from tests.support.grpc_health import is_serving
from tests.support.polling import eventually_sync
from tests.support.processes import ChildProcess, free_port, start_python_module
from tests.support.tokens import TEST_JWT_KEY


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A migrated database for this run; tests make their own ids, so they share it."""
    with fresh_database() as url:
        yield url


@dataclass(frozen=True)
class ServiceStack:
    """Both gRPC services running as real processes on free ports."""

    registration_target: str
    attendance_target: str
    env: dict[str, str]
    processes: tuple[ChildProcess, ...]


def service_env(database_url: str, **extra: str) -> dict[str, str]:
    """Environment for a service process in tests; Zoom settings are added by tests that need them."""
    return {
        "DATABASE_URL": database_url,
        "ROLLCALL_LOG_LEVEL": "INFO",
        "ROLLCALL_DEV_JWT_KEY": TEST_JWT_KEY,
        "ROLLCALL_REGISTRATION_METRICS_PORT": str(free_port()),
        "ROLLCALL_ATTENDANCE_METRICS_PORT": str(free_port()),
        **extra,
    }


@pytest.fixture(scope="session")
def services(database_url: str) -> Iterator[ServiceStack]:
    registration_port, attendance_port = free_port(), free_port()
    env = service_env(
        database_url,
        # No Zoom here and the database is shared by every folder: this stack must not claim
        # other tests' job items.
        ROLLCALL_REGISTRATION_WORKERS="0",
        ROLLCALL_REGISTRATION_PORT=str(registration_port),
        ROLLCALL_ATTENDANCE_PORT=str(attendance_port),
    )
    processes = (
        start_python_module("registration", "registration_service", env),
        start_python_module("attendance", "attendance_service", env),
    )
    stack = ServiceStack(f"127.0.0.1:{registration_port}", f"127.0.0.1:{attendance_port}", env, processes)
    try:
        for target, process in zip((stack.registration_target, stack.attendance_target), processes, strict=True):
            eventually_sync(functools.partial(is_serving, target), within=30, what=f"{process.name} serving")
        yield stack
    finally:
        for process in processes:
            process.stop()
