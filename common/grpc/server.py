"""The one way to run a grpc.aio server: health per service, reflection, interceptors, drain on signals."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from common.grpc.interceptors import Authenticator, CallInterceptor

__all__ = ["RunningServer", "ServiceDefinition", "serve_until_signal", "start_server"]

_log = logging.getLogger("rollcall.grpc")
_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass(frozen=True, slots=True)
class ServiceDefinition:
    """A service to serve: its full proto name and the generated `add_..._to_server` call."""

    name: str
    register: Callable[[grpc.aio.Server], None]


@dataclass(slots=True)
class RunningServer:
    """A started server with its bound port; `stop` turns health NOT_SERVING first, then drains."""

    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    service_names: tuple[str, ...]
    _stopped: bool = field(default=False)

    async def set_serving(self, serving: bool) -> None:
        status = _SERVING if serving else _NOT_SERVING
        for name in ("", *self.service_names):
            await self.health.set(name, status)

    async def stop(self, grace_seconds: float) -> None:
        if self._stopped:
            return
        self._stopped = True
        await self.set_serving(False)
        await self.server.stop(grace_seconds)


async def start_server(
    services: Sequence[ServiceDefinition],
    *,
    host: str,
    port: int,
    authenticator: Authenticator | None,
) -> RunningServer:
    """Binds `host:port` (0 picks a free port), registers health and reflection, and starts.

    `authenticator` None serves without authentication: only tests of the plumbing do that.
    """
    server = grpc.aio.server(
        interceptors=[CallInterceptor(authenticator)],
        options=[("grpc.max_receive_message_length", 4 * 1024 * 1024), ("grpc.so_reuseport", 0)],
    )
    for service in services:
        service.register(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = tuple(service.name for service in services)
    reflection.enable_server_reflection((*names, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"could not bind gRPC server to {host}:{port}")
    await server.start()
    running = RunningServer(server=server, port=bound, health=health_servicer, service_names=names)
    await running.set_serving(True)
    _log.info("server.listening", extra={"address": f"{host}:{bound}", "services": list(names)})
    return running


async def serve_until_signal(running: RunningServer, grace_seconds: float) -> None:
    """Runs until SIGTERM or SIGINT, then stops accepting calls and drains for `grace_seconds`."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server_done = asyncio.ensure_future(running.server.wait_for_termination())
    signalled = asyncio.ensure_future(stop.wait())
    await asyncio.wait({server_done, signalled}, return_when=asyncio.FIRST_COMPLETED)
    _log.info("server.stopping", extra={"grace_seconds": grace_seconds})
    await running.stop(grace_seconds)
    signalled.cancel()
    server_done.cancel()
