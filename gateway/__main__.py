"""`python -m gateway`: the HTTP gateway on uvicorn (default port 8080)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Iterator

import uvicorn

from common.config import ConfigError, Settings
from common.logs import configure_logging
from common.tracing import configure_tracing
from gateway.app import create_app
from gateway.config import GatewaySettings


class _Server(uvicorn.Server):
    """Stops gracefully on SIGTERM/SIGINT and exits 0, like the gRPC services, instead of
    re-raising the signal after shutdown as uvicorn does by default."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {signum: signal.signal(signum, self.handle_exit) for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def main() -> None:
    try:
        settings = Settings.from_env()
        gateway = GatewaySettings.from_env(os.environ, settings)
        configure_logging("gateway", settings.log_level)
        configure_tracing("gateway")
        app = create_app(settings, gateway)
    except ConfigError as exc:
        sys.stderr.write(f"gateway: configuration error: {exc}\n")
        raise SystemExit(2) from None
    config = uvicorn.Config(
        app,
        host=settings.bind_host,
        port=settings.gateway_port,
        log_config=None,
        access_log=False,
        # The client IP comes only from ROLLCALL_GATEWAY_TRUSTED_PROXY_HEADER: uvicorn must not
        # believe X-Forwarded-For from local peers on its own.
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        lifespan="on",
    )
    asyncio.run(_Server(config).serve())


if __name__ == "__main__":
    main()
