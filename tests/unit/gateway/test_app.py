"""The app in process, without services: CORS only for configured origins, security headers on
every answer, and the web page never answering for API paths."""

from __future__ import annotations

import httpx
import pytest

from common.config import AuthSettings, Settings
from gateway.app import create_app
from gateway.config import GatewaySettings

SETTINGS = Settings(auth=AuthSettings(dev_signing_key="k" * 40))
ALLOWED = "https://lms.example"


@pytest.fixture
async def client() -> httpx.AsyncClient:
    app = create_app(SETTINGS, GatewaySettings(cors_origins=(ALLOWED,)))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")


async def test_cors_answers_only_the_configured_origins(client: httpx.AsyncClient) -> None:
    preflight = {"access-control-request-method": "GET", "access-control-request-headers": "authorization"}
    async with client:
        allowed = await client.options("/v1/classes", headers={"origin": ALLOWED, **preflight})
        other = await client.options("/v1/classes", headers={"origin": "https://evil.example", **preflight})
        simple = await client.get("/healthz", headers={"origin": ALLOWED})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ALLOWED
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in other.headers
    assert simple.headers["access-control-allow-origin"] == ALLOWED
    assert simple.headers["content-security-policy"].startswith("default-src 'self'")


async def test_without_configured_origins_there_is_no_cors() -> None:
    app = create_app(SETTINGS, GatewaySettings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        response = await client.get("/healthz", headers={"origin": ALLOWED})
    assert "access-control-allow-origin" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_the_openapi_document_and_docs_are_served(client: httpx.AsyncClient) -> None:
    async with client:
        document = await client.get("/openapi.json")
        docs = await client.get("/docs")
        style = await client.get("/docs/docs.css")
    assert document.json()["openapi"] == "3.1.0"
    assert docs.headers["content-type"].startswith("text/html")
    assert style.headers["content-type"].startswith("text/css")


async def test_api_paths_answer_json_even_when_unknown(client: httpx.AsyncClient) -> None:
    async with client:
        response = await client.get("/v1/no-such-thing", headers={"x-request-id": "abc"})
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"
    assert response.headers["x-request-id"] == "abc"
    assert response.headers["referrer-policy"] == "no-referrer"
