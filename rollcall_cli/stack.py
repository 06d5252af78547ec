"""`rollcall run`: the whole stack as child processes on embedded defaults, stopped together.

Children run in their own sessions so that Ctrl-C reaches only this supervisor, which then stops
them in order (gateway, services, emulator) and the embedded database last. Each child also gets
SIGTERM from the kernel if the supervisor dies, so nothing is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import os
import secrets
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from common.config import Settings
from common.db import create_engine, migrate
from common.db.embedded import EmbeddedPostgres, ensure_database, start_embedded_postgres
from common.security.dev_tokens import load_or_create_dev_key
from rollcall_cli.demo_loader import load_demo_school

__all__ = ["resolve_database", "run_stack", "wait_until"]

_PR_SET_PDEATHSIG = 1
_READY_TIMEOUT_SECONDS = 60.0


def _die_with_parent() -> None:
    """Runs in the child before exec: ask the kernel for SIGTERM when the supervisor dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


async def wait_until(check: Callable[[], Awaitable[bool]], *, within: float, what: str) -> None:
    """Polls `check` until it holds, or raises TimeoutError naming `what`."""
    deadline = time.monotonic() + within
    delay = 0.05
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not become ready within {within:.0f} s")
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def resolve_database(settings: Settings) -> tuple[str, EmbeddedPostgres | None]:
    """DATABASE_URL when set; otherwise the embedded server in the data directory, database `rollcall`."""
    if settings.database_url:
        return settings.database_url, None
    embedded = start_embedded_postgres(settings.data_dir / "pgdata")
    ensure_database(embedded.admin_url, "rollcall")
    return embedded.url_for("rollcall"), embedded


@dataclass(slots=True)
class _Child:
    name: str
    process: asyncio.subprocess.Process
    log_path: Path


