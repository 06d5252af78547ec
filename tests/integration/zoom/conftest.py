"""Real dependencies for the Zoom client's contract tests: a scratch PostgreSQL database at the
migrations' head and the Zoom emulator as a child process on a free port. No mocks here."""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from common.db import libpq_url, migrate, sqlalchemy_url
from common.zoom import InMemoryRateBudget, ZoomClient, ZoomClientConfig, ZoomRegistrantInput

PROJECT_ROOT = Path(__file__).resolve().parents[3]
LOGS = PROJECT_ROOT / "tests" / "artifacts" / "logs"
# The machine's PostgreSQL 15 (trust auth over TCP); DATABASE_URL picks another server.
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
ACCOUNT_ID, CLIENT_ID, CLIENT_SECRET = "ACC", "CID", "SECRET"
_LISTENING = re.compile(r"zoom-emulator listening on (http://\S+)")
FUTURE = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
PAST = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- PostgreSQL ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def zoom_budget_database_url() -> Iterator[str]:
    """A scratch database `rollcall_zoom_<random>` migrated to head (0002_zoom_rate_budget
    included); dropped at the end of the run."""
    server = os.environ.get("DATABASE_URL", DEFAULT_SERVER)
    name = f"rollcall_zoom_{uuid.uuid4().hex[:10]}"
    admin = libpq_url(make_url(server).set(database="postgres").render_as_string(hide_password=False))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        migrate(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
async def engine_factory(zoom_budget_database_url: str) -> AsyncIterator[Callable[[], AsyncEngine]]:
    """Makes separate engines (separate pools, as separate replicas would have); disposes them."""
    engines: list[AsyncEngine] = []

    def make() -> AsyncEngine:
        engine = create_async_engine(sqlalchemy_url(zoom_budget_database_url), pool_size=5)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        await engine.dispose()


# ---- the emulator ----------------------------------------------------------------------------


@dataclass
class Emulator:
    """A running `python -m zoom_emulator` and its admin API."""

    url: str
    process: subprocess.Popen[str]
    log_path: Path

    @property
    def api_base_url(self) -> str:
        return f"{self.url}/v2"

    def config(self, **overrides: Any) -> ZoomClientConfig:
        settings: dict[str, Any] = {
            "account_id": ACCOUNT_ID,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "api_base_url": self.api_base_url,
            "oauth_url": self.url,
            "plan": "pro",
            "reserved_share": 0.1,
            "request_timeout_seconds": 5.0,
            "deadline_seconds": 15.0,
        }
        settings.update(overrides)
        return ZoomClientConfig(**settings)

    async def admin(self, method: str, path: str, body: object = None) -> Any:
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as http:
            response = await http.request(method, path, json=body)
        response.raise_for_status()
        return response.json() if response.content else None

    async def reset(self, **config: Any) -> None:
        await self.admin("POST", "/_emulator/reset")
        if config:
            await self.admin("PUT", "/_emulator/config", config)

    async def state(self) -> dict[str, Any]:
        state: dict[str, Any] = await self.admin("GET", "/_emulator/state")
        return state


@contextmanager
def run_emulator(*args: str, within: float = 20.0) -> Iterator[Emulator]:
    """Starts the emulator on a free port (--port 0), waits for its "listening" line, and
    terminates it afterwards. stdout keeps being drained so the child never blocks on it."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log_path = LOGS / f"zoom-emulator-{os.getpid()}-{uuid.uuid4().hex[:6]}.log"
    command = [sys.executable, "-m", "zoom_emulator", "--host", "127.0.0.1", "--port", "0"]
    command += ["--account-id", ACCOUNT_ID, "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET, *args]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        assert process.stdout is not None
        url = _await_listening(process, process.stdout, within)
        threading.Thread(target=_drain, args=(process.stdout, log_path), daemon=True).start()
        yield Emulator(url, process, log_path)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _await_listening(process: subprocess.Popen[str], stdout: IO[str], within: float) -> str:
    deadline = time.monotonic() + within
    with selectors.DefaultSelector() as selector:
        selector.register(stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"zoom emulator exited with {process.returncode} before listening")
            if selector.select(timeout=max(0.0, deadline - time.monotonic())):
                line = stdout.readline()
                found = _LISTENING.search(line)
                if found:
                    return found.group(1)
    raise AssertionError(f"zoom emulator did not report listening within {within} s")


def _drain(stdout: IO[str], log_path: Path) -> None:
    with log_path.open("a") as log:
        for line in stdout:
            log.write(line)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """One emulator per test module (Pro plan); tests reset it before use."""
    with run_emulator("--plan", "pro", "--seed", "7") as running:
        yield running


@pytest.fixture
async def zoom(emulator: Emulator) -> Emulator:
    """The module's emulator, reset: tests make their own meetings and read its counters."""
    await emulator.reset()
    return emulator


@pytest.fixture
async def client(zoom: Emulator) -> AsyncIterator[ZoomClient]:
    async with ZoomClient(zoom.config(), InMemoryRateBudget()) as made:
        yield made


# ---- seeding and reading the emulator ---------------------------------------------------------


def new_meeting_id() -> int:
    return 80_000_000_000 + uuid.uuid4().int % 9_999_999_999


async def seed_meeting(emulator: Emulator, **fields: Any) -> int:
    """Upserts a meeting (scheduled, registration with automatic approval unless overridden)."""
    meeting_id = new_meeting_id()
    body = {
        "host_id": "KDcuGIm1QgePTO8WbOqwIQ",
        "topic": "Grade 7 Science",
        "type": 2,
        "start_time": FUTURE,
        "duration": 60,
        "timezone": "Asia/Manila",
        "approval_type": 0,
        **fields,
    }
    await emulator.admin("PUT", f"/_emulator/meetings/{meeting_id}", body)
    return meeting_id


async def load_report(emulator: Emulator, meeting_id: int, people: int) -> None:
    """An ended instance with one row per person (Zoom reports need two people or more)."""
    rows = [
        {"user_id": str(16_778_240 + i), "name": f"Student{i}", "join_time": PAST, "leave_time": PAST}
        for i in range(people)
    ]
    await emulator.admin("PUT", f"/_emulator/meetings/{meeting_id}/report", {"participants": rows})


def student(i: int | str) -> ZoomRegistrantInput:
    return ZoomRegistrantInput(email=f"student{i}@school.example", first_name=f"Student{i}", last_name="Reyes")


def total(value: Any) -> int:
    """Sums one of the emulator's counters, reported per category or kind."""
    if isinstance(value, dict):
        return sum(total(v) for v in value.values())
    return int(value or 0)


def calls(state: dict[str, Any], category: str) -> int:
    return int(state["calls"].get(category, 0))


async def drain(items: AsyncIterator[object]) -> None:
    async for _ in items:
        pass
