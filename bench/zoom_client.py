"""Throughput of the Zoom client against the emulator: N concurrent add_registrant calls.

Goal (issue acceptance): throughput / Light limit >= 0.9 with zero 429s from the emulator.

    .venv/bin/python -m bench.zoom_client [--plan pro] [--requests 1000] [--reserved-share 0]
        [--emulator-url http://127.0.0.1:PORT] [--database-url postgresql://...]

Without --emulator-url it starts `python -m zoom_emulator` on a free port and stops it after.
With --database-url the pacing goes through `PostgresRateBudget` (tables from `rollcall migrate`).
With neither (as `python -m bench` runs it) it measures both budgets, the PostgreSQL one on a fresh
database (DATABASE_URL's server when set, else the embedded PostgreSQL), and records the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import create_async_engine

from bench.results import Figure, record, rss_mib
from common.db import sqlalchemy_url
from common.zoom import (
    InMemoryRateBudget,
    PostgresRateBudget,
    RateBudget,
    ZoomClient,
    ZoomClientConfig,
    ZoomError,
    ZoomRegistrantInput,
)
from tests.support.database import fresh_database

MEETING_ID = 81234567890
ACCOUNT, CLIENT_ID, SECRET = "BENCHACC", "BENCHCID", "BENCHSECRET"
# Zoom's Light limit, requests per second (/work/shared/zoom-api.md): the yardstick, stated here on purpose.
LIGHT_LIMITS = {"pro": 30.0, "business": 80.0}


@contextmanager
def _emulator(plan: str) -> Iterator[tuple[str, int]]:
    command = [sys.executable, "-m", "zoom_emulator", "--host", "127.0.0.1", "--port", "0", "--plan", plan]
    command += ["--account-id", ACCOUNT, "--client-id", CLIENT_ID, "--client-secret", SECRET]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        found = re.search(r"listening on (http://\S+)", process.stdout.readline())
        if found is None:
            raise SystemExit("the emulator did not report its address")
        yield found.group(1), process.pid
    finally:
        process.terminate()
        process.wait(10)


async def _run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as admin:
        (await admin.post("/_emulator/reset")).raise_for_status()
        meeting = {"host_id": "benchhost", "topic": "Bench", "type": 2, "start_time": "2099-01-01T00:00:00Z"}
        meeting |= {"duration": 60, "timezone": "UTC", "approval_type": 0}
        (await admin.put(f"/_emulator/meetings/{MEETING_ID}", json=meeting)).raise_for_status()

    engine = create_async_engine(sqlalchemy_url(args.database_url)) if args.database_url else None
    budget: RateBudget = PostgresRateBudget(engine) if engine is not None else InMemoryRateBudget()
    config = ZoomClientConfig(
        account_id=ACCOUNT,
        client_id=CLIENT_ID,
        client_secret=SECRET,
        api_base_url=f"{url}/v2",
        oauth_url=url,
        plan=args.plan,
        reserved_share=args.reserved_share,
        deadline_seconds=args.requests,  # the last of N queued calls waits N / rate seconds
    )
    errors: dict[str, int] = {}
    async with ZoomClient(config, budget) as client:

        async def add(i: int) -> None:
            person = ZoomRegistrantInput(email=f"bench{i}@school.example", first_name=f"Student{i}")
            try:
                await client.add_registrant(MEETING_ID, person)
            except ZoomError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

        await client.get_meeting(MEETING_ID)  # token fetched and connection warm before timing
        started = time.perf_counter()
        await asyncio.gather(*(add(i) for i in range(args.requests)))
        elapsed = time.perf_counter() - started
    if engine is not None:
        await engine.dispose()

    async with httpx.AsyncClient(base_url=url, timeout=10) as admin:
        state = (await admin.get("/_emulator/state")).json()
    light_limit = LIGHT_LIMITS[args.plan]
    throughput = (args.requests - 1) / elapsed if elapsed else 0.0
    return {
        "requests": args.requests,
        "elapsed_seconds": round(elapsed, 2),
        "throughput_per_second": round(throughput, 2),
        "light_limit": light_limit,
        "ratio_to_light_limit": round(throughput / light_limit, 3),
        "emulator_rate_limited": state.get("rate_limited"),
        "client_errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plan", choices=("pro", "business"), default="pro")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--reserved-share", type=float, default=0.0)
    parser.add_argument("--emulator-url")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    if args.emulator_url:
        result = asyncio.run(_run(args, args.emulator_url))
    elif args.database_url:
        with _emulator(args.plan) as (url, _):
            result = asyncio.run(_run(args, url))
    else:
        _both_budgets(args)
        return
    for key, value in result.items():
        print(f"{key}: {value}")


def _both_budgets(args: argparse.Namespace) -> None:
    results: dict[str, dict[str, Any]] = {}
    with fresh_database() as database_url, _emulator(args.plan) as (url, pid):
        for budget, database in (("in-process budget", None), ("PostgreSQL-shared budget", database_url)):
            results[budget] = asyncio.run(_run(argparse.Namespace(**{**vars(args), "database_url": database}), url))
            print(f"{budget}: " + ", ".join(f"{key} {value}" for key, value in results[budget].items()))
        memory = {"zoom emulator": rss_mib(pid)}
    figures = []
    for budget, result in results.items():
        refused = sum(result["emulator_rate_limited"].values())  # 429s by kind: per-second and daily
        ratio = result["ratio_to_light_limit"]
        name = f"{args.requests:,} concurrent add-registrant calls vs Zoom's Light limit ({args.plan}), {budget}"
        figures.append(Figure(name, f"{ratio:.3f}", "≥ 0.9", ratio >= 0.9))
        figures.append(Figure(f"answered 429, {budget}", str(refused), "0", refused == 0))
    record("zoom client", figures, memory, results)


if __name__ == "__main__":
    main()
