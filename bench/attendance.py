"""Attendance benchmarks, measured side by side on this machine.

1. GetMeetingParticipants for a meeting with 300 segments and 40 expected students, at concurrency
   32, against an empty unary RPC served by the same attendance process through the same
   interceptors (authentication, metrics, logs), from the same multi-process client: throughputs,
   ratio (goal >= 0.5), p50/p99. Then the same with no views held (every call rebuilds its answer)
   and, for reference, grpc.health Check (public: no token checked). All of it in `--rounds` rounds
   (3): a 5-second run swings by a tenth on this shared machine, so the figure is the median of the
   rounds' ratios, each measured side by side within its round. Last, the database round trips
   of one call (goal <= 2), counted on the wire by a proxy in front of PostgreSQL.
2. Sync of reports with 1k and 10k rows from the Zoom emulator: own time (the fetch from the
   emulator excluded), ratio 10k/1k (goal <= 11), and the writes of a second sync (goal 0).

    .venv/bin/python -m bench.attendance [--seconds 5] [--clients 2] [--concurrency 32] [--rounds 3] [--profile]
        [--only participants|sync]

Uses DATABASE_URL's server when set, else the embedded PostgreSQL; a fresh database either way.
`--serve` is the attendance process the benchmark starts: `python -m attendance_service` plus the
empty RPC.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import random
import statistics
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import httpx
import psycopg
from sqlalchemy.engine import make_url

from attendance_service.__main__ import build_services
from attendance_service.config import AttendanceSettings
from attendance_service.repository import Database
from attendance_service.service import MeetingReads
from attendance_service.sync import AttendanceSync, ZoomReportSource
from bench.participants_load import EMPTY_METHOD, SEGMENTS, STUDENTS, line, load
from bench.pg_wire import CountingProxy, Wire, through, upstream_of
from bench.profile import profiled, summary
from bench.results import RESULTS, Figure, record, rss_mib
from common.bootstrap import Closeable, Engines, run_grpc_process
from common.config import Settings
from common.db import create_engine, libpq_url
from common.db.engine import app_url
from common.db.statement_pipeline import StatementPipeline
from common.grpc import ServiceDefinition
from common.security.dev_tokens import mint_dev_token
from common.security.principal import Principal
from common.zoom import InMemoryRateBudget, ZoomClient, ZoomClientConfig
from tests.support.database import fresh_database
from tests.support.processes import free_port, start_python_module

KEY = "bench-signing-key-" + uuid.uuid4().hex
ACCOUNT, CLIENT_ID, SECRET = "BENCHACC", "BENCHCID", "BENCHSECRET"
START = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)


def _seed(database_url: str, *, students: int, segments: int, meeting_id: int) -> tuple[uuid.UUID, list[str]]:
    """A teacher, a class of `students`, a meeting with `segments` participant rows (rejoins,
    second devices, guests). Returns the teacher and the students' emails."""
    rng = random.Random(meeting_id)
    teacher, class_id = uuid.uuid4(), uuid.uuid4()
    ids = [uuid.uuid4() for _ in range(students)]
    emails = [f"b{i}.{meeting_id}@r1.deped.gov.ph" for i in range(students)]
    with psycopg.connect(libpq_url(database_url), autocommit=True) as owner:
        owner.execute(
            "INSERT INTO users (id, email, display_name, role, zoom_user_id) VALUES (%s, %s, 'T', 'teacher', %s)",
            (teacher, f"t.{meeting_id}@r1.deped.gov.ph", f"host-{meeting_id}"),
        )
        owner.execute(
            "INSERT INTO classes (id, name, section, school_year, teacher_id) VALUES (%s, %s, 'A', '2026', %s)",
            (class_id, f"C{meeting_id}", teacher),
        )
        with owner.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO users (id, email, display_name, role) VALUES (%s, %s, %s, 'student')",
                [(sid, emails[i], f"Student {i}") for i, sid in enumerate(ids)],
            )
            cursor.executemany(
                "INSERT INTO enrollments (class_id, student_id) VALUES (%s, %s)", [(class_id, sid) for sid in ids]
            )
        owner.execute(
            "INSERT INTO zoom_meetings (id, uuid, class_id, host_id, topic, meeting_type, start_time, "
            "duration_minutes, approval_type, status) VALUES (%s, %s, %s, %s, 'Bench', 2, %s, 60, 0, 'ended')",
            (meeting_id, f"inst-{meeting_id}", class_id, f"host-{meeting_id}", START),
        )
        rows = []
        for n in range(segments):
            joined = START + timedelta(seconds=rng.randrange(0, 3000))
            left = joined + timedelta(seconds=rng.randrange(60, 1800))
            who = n % (students + 10)
            student = ids[who] if who < students else None
            name = f"Student {who}" if student else f"Guest {who}"
            method = "email" if student else "unmatched"
            rows.append((meeting_id, f"inst-{meeting_id}", str(10**7 + n), name, joined, left, student, method))
        with owner.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO zoom_participants (meeting_id, meeting_uuid, zoom_user_id, name, join_time, leave_time, "
                "source, student_id, match_method) VALUES (%s, %s, %s, %s, %s, %s, 'report', %s, %s)",
                rows,
            )
    return teacher, emails


