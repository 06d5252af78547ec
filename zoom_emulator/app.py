"""The emulator's ASGI application: Zoom's API under /v2, OAuth, and the admin API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from zoom_emulator import admin, meetings, reports
from zoom_emulator.core import Emulator
from zoom_emulator.oauth import token

__all__ = ["create_app"]


async def _not_found(request: Request, exc: Exception) -> Response:
    # Unknown paths answer in Zoom's error shape (e.g. a UUID with "/" sent encoded only once).
    return JSONResponse({"code": 404, "message": "Not found."}, status_code=404)


def create_app(emulator: Emulator) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await emulator.webhooks.close()

    routes = [Route("/oauth/token", token, methods=["POST"])]
    for path, endpoint, methods in (*meetings.routes(), *reports.routes(), *admin.routes()):
        routes.append(Route(path, endpoint, methods=methods))
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: _not_found})
    app.state.emulator = emulator
    return app
