"""The gateway's ASGI application: the transcoded API, Zoom's webhooks, OpenAPI and docs, health,
metrics, and the web page at `/` after everything else.

`/api/...` and `/v1/...` never fall through to the web page: an unknown API path is a JSON 404.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import metadata
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from common.config import Settings
from common.grpc import create_channel
from gateway.caller import ServiceToken
from gateway.config import GatewaySettings
from gateway.dev_sign_in import dev_sign_in_routes
from gateway.docs import DOCS_CSS, DOCS_JS, docs_page
from gateway.observability import RequestContextMiddleware
from gateway.openapi import openapi_document
from gateway.proto_comments import proto_comments
from gateway.proxy import ApiProxy
from gateway.routes import build_route_table
from gateway.security_headers import security_middleware
from gateway.webhooks import ZoomWebhooks

__all__ = ["WEB_DIRECTORY", "create_app"]

_READINESS_TIMEOUT_SECONDS = 1.0
WEB_DIRECTORY = Path(__file__).resolve().parent / "web"


async def _serving(channel: grpc.aio.Channel) -> bool:
    stub = health_pb2_grpc.HealthStub(channel)
    try:
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=_READINESS_TIMEOUT_SECONDS)
    except grpc.aio.AioRpcError:
        return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def _version() -> str:
    try:
        return metadata.version("rollcall")
    except metadata.PackageNotFoundError:
        return "0"


def _labelled(route: str, response: Response, request: Request) -> Response:
    request.state.route = route
    return response


def create_app(settings: Settings, gateway: GatewaySettings | None = None) -> Starlette:
    """Builds the app from the protos' annotations; channels open at start-up and close at shutdown."""
    gateway = gateway or GatewaySettings()
    table = build_route_table()
    token = ServiceToken(settings, gateway)
    proxy = ApiProxy(table, gateway, token)
    webhooks = ZoomWebhooks(settings.zoom.webhook_secret_token, token, gateway.max_body_bytes)
    document = openapi_document(table, version=_version(), comments=proto_comments())
    openapi_json = json.dumps(document, separators=(",", ":")).encode()
    docs_html = docs_page(document)
    backends: dict[str, grpc.aio.Channel] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        backends["registration"] = create_channel(settings.registration_target)
        backends["attendance"] = create_channel(settings.attendance_target)
        proxy.bind(backends)
        webhooks.bind(backends["attendance"])
        try:
            yield
        finally:
            await asyncio.gather(*(channel.close() for channel in backends.values()))

    async def healthz(request: Request) -> Response:
        return _labelled("/healthz", JSONResponse({"status": "ok"}), request)

    async def readyz(request: Request) -> Response:
        names = list(backends)
        results = await asyncio.gather(*(_serving(backends[name]) for name in names))
        services = {name: ("serving" if ok else "not_serving") for name, ok in zip(names, results, strict=True)}
        ready = all(results) and bool(results)
        response = JSONResponse(
            {"status": "ready" if ready else "not_ready", "services": services}, status_code=200 if ready else 503
        )
        return _labelled("/readyz", response, request)

    async def metrics(request: Request) -> Response:
        return _labelled("/metrics", Response(generate_latest(), media_type=CONTENT_TYPE_LATEST), request)

    async def openapi(request: Request) -> Response:
        return _labelled("/openapi.json", Response(openapi_json, media_type="application/json"), request)

    async def docs(request: Request) -> Response:
        return _labelled("/docs", HTMLResponse(docs_html), request)

    async def docs_js(request: Request) -> Response:
        return _labelled("/docs", Response(DOCS_JS, media_type="text/javascript"), request)

    async def docs_css(request: Request) -> Response:
        return _labelled("/docs", Response(DOCS_CSS, media_type="text/css"), request)

    routes: list[Route | Mount] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route("/openapi.json", openapi),
        Route("/docs", docs),
        Route("/docs/docs.js", docs_js),
        Route("/docs/docs.css", docs_css),
        Route("/api/zoom/webhooks", webhooks),
        *dev_sign_in_routes(settings),
        *_api_mounts(proxy),
        Mount("/", StaticFiles(directory=WEB_DIRECTORY, html=True, check_dir=False)),
    ]
    middleware: list[Middleware] = [*security_middleware(gateway.cors_origins), Middleware(RequestContextMiddleware)]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


def _api_mounts(proxy: ApiProxy) -> list[Route | Mount]:
    """Every path under the API prefixes goes to the proxy, which answers JSON even for a 404."""
    return [route for prefix in ("/api", "/v1") for route in (Route(prefix, proxy), Mount(prefix, proxy))]