# ---- the attendance process under load ------------------------------------------------------


async def _empty(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    return b""


async def _build_with_empty(
    own: AttendanceSettings, settings: Settings, engines: Engines
) -> Sequence[ServiceDefinition | Closeable]:
    def register(server: grpc.aio.Server) -> None:
        handler: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_unary_rpc_method_handler(
            _empty, request_deserializer=None, response_serializer=None
        )
        service, method = EMPTY_METHOD.strip("/").split("/")
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, {method: handler}),))

    return (
        *await build_services(own, settings, engines),
        ServiceDefinition("rollcall.bench.v1.BenchService", register),
    )


def serve() -> None:
    """`python -m attendance_service`, plus an empty unary RPC that is not public: the interceptor
    authenticates, times, counts and logs it like any AttendanceService call."""
    own = AttendanceSettings.from_env(os.environ, Settings.from_env())
    run_grpc_process(
        "attendance",
        lambda settings: settings.attendance_port,
        lambda settings: settings.attendance_metrics_port,
        functools.partial(_build_with_empty, own),
    )


# ---- round trips, counted on the wire (bench/pg_wire.py) -----------------------------------


async def _round_trips(database_url: str, teacher: uuid.UUID, meeting_id: int) -> dict[str, Wire]:
    """One caller's first call (the roster sent and built, the audit row its own statement) and
    next call (the roster unchanged, audited in the read), on a connection just used, as under load."""
    url = app_url(database_url)
    proxy = CountingProxy(upstream_of(url))
    proxied = through(url, await proxy.start())
    engine = create_engine(proxied, application_name="bench")
    try:
        async with StatementPipeline(proxied, size=1, application_name="bench") as pipeline:
            reads = MeetingReads(Database(engine, pipeline))
            admin = Principal(uuid.uuid4(), "admin")
            for _ in range(2):  # opens the connection and prepares the read and the audit on it, as under load
                await reads.participants(admin, meeting_id)
            found: dict[str, Wire] = {}
            for name in ("first call", "next call"):
                proxy.wire = Wire()
                view = await reads.participants(Principal(teacher, "teacher"), meeting_id)
                found[name], proxy.wire = proxy.wire, Wire()  # closing the pool later counts elsewhere
                assert sum(len(p.segments) for p in view.people) == SEGMENTS
            return found
    finally:
        await engine.dispose()
        await proxy.stop()


def _start_server(database_url: str, env: dict[str, str]) -> tuple[Any, str]:
    port = free_port()
    server = start_python_module(
        "bench-attendance",
        "bench.attendance",
        {
            "DATABASE_URL": database_url,
            "ROLLCALL_DEV_JWT_KEY": KEY,
            "ROLLCALL_ATTENDANCE_PORT": str(port),
            "ROLLCALL_ATTENDANCE_METRICS_PORT": "0",
            "ROLLCALL_LOG_LEVEL": "WARNING",
            **env,
        },
        "--serve",
    )
    target = f"127.0.0.1:{port}"
    with grpc.insecure_channel(target) as channel:
        grpc.channel_ready_future(channel).result(timeout=30)
    return server, target