class _Supervisor:
    def __init__(self, log_dir: Path, env: dict[str, str]) -> None:
        self.log_dir = log_dir
        self.env = env
        self.children: list[_Child] = []

    async def start(self, name: str, *args: str, secrets_env: dict[str, str] | None = None) -> _Child:
        """`secrets_env` reaches only this child, through its environment rather than its (world-readable) argv."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        log = log_path.open("ab")
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            env={**self.env, **(secrets_env or {})},
            stdout=log,
            stderr=log,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        log.close()
        child = _Child(name, process, log_path)
        self.children.append(child)
        return child

    async def stop_all(self, grace_seconds: float) -> None:
        for child in reversed(self.children):
            if child.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    child.process.terminate()
        for child in reversed(self.children):
            try:
                await asyncio.wait_for(child.process.wait(), grace_seconds)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    child.process.kill()
                await child.process.wait()

    def first_exit(self) -> list[asyncio.Future[object]]:
        return [asyncio.ensure_future(child.process.wait()) for child in self.children]


async def _grpc_serving(target: str) -> bool:
    async with grpc.aio.insecure_channel(target) as channel:
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1.0)
        except grpc.aio.AioRpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


async def _http_ok(url: str) -> bool:
    async with httpx.AsyncClient(timeout=1.0) as client:
        try:
            return (await client.get(url)).status_code == 200
        except httpx.HTTPError:
            return False


def _say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _tail(path: Path, lines: int = 15) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


async def _start_emulator(supervisor: _Supervisor, settings: Settings, env: dict[str, str]) -> str:
    """Starts the Zoom emulator with fresh credentials and points the services at it."""
    host, port = "127.0.0.1", settings.emulator_port
    credentials = {
        "ZOOM_ACCOUNT_ID": f"demo-{secrets.token_hex(4)}",
        "ZOOM_CLIENT_ID": secrets.token_urlsafe(12),
        "ZOOM_CLIENT_SECRET": secrets.token_urlsafe(24),
    }
    webhook_secret = settings.zoom.webhook_secret_token or secrets.token_urlsafe(24)
    child = await supervisor.start(
        "zoom-emulator",
        "-m",
        "zoom_emulator",
        "--host",
        host,
        "--port",
        str(port),
        "--account-id",
        credentials["ZOOM_ACCOUNT_ID"],
        "--plan",
        settings.zoom.plan,
        "--webhook-url",
        f"http://127.0.0.1:{settings.gateway_port}/api/zoom/webhooks",
        secrets_env={
            "ZOOM_EMULATOR_CLIENT_ID": credentials["ZOOM_CLIENT_ID"],
            "ZOOM_EMULATOR_CLIENT_SECRET": credentials["ZOOM_CLIENT_SECRET"],
            "ZOOM_EMULATOR_WEBHOOK_SECRET": webhook_secret,
        },
    )
    root = f"http://{host}:{port}"
    try:
        await wait_until(
            lambda: _http_ok(f"{root}/_emulator/health"), within=_READY_TIMEOUT_SECONDS, what="the Zoom emulator"
        )
    except TimeoutError:
        raise RuntimeError(f"the Zoom emulator did not start; its log:\n{_tail(child.log_path)}") from None
    env.update(credentials)
    env.update({"ZOOM_API_BASE_URL": f"{root}/v2", "ZOOM_OAUTH_URL": root, "ZOOM_WEBHOOK_SECRET_TOKEN": webhook_secret})
    return root


async def run_stack(settings: Settings) -> int:
    """Runs everything until Ctrl-C or SIGTERM (or a child dies); returns the exit status."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    database_url, embedded = resolve_database(settings)
    env = dict(os.environ, DATABASE_URL=database_url, PYTHONUNBUFFERED="1")
    supervisor = _Supervisor(settings.data_dir / "logs", env)
    try:
        migrate(database_url)
        emulator_url = None if settings.zoom.has_credentials else await _start_emulator(supervisor, settings, env)
        if settings.auth.mode == "development":
            env["ROLLCALL_DEV_JWT_KEY"] = load_or_create_dev_key(settings.data_dir)
        if emulator_url:
            engine = create_engine(database_url, pool_size=2)
            try:
                today = datetime.now(ZoneInfo("Asia/Manila")).date()
                loaded = await load_demo_school(engine, today, emulator_url)
            finally:
                await engine.dispose()
        services = (
            ("registration", "registration_service", f"127.0.0.1:{settings.registration_port}"),
            ("attendance", "attendance_service", f"127.0.0.1:{settings.attendance_port}"),
        )
        for name, module, _ in services:
            await supervisor.start(name, "-m", module)
        gateway_url = f"http://127.0.0.1:{settings.gateway_port}"
        await supervisor.start("gateway", "-m", "gateway")
        checks: list[tuple[str, Callable[[], Awaitable[bool]]]] = [
            (name, functools.partial(_grpc_serving, target)) for name, _, target in services
        ]
        checks.append(("gateway", functools.partial(_http_ok, f"{gateway_url}/healthz")))
        for name, check in checks:
            child = next(c for c in supervisor.children if c.name == name)
            try:
                await wait_until(check, within=_READY_TIMEOUT_SECONDS, what=name)
            except TimeoutError:
                raise RuntimeError(f"{name} did not start; its log:\n{_tail(child.log_path)}") from None
        _say(f"rollcall is running ({time.monotonic() - started:.1f} s to start). Ctrl-C stops everything.")
        if emulator_url:
            _say(f"  zoom emulator  {emulator_url}  (no Zoom credentials set)")
        for name, _, target in services:
            _say(
                f"  {name:<13}  {target}  (gRPC; try: buf curl --protocol grpc --http2-prior-knowledge "
                f"--list-services http://{target})"
            )
        _say(f"  gateway        {gateway_url}")
        database = f"embedded PostgreSQL in {settings.data_dir / 'pgdata'}" if embedded else "DATABASE_URL"
        _say(f"  database       {database}")
        if emulator_url:
            _say(f"  demo school    loaded ({loaded.users} users, {loaded.meetings} meetings added this time)")
        _say(f"  logs           {supervisor.log_dir}/")
        return await _wait_for_stop(supervisor)
    finally:
        await supervisor.stop_all(settings.shutdown_grace_seconds)
        if embedded is not None:
            embedded.stop()


async def _wait_for_stop(supervisor: _Supervisor) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    waiting: list[asyncio.Future[object]] = [asyncio.ensure_future(stop.wait()), *supervisor.first_exit()]
    stopped = waiting[0]
    done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    for future in waiting:
        future.cancel()
    if stopped in done:
        _say("stopping...")
        return 0
    dead = next(c for c in supervisor.children if c.process.returncode is not None)
    _say(f"{dead.name} exited with status {dead.process.returncode}; stopping the rest. Its log:")
    _say(_tail(dead.log_path))
    return 1
