"""Tracing is off unless OTEL_EXPORTER_OTLP_ENDPOINT is set; set, a call through the gateway
produces one trace across processes (gateway gRPC client, service gRPC server, its SQL), exported
by OTLP/HTTP to a receiver this test runs, and the service's log lines carry its trace id."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.conftest import service_env
from tests.support.database import PROJECT_ROOT
from tests.support.grpc_health import is_serving
from tests.support.polling import eventually_sync
from tests.support.processes import ChildProcess, free_port, start_python_module
from tests.support.tokens import token_for


class OtlpReceiver:
    """A tiny OTLP/HTTP collector: keeps every span POSTed to /v1/traces as (service, name, trace id hex, kind)."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str, str, int]] = []
        self.paths: list[str] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                request = ExportTraceServiceRequest.FromString(body)
                with receiver._lock:
                    receiver.paths.append(self.path)
                    for resource_spans in request.resource_spans:
                        service = next(
                            (
                                a.value.string_value
                                for a in resource_spans.resource.attributes
                                if a.key == "service.name"
                            ),
                            "",
                        )
                        for scope_spans in resource_spans.scope_spans:
                            for span in scope_spans.spans:
                                receiver.spans.append((service, span.name, span.trace_id.hex(), span.kind))
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def seen(self) -> list[tuple[str, str, str, int]]:
        with self._lock:
            return list(self.spans)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    running = OtlpReceiver()
    try:
        yield running
    finally:
        running.close()


def _gateway(env: dict[str, str]) -> tuple[ChildProcess, str]:
    port = free_port()
    process = start_python_module("gateway-traced", "gateway", {**env, "ROLLCALL_GATEWAY_PORT": str(port)})
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    eventually_sync(answers, within=30, what="gateway answering")
    return process, url


def test_a_call_through_the_gateway_is_one_trace_across_processes(database_url: str, receiver: OtlpReceiver) -> None:
    registration_port, attendance_port = free_port(), free_port()
    env = service_env(
        database_url,
        ROLLCALL_REGISTRATION_PORT=str(registration_port),
        ROLLCALL_ATTENDANCE_PORT=str(attendance_port),
        ROLLCALL_REGISTRATION_TARGET=f"127.0.0.1:{registration_port}",
        ROLLCALL_ATTENDANCE_TARGET=f"127.0.0.1:{attendance_port}",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
        OTEL_BSP_SCHEDULE_DELAY="100",  # milliseconds: export at once rather than every 5 s
    )
    service = start_python_module("registration-traced", "registration_service", env)
    gateway: ChildProcess | None = None
    try:
        target = f"127.0.0.1:{registration_port}"
        eventually_sync(functools.partial(is_serving, target), within=30, what="registration serving")
        gateway, url = _gateway(env)
        token = token_for(uuid.uuid4(), "admin")
        response = httpx.get(f"{url}/v1/classes", headers={"authorization": f"Bearer {token}"}, timeout=10)
        assert response.status_code == 200, response.text
        method = "/rollcall.registration.v1.RegistrationService/ListClasses"

        def traced() -> bool:
            spans = receiver.seen()
            server = [s for s in spans if s[0] == "rollcall-registration" and s[1] == method]
            client = [s for s in spans if s[0] == "rollcall-gateway" and s[1] == method]
            return bool(server and client and any(s[0] == "rollcall-registration" and s[3] == 3 for s in spans))

        eventually_sync(traced, within=15, what="the spans exported")
    finally:
        if gateway is not None:
            gateway.stop()
        service.stop()

    spans = receiver.seen()
    (server,) = [s for s in spans if s[0] == "rollcall-registration" and s[1] == method]
    (client,) = [s for s in spans if s[0] == "rollcall-gateway" and s[1] == method]
    sql = [s for s in spans if s[0] == "rollcall-registration" and s[3] == 3 and s[2] == server[2]]  # 3: CLIENT
    assert client[2] == server[2], "the gateway's trace context did not reach the service"
    assert sql, "no SQL span inside the RPC's trace"
    assert set(receiver.paths) == {"/v1/traces"}
    logged = [json.loads(line) for line in service.log().splitlines() if line.startswith("{")]
    done = [e for e in logged if e.get("event") == "rpc.done" and e.get("method") == method]
    assert [e.get("trace_id") for e in done] == [server[2]]


def test_without_an_endpoint_nothing_is_set_up_and_no_exporter_thread_starts() -> None:
    probe = (
        "import sys, threading\n"
        "from common.tracing import configure_tracing\n"
        "from opentelemetry import trace\n"
        "print(configure_tracing('probe', {}) is None, 'opentelemetry.sdk.trace' in sys.modules,\n"
        "      type(trace.get_tracer_provider()).__name__, sorted(t.name for t in threading.enumerate()))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.split(maxsplit=3)[:3] == ["True", "False", "ProxyTracerProvider"]
    assert result.stdout.strip().endswith("['MainThread']")
