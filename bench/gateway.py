"""Gateway benchmark: GetMeetingParticipants as JSON through the gateway vs direct gRPC, side by side.

The same meeting (300 segments, 40 expected students) on the same attendance service process, at
the same concurrency: first direct (a multi-process grpc.aio client, as bench.attendance), then
through the gateway (wrk, Debian's HTTP load generator; PITFALLS: httpx is no load generator).
Prints both throughputs, the ratio (goal >= 0.6; the median of a few rounds, the order alternating)
and each process's share of the machine's CPU, the load generator's included, since on a small
machine it competes with the servers; "rest of the machine" is PostgreSQL and anything else running.

    .venv/bin/python -m bench.gateway [--seconds 5] [--clients 2] [--concurrency 32] [--rounds 3]

Uses DATABASE_URL's server when set, else the embedded PostgreSQL; a fresh database either way.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TypeVar

import grpc
import httpx
import psutil

from bench.attendance import _seed as seed_meeting
from bench.participants_load import load as grpc_load  # the multi-process grpc.aio client
from bench.profile import profiled, summary
from bench.results import RESULTS, Figure, record, rss_mib
from common.security.dev_tokens import mint_dev_token
from tests.support.database import fresh_database
from tests.support.processes import ChildProcess, free_port, start_python_module

KEY = "bench-signing-key-" + uuid.uuid4().hex
MEETING_ID = 91_000_000_002
WRK = "/usr/bin/wrk"
CLIENTS = {"direct": "grpc client", "gateway": "wrk"}
T = TypeVar("T")


@dataclass(frozen=True)
class Run:
    calls_per_second: float
    p50_ms: float
    p99_ms: float
    cpu_shares: dict[str, float]  # process name -> share of all cores over the run


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    children = sum(child.cpu_times().user + child.cpu_times().system for child in process.children(recursive=True))
    return float(times.user + times.system + children)


def _measured(
    servers: dict[str, ChildProcess], client_name: str, load: Callable[[], tuple[float, float, float]]
) -> Run:
    """Runs `load` (-> calls/s, p50 ms, p99 ms) and the CPU each server and the client used meanwhile."""
    watched = {name: psutil.Process(child.process.pid) for name, child in servers.items()}
    before = {name: _cpu_seconds(process) for name, process in watched.items()}
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    machine_before = psutil.cpu_times()
    started = time.perf_counter()
    calls_per_second, p50, p99 = load()
    elapsed = time.perf_counter() - started
    machine_after = psutil.cpu_times()
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    capacity = elapsed * (os.cpu_count() or 1)
    shares = {name: (_cpu_seconds(process) - before[name]) / capacity for name, process in watched.items()}
    client_cpu = (children_after.ru_utime - children_before.ru_utime) + (
        children_after.ru_stime - children_before.ru_stime
    )
    shares[client_name] = client_cpu / capacity
    idle = (machine_after.idle - machine_before.idle) + (machine_after.iowait - machine_before.iowait)
    busy = 1 - idle / capacity
    # PostgreSQL serves this load too, but the server may be shared: it is counted here, not apart.
    shares["rest of the machine"] = max(0.0, busy - sum(shares.values()))
    return Run(calls_per_second, p50, p99, shares)


def _wrk(url: str, token: str, args: argparse.Namespace) -> tuple[float, float, float]:
    command = [
        WRK,
        f"--threads={args.clients}",
        f"--connections={args.concurrency}",
        f"--duration={max(1, round(args.seconds))}s",
        "--timeout=10s",
        "--latency",
        "--header",
        f"authorization: Bearer {token}",
        url,
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    if "Non-2xx or 3xx responses" in output or "Socket errors" in output:
        raise RuntimeError(f"wrk saw failed requests:\n{output}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    return rate, _wrk_latency(output, "50%"), _wrk_latency(output, "99%")


def _wrk_latency(output: str, percentile: str) -> float:
    found = re.search(rf"^\s+{re.escape(percentile)}\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    if found is None:
        return float("nan")
    value, unit = float(found.group(1)), found.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _wait(check: Callable[[], bool], what: str, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within {within} s")
        time.sleep(0.1)


def _print(name: str, run: Run) -> None:
    print(f"  {name:<30} {run.calls_per_second:8.1f} calls/s  p50 {run.p50_ms:6.1f} ms  p99 {run.p99_ms:6.1f} ms")
    shares = "  ".join(f"{process} {share:5.1%}" for process, share in run.cpu_shares.items())
    print(f"  {'':<30} CPU share of {os.cpu_count()} cores: {shares}")


def bench(database_url: str, args: argparse.Namespace) -> None:
    teacher, _ = seed_meeting(database_url, students=40, segments=300, meeting_id=MEETING_ID)
    attendance_port, gateway_port = free_port(), free_port()
    env = {
        "DATABASE_URL": database_url,
        "ROLLCALL_DEV_JWT_KEY": KEY,
        "ROLLCALL_ATTENDANCE_PORT": str(attendance_port),
        "ROLLCALL_ATTENDANCE_METRICS_PORT": "0",
        "ROLLCALL_GATEWAY_PORT": str(gateway_port),
        "ROLLCALL_ATTENDANCE_TARGET": f"127.0.0.1:{attendance_port}",
        "ROLLCALL_REGISTRATION_TARGET": f"127.0.0.1:{free_port()}",  # not called here
        "ROLLCALL_LOG_LEVEL": "WARNING",
    }
    servers = {
        "attendance": start_python_module("bench-attendance", "attendance_service", env),
        "gateway": start_python_module("bench-gateway", "gateway", env),
    }
    target = f"127.0.0.1:{attendance_port}"
    url = f"http://127.0.0.1:{gateway_port}/api/zoom/meetings/{MEETING_ID}/participants"
    try:
        with grpc.insecure_channel(target) as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
        _wait(lambda: _ready(f"http://127.0.0.1:{gateway_port}/healthz"), "the gateway")
        token = mint_dev_token(KEY, subject=teacher, role="teacher", issuer="rollcall-dev", audience="rollcall")
        warm = httpx.get(url, headers={"authorization": f"Bearer {token}"}, timeout=10)
        warm.raise_for_status()
        size = len(warm.content)

        def direct() -> tuple[float, float, float]:
            pid = servers["attendance"].process.pid
            result = grpc_load(target, token, MEETING_ID, "participants", pid, args)
            return result["calls_per_second"], result["p50_ms"], result["p99_ms"]

        def gateway() -> tuple[float, float, float]:
            if not args.profile:
                return _wrk(url, token, args)
            profile_path = RESULTS / "profile-gateway.txt"
            with profiled(servers["gateway"].process.pid, profile_path):
                measured = _wrk(url, token, args)
            print(f"profile of the gateway under wrk ({profile_path}):")
            print("\n".join(summary(profile_path)))
            return measured

        print(
            f"participants (300 segments, 40 expected; JSON {size / 1024:.0f} KiB), concurrency {args.concurrency}, "
            f"{args.rounds} rounds of {args.seconds:g} s each way, the order alternating"
        )
        ratios: list[float] = []
        rounds: list[dict[str, Run]] = []
        for round_number in range(args.rounds):
            # Alternating the order evens out drift; other load on a shared machine shows as "rest".
            order = [("direct", direct), ("gateway", gateway)]
            if round_number % 2:
                order.reverse()
            runs = {name: _measured(servers, CLIENTS[name], load) for name, load in order}
            rounds.append(runs)
            ratios.append(runs["gateway"].calls_per_second / runs["direct"].calls_per_second)
            print(f"round {round_number + 1}: ratio {ratios[-1]:.3f}")
            _print("direct gRPC (grpc.aio client)", runs["direct"])
            _print("through the gateway (wrk)", runs["gateway"])
        memory = {name: rss_mib(child.process.pid) for name, child in servers.items()}
        # For reference: every answer converted anew, as for a meeting whose roster changes each call.
        servers["gateway"].stop()
        servers["gateway"] = start_python_module(
            "bench-gateway-uncached", "gateway", {**env, "ROLLCALL_GATEWAY_JSON_CACHE_MIB": "0"}
        )
        _wait(lambda: _ready(f"http://127.0.0.1:{gateway_port}/healthz"), "the gateway without its JSON cache")
        uncached = _measured(servers, CLIENTS["gateway"], lambda: _wrk(url, token, args))
        direct_rate = statistics.median(r["direct"].calls_per_second for r in rounds)
        uncached_ratio = uncached.calls_per_second / direct_rate
        print(f"without the gateway's JSON cache: ratio {uncached_ratio:.3f} (against the median direct rate)")
        _print("through the gateway, no JSON cache", uncached)
    finally:
        for child in servers.values():
            child.stop()
    ratio = statistics.median(ratios)
    print(f"  ratio gateway/direct, median of {len(ratios)} rounds: {ratio:.3f}  (goal >= 0.6)")
    shares = rounds[-1]["gateway"].cpu_shares
    figures = [
        Figure(
            f"GetMeetingParticipants through the gateway (JSON) vs direct gRPC, median of {len(ratios)} rounds",
            f"{ratio:.2f} (rounds: {', '.join(f'{r:.2f}' for r in ratios)})",
            "≥ 0.6",
            ratio >= 0.6,
        ),
        Figure(
            "same, every answer converted to JSON anew (ROLLCALL_GATEWAY_JSON_CACHE_MIB=0)",
            f"{uncached_ratio:.2f}",
        ),
        Figure(
            "load generator's CPU share (wrk, gateway run)",
            ", ".join(f"{name} {share:.0%}" for name, share in shares.items()) + " of the cores",
        ),
    ]
    raw = {
        "ratios": ratios,
        "uncached_ratio": uncached_ratio,
        "rounds": [{name: asdict(run) for name, run in r.items()} for r in rounds],
    }
    if not args.profile:  # a profiled run's figures are not the benchmark's
        record("gateway", figures, {f"{name} (gateway run)": mib for name, mib in memory.items()}, raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=2, help="client processes (gRPC) or wrk threads")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="sample the gateway with py-spy (slows it down)")
    args = parser.parse_args()
    if shutil.which(WRK) is None:
        raise SystemExit(f"{WRK} is missing: `make setup` installs Debian's wrk")
    with fresh_database() as database_url:
        bench(database_url, args)


if __name__ == "__main__":
    main()
