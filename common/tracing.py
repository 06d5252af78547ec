"""OpenTelemetry tracing of gRPC (server and client), Zoom calls (aiohttp) and SQLAlchemy, off unless configured.

With `OTEL_EXPORTER_OTLP_ENDPOINT` unset nothing is set up: no provider, no exporter thread, no
instrumentation, and the SDK is not even imported. Set, spans go by OTLP over HTTP/protobuf to
`<endpoint>/v1/traces` in batches; the exporter's other standard variables
(`OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_TRACES_SAMPLER`...) apply as usual.
Span attributes carry methods, statements and hosts: the SQL is the parameterised text, never
the bound values, so no personal data reaches the collector.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

__all__ = ["ENDPOINT_VARIABLE", "Tracing", "configure_tracing"]

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
_log = logging.getLogger("rollcall.tracing")


class Tracing:
    """Tracing of one process: instruments its database engine; `shutdown` flushes the last spans."""

    def __init__(self, provider: TracerProvider) -> None:
        self._provider = provider

    def instrument_engines(self, engines: Sequence[AsyncEngine]) -> None:
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        # 0.66b1 declares SQLAlchemy < 2.1 as its range; the engine events it hooks are unchanged in
        # 2.1 (tests/integration/test_tracing.py checks the spans), so the check is skipped. One
        # call for all engines: the instrumentor is a singleton that ignores a second `instrument`.
        SQLAlchemyInstrumentor().instrument(
            engines=[engine.sync_engine for engine in engines], tracer_provider=self._provider, skip_dep_check=True
        )

    def shutdown(self) -> None:
        self._provider.shutdown()


def configure_tracing(service: str, env: Mapping[str, str] | None = None) -> Tracing | None:
    """Installs the tracer provider and the gRPC and aiohttp (Zoom client) instrumentation when an OTLP endpoint
    is configured; None (and nothing done) otherwise. Call once, before servers or clients are made."""
    env = os.environ if env is None else env
    endpoint = env.get(ENDPOINT_VARIABLE, "").strip()
    if not endpoint:
        return None
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.grpc import GrpcAioInstrumentorClient, GrpcAioInstrumentorServer
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: f"rollcall-{service}"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")))
    trace.set_tracer_provider(provider)
    # The gRPC instrumentors' constructors carry no annotations.
    GrpcAioInstrumentorServer().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
    GrpcAioInstrumentorClient().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
    AioHttpClientInstrumentor().instrument(tracer_provider=provider)
    _log.info("tracing.enabled", extra={"url": endpoint})
    return Tracing(provider)
