"""The load of bench.attendance's participants benchmark: client processes calling one attendance
process, and the CPU it, PostgreSQL and the clients spend per call."""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import statistics
import time
from pathlib import Path
from typing import Any

import grpc
import psutil
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rollcall.attendance.v1 import attendance_service_pb2 as pb
from rollcall.attendance.v1 import attendance_service_pb2_grpc as rpc

__all__ = ["EMPTY_METHOD", "SEGMENTS", "STUDENTS", "line", "load"]

EMPTY_METHOD = "/rollcall.bench.v1.BenchService/Empty"
PARTICIPANTS_METHOD = "/rollcall.attendance.v1.AttendanceService/GetMeetingParticipants"
SEGMENTS, STUDENTS = 300, 40


def _client(target: str, token: str, meeting_id: int, kind: str, seconds: float, tasks: int, out: Any) -> None:
    """One client process: `tasks` concurrent callers for `seconds`; sends back the latencies.

    The empty RPC and GetMeetingParticipants are both called as bytes (no protobuf parsing in the
    client, as wrk does not parse JSON): the load generator's share of the cores stays the same on
    both sides. The participants answer is parsed and checked once, then each answer compared
    with it byte for byte."""

    async def run() -> list[float]:
        latencies: list[float] = []
        metadata = (("authorization", f"Bearer {token}"),)
        async with grpc.aio.insecure_channel(target) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            attendance = rpc.AttendanceServiceStub(channel)
            empty: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
                EMPTY_METHOD, request_serializer=None, response_deserializer=None
            )
            participants: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
                PARTICIPANTS_METHOD, request_serializer=None, response_deserializer=None
            )
            request = pb.GetMeetingParticipantsRequest(meeting_id=meeting_id)
            expected = b""
            if kind == "participants":  # the answer is the full one
                reply = await attendance.GetMeetingParticipants(request, metadata=metadata, timeout=10)
                assert sum(len(p.segments) for p in reply.participants) == SEGMENTS
                assert len(reply.expected_attendees) == STUDENTS
                expected = reply.SerializeToString(deterministic=True)
            raw_request = request.SerializeToString()

            async def one() -> None:
                if kind == "health":
                    await health.Check(health_pb2.HealthCheckRequest(), timeout=10)
                elif kind == "empty":
                    await empty(b"", metadata=metadata, timeout=10)
                elif await participants(raw_request, metadata=metadata, timeout=10) != expected:
                    raise AssertionError("GetMeetingParticipants answered something else than its first answer")

            for _ in range(3):
                await one()  # warm the channel
            deadline = time.perf_counter() + seconds

            async def caller() -> None:
                while time.perf_counter() < deadline:
                    started = time.perf_counter()
                    await one()
                    latencies.append(time.perf_counter() - started)

            await asyncio.gather(*(caller() for _ in range(tasks)))
        return latencies

    out.put(asyncio.run(run()))


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_cpu_seconds(database: str | None) -> dict[int, float]:
    """User + system CPU so far of each PostgreSQL process working for `database`: the backends
    connected to it and the background processes of its server (WAL writer, checkpointer...),
    not other databases' backends (the machine's server may be busy with other work meanwhile).
    With `database` None or no backend of it found, every PostgreSQL process on the machine."""
    processes = [
        p for p in psutil.process_iter(["name", "ppid", "cmdline", "cpu_times"]) if p.info["name"] == "postgres"
    ]
    titles = {p.pid: " ".join(p.info["cmdline"] or ()).split() for p in processes}
    servers = {p.info["ppid"] for p in processes if database in titles[p.pid]}
    if servers:
        processes = [
            p
            for p in processes
            if p.pid in servers
            or (p.info["ppid"] in servers and (database in titles[p.pid] or not _client_backend(titles[p.pid])))
        ]
    return {
        p.pid: p.info["cpu_times"].user + p.info["cpu_times"].system
        for p in processes
        if p.info["cpu_times"] is not None
    }


def _client_backend(title: list[str]) -> bool:
    """A backend's title names its client: `[local]` or `host(port)`; background processes' do not."""
    return any(word == "[local]" or word.endswith(")") for word in title)


def load(
    target: str,
    token: str,
    meeting_id: int,
    kind: str,
    server_pid: int,
    args: argparse.Namespace,
    database: str | None = None,
) -> dict[str, float]:
    """`kind` calls ("empty", "participants", "health") at args.concurrency for args.seconds; the
    CPU the server process and PostgreSQL (`database`'s part of it, see _postgres_cpu_seconds)
    spent per call."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    per_client = max(1, args.concurrency // args.clients)
    workers = [
        context.Process(target=_client, args=(target, token, meeting_id, kind, args.seconds, per_client, queue))
        for _ in range(args.clients)
    ]
    cpu_before, database_before = _cpu_seconds(server_pid), _postgres_cpu_seconds(database)
    clients_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    latencies = [latency for _ in workers for latency in queue.get()]
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    server_cpu = _cpu_seconds(server_pid) - cpu_before  # includes the clients' warm-up calls
    database_after = _postgres_cpu_seconds(database)  # a process gone meanwhile takes its share with it
    database_cpu = sum(cpu - database_before.get(pid, 0.0) for pid, cpu in database_after.items())
    clients_after = resource.getrusage(resource.RUSAGE_CHILDREN)  # joined client processes only
    client_cpu = (clients_after.ru_utime - clients_before.ru_utime) + (clients_after.ru_stime - clients_before.ru_stime)
    capacity = elapsed * (os.cpu_count() or 1)
    latencies.sort()
    return {
        "calls_per_second": len(latencies) / args.seconds,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "server_cpu_ms": server_cpu * 1000 / len(latencies),
        "server_cpu_share": server_cpu / capacity,
        "database_cpu_ms": database_cpu * 1000 / len(latencies),
        "client_cpu_share": client_cpu / capacity,  # start-up and warm-up of the client processes included
    }


def line(name: str, result: dict[str, float]) -> str:
    return (
        f"  {name:<44} {result['calls_per_second']:8.1f} calls/s  p50 {result['p50_ms']:6.1f} ms  "
        f"p99 {result['p99_ms']:6.1f} ms  CPU ms/call: server {result['server_cpu_ms']:4.2f}, PostgreSQL "
        f"{result['database_cpu_ms']:4.2f}; CPU share of "
        f"{os.cpu_count()} cores: server {result['server_cpu_share']:.0%}, client {result['client_cpu_share']:.0%}"
    )