def bench_participants(database_url: str, args: argparse.Namespace) -> dict[str, Any]:
    meeting_id = 91_000_000_001
    teacher, _ = _seed(database_url, students=STUDENTS, segments=SEGMENTS, meeting_id=meeting_id)
    database = make_url(database_url).database  # PostgreSQL's CPU counted for this database only
    token = mint_dev_token(KEY, subject=teacher, role="teacher", issuer="rollcall-dev", audience="rollcall")
    print(
        f"participants: {SEGMENTS} segments, {STUDENTS} expected, concurrency {args.concurrency} "
        f"({args.clients} client processes), {args.seconds:g} s each"
    )
    rounds: list[dict[str, dict[str, float]]] = []
    memory_mib = 0.0
    for _ in range(args.rounds):
        runs: dict[str, dict[str, float]] = {}
        rounds.append(runs)
        server, target = _start_server(database_url, {})
        try:
            pid = server.process.pid
            runs["empty"] = load(target, token, meeting_id, "empty", pid, args, database)
            profile_path = RESULTS / "profile-attendance-participants.txt"
            with profiled(pid, profile_path) if args.profile else contextlib.nullcontext():
                runs["participants"] = load(target, token, meeting_id, "participants", pid, args, database)
            if args.profile:
                print(f"profile of the attendance process under GetMeetingParticipants ({profile_path}):")
                print("\n".join(summary(profile_path)))
            runs["health"] = load(target, token, meeting_id, "health", pid, args, database)
            memory_mib = rss_mib(pid)
        finally:
            server.stop()
        server, target = _start_server(database_url, {"ROLLCALL_ATTENDANCE_HELD_VIEWS": "0"})
        try:
            runs["rebuilt"] = load(target, token, meeting_id, "participants", server.process.pid, args, database)
        finally:
            server.stop()
        print(line("empty unary RPC (authenticated)", runs["empty"]))
        print(line("GetMeetingParticipants", runs["participants"]))
        ratio = runs["participants"]["calls_per_second"] / runs["empty"]["calls_per_second"]
        print(f"  ratio participants/empty {ratio:8.3f}  (goal >= 0.5)")
        print(line("GetMeetingParticipants, no views held", runs["rebuilt"]))
        rebuilt = runs["rebuilt"]["calls_per_second"] / runs["empty"]["calls_per_second"]
        print(f"  ratio no views held/empty {rebuilt:7.3f}")
        print(line("for reference: health Check (no token)", runs["health"]))
    wires = asyncio.run(_round_trips(database_url, teacher, meeting_id))
    for name, wire in wires.items():
        print(
            f"  database round trips, {name}: {wire.round_trips} ({wire.statements} statements, each with the "
            f"caller's identity; the audit row {'in the read' if wire.statements == 1 else 'on its own'}; no BEGIN "
            f"or COMMIT)  (goal <= 2)"
        )
    ratios = [r["participants"]["calls_per_second"] / r["empty"]["calls_per_second"] for r in rounds]
    if len(ratios) > 1:
        listed = ", ".join(f"{r:.3f}" for r in ratios)
        print(f"  ratio participants/empty, median of {len(ratios)} rounds: {statistics.median(ratios):.3f} ({listed})")
    return {
        "ratio": statistics.median(ratios),
        "ratios": ratios,
        "rounds": rounds,
        "round_trips": {name: wire.round_trips for name, wire in wires.items()},
        "memory_mib": memory_mib,
    }


