"""The CPU floor of single adds: a bare aiohttp loop sending add-registrant requests, BURST at a time.

    .venv/bin/python -m bench.http_floor API_BASE TOKEN MEETING_ID COUNT PER_SECOND [BURST]

No pacing budget, retries, database or job: only the HTTP exchange, at the rate the job ran and in
its bursts (the Zoom client's `burst_size`), with the library the service uses. Prints this
process's CPU ms per request. bench.registration runs it beside the job so the job's CPU per single
add is read against what one request sent so costs on the same machine (on a virtual machine, an
event loop that wakes 30 times a second pays for every wake-up: one wake-up per burst costs less).
"""

from __future__ import annotations

import asyncio
import resource
import secrets
import sys

import aiohttp


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _run(api_base: str, token: str, meeting_id: int, count: int, per_second: float, burst: int) -> float:
    tag = secrets.token_hex(3)
    url = f"{api_base}/meetings/{meeting_id}/registrants"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:

        async def add(i: int) -> None:
            async with session.post(url, json={"email": f"floor-{tag}-{i}@x.example", "first_name": "S"}) as answer:
                await answer.read()
                if answer.status != 201:
                    raise RuntimeError(f"emulator answered {answer.status}")

        await add(-1)  # connection and first-use costs stay out of the figure
        loop = asyncio.get_running_loop()
        start, before = loop.time(), _cpu_seconds()
        sent: list[asyncio.Task[None]] = []
        for first in range(0, count, burst):
            await asyncio.sleep(max(start + first / per_second - loop.time(), 0.0))
            sent.extend(asyncio.create_task(add(i)) for i in range(first, min(first + burst, count)))
        await asyncio.gather(*sent)
        return (_cpu_seconds() - before) * 1000 / count


def main() -> None:
    api_base, token, meeting_id, count, per_second = sys.argv[1:6]
    burst = int(sys.argv[6]) if len(sys.argv) > 6 else 1
    print(f"{asyncio.run(_run(api_base, token, int(meeting_id), int(count), float(per_second), burst)):.3f}")


if __name__ == "__main__":
    main()
