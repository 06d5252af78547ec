"""Start-up shared by the gRPC service processes: settings, logs, tracing, database, server, drain.

Each service's `__main__` only says which services it serves and how to build them. `build` may
also hand back objects with `async def aclose()` (background workers): after SIGTERM the server
turns NOT_SERVING, drains in-flight calls, and then each is closed, in order, before the engines.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncEngine

from common.config import ConfigError, Settings
from common.db import create_engine
from common.db.engine import create_system_engine
from common.db.migrate import SchemaNotCurrent, check_schema
from common.db.session import PrivilegedDatabaseRole, assert_unprivileged_role
from common.grpc import ServiceDefinition, serve_until_signal, start_server
from common.grpc.auth import BearerAuthenticator
from common.logs import configure_logging
from common.metrics import (
    DatabaseGauges,
    GaugeRefresher,
    job_item_gauges,
    serve_metrics,
    sync_queue_gauges,
    watch_pool,
    zoom_budget_gauges,
)
from common.security.tokens import TokenVerifier, verifier_from_settings
from common.tracing import Tracing, configure_tracing
from common.zoom._ratelimit import heavy_daily_limit

__all__ = ["Closeable", "Engines", "OnShutdown", "run_grpc_process"]

_log = logging.getLogger("rollcall.bootstrap")


@runtime_checkable
class Closeable(Protocol):
    """Background work a service runs beside its server, stopped after the server has drained."""

    async def aclose(self) -> None: ...


class OnShutdown:
    """Adapts a coroutine function (a worker's `stop`) to `Closeable`."""

    def __init__(self, hook: Callable[[], Awaitable[None]]) -> None:
        self._hook = hook

    async def aclose(self) -> None:
        await self._hook()


@dataclass(frozen=True, slots=True)
class Engines:
    """The process's database engines: `callers` for work done for a caller (each transaction
    states who), `system` for the service's own work (common.db.engine.create_system_engine).
    Each pool opens connections only as they are used."""

    callers: AsyncEngine
    system: AsyncEngine


Build = Callable[[Settings, Engines], Awaitable[Sequence[ServiceDefinition | Closeable]]]


def run_grpc_process(
    process: str, port_of: Callable[[Settings], int], metrics_port_of: Callable[[Settings], int], build: Build
) -> None:
    """Runs one service process until SIGTERM/SIGINT; bad configuration exits 2 with one line."""
    try:
        settings = Settings.from_env()
        database_url = settings.require_app_database_url()
        verifier = verifier_from_settings(settings)
    except ConfigError as exc:
        sys.stderr.write(f"{process}: configuration error: {exc}\n")
        raise SystemExit(2) from None
    configure_logging(process, settings.log_level)
    try:
        serve_metrics(settings.bind_host, metrics_port_of(settings))
    except OSError as exc:
        sys.stderr.write(f"{process}: cannot serve metrics: {exc}\n")
        raise SystemExit(1) from None
    tracing = configure_tracing(process)
    try:
        asyncio.run(_serve(process, settings, database_url, port_of(settings), build, verifier, tracing))
    except (SchemaNotCurrent, PrivilegedDatabaseRole) as exc:
        sys.stderr.write(f"{process}: {exc}\n")
        raise SystemExit(2) from None
    except OSError as exc:
        sys.stderr.write(f"{process}: cannot start: {exc}\n")
        raise SystemExit(1) from None
    finally:
        if tracing is not None:
            tracing.shutdown()


def _gauges(process: str, settings: Settings) -> list[GaugeRefresher]:
    """What each process shows of shared state: its own queue, and the Zoom budget it spends."""
    refreshers: list[GaugeRefresher] = []
    if process == "registration":
        refreshers.append(job_item_gauges)
    elif process == "attendance":
        refreshers.append(sync_queue_gauges)
    zoom = settings.zoom
    if zoom.has_credentials and zoom.account_id:
        limits = {"account-heavy": heavy_daily_limit(zoom.plan, zoom.reserved_share)}
        refreshers.append(zoom_budget_gauges(zoom.account_id, limits))
    return refreshers


async def _serve(
    process: str,
    settings: Settings,
    database_url: str,
    port: int,
    build: Build,
    verifier: TokenVerifier,
    tracing: Tracing | None,
) -> None:
    engine = create_engine(database_url, pool_size=settings.db_pool_size, application_name=process)
    system = create_system_engine(database_url, pool_size=settings.db_pool_size, application_name=f"{process}-system")
    watch_pool(engine, "callers")
    watch_pool(system, "system")
    if tracing is not None:
        tracing.instrument_engines([engine, system])
    closeables: list[Closeable] = []
    try:
        await assert_unprivileged_role(engine)
        await check_schema(engine)
        gauges = DatabaseGauges(engine, _gauges(process, settings))
        gauges.start()
        closeables.append(gauges)
        built = await build(settings, Engines(engine, system))
        closeables.extend(item for item in built if isinstance(item, Closeable))
        services = [item for item in built if isinstance(item, ServiceDefinition)]
        running = await start_server(
            services, host=settings.bind_host, port=port, authenticator=BearerAuthenticator(verifier)
        )
        await serve_until_signal(running, settings.shutdown_grace_seconds)
    finally:
        for closeable in reversed(closeables):
            try:
                await closeable.aclose()
            except Exception:  # noqa: BLE001 -- one failing hook must not skip the others or the engine
                _log.exception("shutdown.hook_failed", extra={"hook": type(closeable).__name__})
        await system.dispose()
        await engine.dispose()
