"""`python -m zoom_emulator`: a Zoom look-alike on one port. Every flag can also be given as
ZOOM_EMULATOR_<FLAG> (e.g. ZOOM_EMULATOR_PORT). Prints one line once it listens."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Iterator

import uvicorn

from zoom_emulator.app import create_app
from zoom_emulator.config import Credentials, FaultShares, RuntimeConfig
from zoom_emulator.core import Emulator
from zoom_emulator.gate import quiet_dropped_connections


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zoom_emulator", description=__doc__)

    def flag(name: str, **kwargs: object) -> None:
        env = "ZOOM_EMULATOR_" + name.lstrip("-").replace("-", "_").upper()
        if env in os.environ:
            raw = os.environ[env]
            kwargs["default"] = raw.lower() in ("1", "true", "yes") if kwargs.get("action") == "store_true" else raw
            kwargs.pop("required", None)
        parser.add_argument(name, **kwargs)  # type: ignore[arg-type]

    flag("--host", default="127.0.0.1")
    flag("--port", type=int, default=9090)
    flag("--account-id", required=True)
    flag("--client-id", required=True)
    flag("--client-secret", required=True)
    flag("--plan", choices=("pro", "business"), default="pro")
    flag("--seed", type=int, default=0)
    flag("--token-ttl-seconds", type=int, default=3600)
    flag("--webhook-url")
    flag("--webhook-secret")
    flag("--latency-ms", type=float, default=0.0)
    flag("--jitter-ms", type=float, default=0.0)
    flag("--fault-rate", type=float, default=0.0, help="share of API calls that fail, split evenly over the four kinds")
    flag("--registrant-limit-scope", choices=("meeting", "email"), default="meeting")
    flag("--omit-rate-limit-headers", action="store_true")
    flag("--no-rate-limits", action="store_true")
    return parser


class _JsonLogs(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({"level": record.levelname.lower(), "service": "zoom-emulator", "event": record.getMessage()})


class _Server(uvicorn.Server):
    """Exits 0 on SIGTERM/SIGINT after a clean shutdown, and announces its port once bound."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {s: signal.signal(s, self.handle_exit) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not 0 <= args.fault_rate <= 1:
        sys.stderr.write("zoom_emulator: --fault-rate must be within 0 and 1\n")
        return 2
    share = args.fault_rate / 4
    config = RuntimeConfig(
        plan=args.plan,
        token_ttl_seconds=args.token_ttl_seconds,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        faults=FaultShares(share, share, share, share),
        seed=args.seed,
        registrant_limit_scope=args.registrant_limit_scope,
        omit_rate_limit_headers=args.omit_rate_limit_headers,
        rate_limits_enabled=not args.no_rate_limits,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
    )
    emulator = Emulator.create(Credentials(args.account_id, args.client_id, args.client_secret), config)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonLogs())
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    quiet_dropped_connections()
    # Bind first, so that --port 0 can report the port it got.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        sys.stderr.write(f"zoom_emulator: cannot listen on {args.host}:{args.port}: {exc}\n")
        return 1
    sock.listen(1024)
    port = sock.getsockname()[1]
    emulator.base_url = f"http://{args.host}:{port}"
    server = _Server(
        uvicorn.Config(
            create_app(emulator), log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=2
        )
    )
    sys.stdout.write(f"zoom-emulator listening on http://{args.host}:{port}\n")
    sys.stdout.flush()
    asyncio.run(server.serve(sockets=[sock]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
