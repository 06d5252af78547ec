"""The registration service as real processes against the Zoom emulator and a fresh database."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import psycopg
import pytest
from rollcall.registration.v1 import registration_service_pb2_grpc as rpc

from common.db import libpq_url
from tests.conftest import service_env
from tests.support.database import fresh_database
from tests.support.emulator import EmulatorProcess, running_emulator
from tests.support.grpc_health import is_serving
from tests.support.polling import eventually_sync
from tests.support.processes import ChildProcess, free_port, start_python_module

# Short leases and deadlines keep crash recovery and outages within a test's patience.
LEASE_SECONDS = "3"
ZOOM_DEADLINE_SECONDS = "4"


@dataclass
class Replica:
    target: str
    process: ChildProcess
    metrics_port: int
    channel: grpc.Channel

    @property
    def stub(self) -> rpc.RegistrationServiceStub:
        return rpc.RegistrationServiceStub(self.channel)

    def items_done(self) -> float:
        """Job items this replica finished, from its Prometheus endpoint."""
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("rollcall_registration_items_total{")
        )

    def stop(self) -> None:
        self.channel.close()
        self.process.stop()


def start_replica(database_url: str, emulator: EmulatorProcess, **extra: str) -> Replica:
    port, metrics_port = free_port(), free_port()
    env = service_env(
        database_url,
        ROLLCALL_REGISTRATION_PORT=str(port),
        ROLLCALL_REGISTRATION_METRICS_PORT=str(metrics_port),
        ROLLCALL_REGISTRATION_LEASE_SECONDS=LEASE_SECONDS,
        ZOOM_DEADLINE_SECONDS=ZOOM_DEADLINE_SECONDS,
        ZOOM_PLAN="pro",
        **emulator.zoom_env(),
        **extra,
    )
    process = start_python_module("registration", "registration_service", env)
    target = f"127.0.0.1:{port}"
    try:
        eventually_sync(functools.partial(is_serving, target), within=30, what="registration serving")
    except AssertionError:
        process.stop()
        raise AssertionError(f"registration did not start:\n{process.log()}") from None
    return Replica(target, process, metrics_port, grpc.insecure_channel(target))


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A database of the registration tests' own: job workers of other folders' service processes
    (pointed at other emulators) would otherwise claim this folder's job items."""
    with fresh_database() as url:
        yield url


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorProcess]:
    with running_emulator("--plan", "pro", "--seed", "5") as process:
        yield process


@pytest.fixture(scope="session")
def replica(database_url: str, emulator: EmulatorProcess) -> Iterator[Replica]:
    running = start_replica(database_url, emulator)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(autouse=True)
def no_faults(emulator: EmulatorProcess) -> Iterator[None]:
    """Every test starts and ends with a healthy emulator."""
    emulator.admin().put("/_emulator/config", json={"faults": _no_faults(), "latency_ms": 0}).raise_for_status()
    yield
    emulator.admin().put("/_emulator/config", json={"faults": _no_faults(), "latency_ms": 0}).raise_for_status()


def _no_faults() -> dict[str, float]:
    return {"server_error": 0, "rate_limit": 0, "reset": 0, "lost_response": 0}


def set_faults(emulator: EmulatorProcess, share: float, **config: object) -> None:
    """`share` of Zoom calls fail, split evenly over 5xx, 429, connection resets and lost answers."""
    each = share / 4
    faults = {"server_error": each, "rate_limit": each, "reset": each, "lost_response": each}
    emulator.admin().put("/_emulator/config", json={"faults": faults, **config}).raise_for_status()


def zoom_registrants(emulator: EmulatorProcess, meeting_id: int) -> list[dict[str, Any]]:
    response = emulator.admin().get(f"/_emulator/meetings/{meeting_id}")
    response.raise_for_status()
    registrants: list[dict[str, Any]] = response.json()["registrants"]
    return registrants


def stored_registrants(database_url: str, meeting_id: int) -> dict[str, str]:
    """student id -> Zoom registrant id, as stored (approved or pending)."""
    with psycopg.connect(libpq_url(database_url)) as owner:
        rows = owner.execute(
            "SELECT student_id, zoom_registrant_id FROM meeting_registrants "
            "WHERE meeting_id = %s AND status IN ('approved', 'pending')",
            (meeting_id,),
        ).fetchall()
    return {str(student): str(registrant) for student, registrant in rows}
