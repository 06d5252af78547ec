"""The gateway runs as its own process and is ready only when both services answer health checks."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import ServiceStack
from tests.support.polling import eventually_sync
from tests.support.processes import ChildProcess, free_port, start_python_module


def _start_gateway(env: dict[str, str]) -> tuple[ChildProcess, str]:
    port = free_port()
    process = start_python_module("gateway", "gateway", {**env, "ROLLCALL_GATEWAY_PORT": str(port)})
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    eventually_sync(answers, within=30, what="gateway answering")
    return process, url


@pytest.fixture
def gateway(services: ServiceStack) -> Iterator[str]:
    process, url = _start_gateway(
        {
            **services.env,
            "ROLLCALL_REGISTRATION_TARGET": services.registration_target,
            "ROLLCALL_ATTENDANCE_TARGET": services.attendance_target,
        }
    )
    yield url
    assert process.stop() == 0


def test_gateway_is_ready_when_both_services_serve(gateway: str) -> None:
    response = httpx.get(f"{gateway}/readyz", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "services": {"registration": "serving", "attendance": "serving"}}


def test_gateway_is_alive_but_not_ready_while_a_service_is_down(services: ServiceStack) -> None:
    process, url = _start_gateway(
        {
            **services.env,
            "ROLLCALL_REGISTRATION_TARGET": services.registration_target,
            "ROLLCALL_ATTENDANCE_TARGET": f"127.0.0.1:{free_port()}",
        }
    )
    try:
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        response = httpx.get(f"{url}/readyz", timeout=5)
        assert response.status_code == 503
        assert response.json()["services"]["attendance"] == "not_serving"
    finally:
        process.stop()