def _report_rows(count: int, emails: list[str]) -> list[dict[str, str]]:
    rng = random.Random(count)
    rows = []
    for n in range(count):
        joined = START + timedelta(seconds=rng.randrange(0, 3000))
        who = n % (len(emails) + 25)
        email = emails[who] if who < len(emails) else ""
        rows.append(
            {
                "user_id": str(10**7 + n),
                "name": f"Student {who}" if email else f"Guest {who}",
                "user_email": email,
                "join_time": joined.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "leave_time": (joined + timedelta(seconds=rng.randrange(60, 1800))).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
    return rows


async def _sync_once(sync: AttendanceSync, source: ZoomReportSource, meeting_id: int, uuid_: str) -> tuple[float, int]:
    rows = await source.report(uuid_)  # the emulator's share: fetched before the clock starts
    started = time.perf_counter()
    outcome = await sync.apply(meeting_id, uuid_, rows, actor=None, instance_start=START)
    return time.perf_counter() - started, outcome.segments_written + outcome.records_written


async def _bench_sync(database_url: str, emulator_url: str) -> dict[str, Any]:
    engine = create_engine(app_url(database_url), application_name="bench")
    config = ZoomClientConfig(
        ACCOUNT, CLIENT_ID, SECRET, api_base_url=f"{emulator_url}/v2", oauth_url=emulator_url, plan="business"
    )
    async with (
        ZoomClient(config, InMemoryRateBudget()) as client,
        httpx.AsyncClient(base_url=emulator_url) as admin,
        StatementPipeline(app_url(database_url), size=1, application_name="bench") as reads,  # not used by syncs
    ):
        source = ZoomReportSource(client)
        sync = AttendanceSync(Database(engine, reads), source)
        own: dict[int, float] = {}
        second: dict[int, int] = {}
        for size in (1_000, 10_000):
            meeting_id = 92_000_000_000 + size
            _, emails = _seed(database_url, students=40, segments=0, meeting_id=meeting_id)
            meeting = {"host_id": "h", "type": 2, "start_time": START.isoformat(), "duration": 60}
            (await admin.put(f"/_emulator/meetings/{meeting_id}", json=meeting)).raise_for_status()
            report = {
                "uuid": f"inst-{meeting_id}",
                "start_time": START.isoformat(),
                "participants": _report_rows(size, emails),
            }
            (await admin.put(f"/_emulator/meetings/{meeting_id}/report", json=report)).raise_for_status()
            own[size], _ = await _sync_once(sync, source, meeting_id, f"inst-{meeting_id}")
            _, second[size] = await _sync_once(sync, source, meeting_id, f"inst-{meeting_id}")
            print(
                f"  {size:>6} rows: own time {own[size] * 1000:8.1f} ms; second sync's writes {second[size]} (goal 0)"
            )
        print(f"  ratio 10k/1k: {own[10_000] / own[1_000]:.2f}  (goal <= 11)")
    await engine.dispose()
    return {"own_seconds": own, "second_sync_writes": second, "ratio": own[10_000] / own[1_000]}


def bench_sync(database_url: str) -> dict[str, Any]:
    print("sync of Zoom's report (own time: matching, planning and writing; the emulator's fetch excluded)")
    emulator = start_python_module(
        "bench-emulator",
        "zoom_emulator",
        {},
        *("--host", "127.0.0.1", "--port", "0", "--plan", "business", "--no-rate-limits"),
        *("--account-id", ACCOUNT, "--client-id", CLIENT_ID, "--client-secret", SECRET),
        stdout_pipe=True,
    )
    try:
        assert emulator.process.stdout is not None
        url = emulator.process.stdout.readline().decode().rsplit(" ", 1)[-1].strip()
        return asyncio.run(_bench_sync(database_url, url))
    finally:
        emulator.stop()
        if emulator.process.stdout is not None:
            emulator.process.stdout.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--rounds", type=int, default=3, help="participants rounds; the median ratio is the figure (a noisy machine)"
    )
    parser.add_argument("--profile", action="store_true", help="sample the server with py-spy (slows it down)")
    parser.add_argument("--only", choices=("participants", "sync"), help="run one benchmark (records nothing)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    with fresh_database() as database_url:
        participants = bench_participants(database_url, args) if args.only != "sync" else None
        sync = bench_sync(database_url) if args.only != "participants" else None
    if participants and sync and not args.profile:  # a profiled or partial run's figures are not the benchmark's
        _record(participants, sync)


def _record(participants: dict[str, Any], sync: dict[str, Any]) -> None:
    last = participants["rounds"][-1]["participants"]
    rounds = ", ".join(f"{r:.2f}" for r in participants["ratios"])
    trips = max(participants["round_trips"].values())
    ratio, scaling = participants["ratio"], sync["ratio"]
    second = max(sync["second_sync_writes"].values())
    figures = [
        Figure(
            f"GetMeetingParticipants ({SEGMENTS} segments, {STUDENTS} expected) vs an empty RPC, concurrency 32",
            f"{ratio:.2f}, median of rounds {rounds} (last round's p50 {last['p50_ms']:.1f} ms, "
            f"p99 {last['p99_ms']:.1f} ms)",
            "≥ 0.5",
            ratio >= 0.5,
        ),
        Figure(
            "database round trips per participants call (a caller's first call, next calls)",
            f"{trips} ({participants['round_trips']['first call']}, {participants['round_trips']['next call']})",
            "≤ 2",
            trips <= 2,
        ),
        Figure(
            "load generator's CPU share (participants run)",
            f"{last['client_cpu_share']:.0%} of the cores (server {last['server_cpu_share']:.0%})",
        ),
        Figure("sync own time, 10k vs 1k report rows", f"{scaling:.2f}", "≤ 11", scaling <= 11),
        Figure("writes of a second sync of the same report", str(second), "0", second == 0),
    ]
    record("attendance", figures, {"attendance service": participants["memory_mib"]}, {**participants, "sync": sync})


if __name__ == "__main__":
    main()
