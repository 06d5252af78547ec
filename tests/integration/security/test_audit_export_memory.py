"""An export of 250k audit events (a million under make soak) streams in bounded memory: the registration process's peak
resident memory grows by a small fraction of the CSV it sends."""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import psycopg
import pytest
from rollcall.audit.v1 import audit_service_pb2 as pb
from rollcall.audit.v1 import audit_service_pb2_grpc as rpc

from common.db import libpq_url
from tests.conftest import service_env
from tests.support.database import fresh_database
from tests.support.grpc_health import is_serving
from tests.support.polling import eventually_sync
from tests.support.processes import ChildProcess, free_port, start_python_module
from tests.support.tokens import bearer

# make test exports 250k events (~55 MiB of CSV), make soak 1M (~220 MiB); holding the CSV, or the
# rows behind it, would take more than the bound. Measured growth: ~2 MiB either way.
EVENTS = 1_000_000 if os.environ.get("ROLLCALL_SOAK") else 250_000
MAX_PEAK_GROWTH_BYTES = 32 * 1024 * 1024


def _peak_rss_bytes(process: ChildProcess) -> int:
    for line in Path(f"/proc/{process.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


@pytest.fixture(scope="module")
def big_log() -> Iterator[tuple[str, ChildProcess]]:
    """A database of its own holding EVENTS events, and a registration process serving it."""
    with fresh_database() as url:
        with psycopg.connect(libpq_url(url), autocommit=True) as owner:
            owner.execute(
                "INSERT INTO audit_events (id, occurred_at, actor_id, actor_role, action, target_type, target_id, "
                "outcome, request_id, detail) SELECT gen_random_uuid(), "
                "timestamptz '2026-06-01' + n * interval '1 second', gen_random_uuid(), 'teacher', "
                "'attendance.read_participants', 'meeting', (81000000000 + n)::text, 'success', md5(n::text), "
                "'=1+' || n FROM generate_series(1, %s) AS n",
                (EVENTS,),
            )
        port = free_port()
        process = start_python_module(
            "registration-audit-export", "registration_service", service_env(url, ROLLCALL_REGISTRATION_PORT=str(port))
        )
        target = f"127.0.0.1:{port}"
        try:
            eventually_sync(functools.partial(is_serving, target), within=30, what="registration serving")
            yield target, process
        finally:
            process.stop()


@pytest.mark.slow
def test_a_large_audit_export_streams_in_bounded_memory(big_log: tuple[str, ChildProcess]) -> None:
    target, process = big_log
    before = _peak_rss_bytes(process)
    rows = sent = 0
    first_cells: list[str] = []
    with grpc.insecure_channel(target) as channel:
        chunks = rpc.AuditServiceStub(channel).ExportAuditEventsCsv(
            pb.ExportAuditEventsCsvRequest(), metadata=bearer(uuid.uuid4(), "admin"), timeout=300
        )
        for chunk in chunks:
            sent += len(chunk.data)
            rows += chunk.data.count(b"\r\n")
            if not first_cells:
                first_cells = chunk.data.decode("utf-8-sig").split("\r\n")[1].split('","')
    growth = _peak_rss_bytes(process) - before
    assert rows == EVENTS + 1  # and the header
    assert first_cells[-1] == f"'=1+{EVENTS}\""  # newest first, the formula defused
    assert sent > EVENTS * 200  # bytes: every event was sent
    assert growth < MAX_PEAK_GROWTH_BYTES, f"peak RSS grew {growth / 2**20:.0f} MiB for {sent / 2**20:.0f} MiB of CSV"
