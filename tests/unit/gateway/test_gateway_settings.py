"""The gateway's settings: defaults, validation with the variable named, production needs a token."""

from __future__ import annotations

import pytest

from common.config import AuthSettings, ConfigError, Settings
from gateway.config import GatewaySettings

DEV = Settings()
PRODUCTION = Settings(auth=AuthSettings(mode="production", jwks_url="https://idp.example/jwks"))


def test_defaults() -> None:
    settings = GatewaySettings.from_env({}, DEV)
    assert settings.deadline_seconds == 60
    assert settings.stream_deadline_seconds == 3600
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.trusted_proxy_header is None
    assert settings.cors_origins == ()


def test_values_are_read() -> None:
    settings = GatewaySettings.from_env(
        {
            "ROLLCALL_GATEWAY_DEADLINE_SECONDS": "5",
            "ROLLCALL_GATEWAY_MAX_BODY_BYTES": "2048",
            "ROLLCALL_GATEWAY_TRUSTED_PROXY_HEADER": "X-Forwarded-For",
            "ROLLCALL_GATEWAY_CORS_ORIGINS": "https://lms.example, http://localhost:3000/",
        },
        DEV,
    )
    assert settings.deadline_seconds == 5
    assert settings.max_body_bytes == 2048
    assert settings.trusted_proxy_header == "x-forwarded-for"
    assert settings.cors_origins == ("https://lms.example", "http://localhost:3000")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ROLLCALL_GATEWAY_DEADLINE_SECONDS", "0"),
        ("ROLLCALL_GATEWAY_DEADLINE_SECONDS", "soon"),
        ("ROLLCALL_GATEWAY_STREAM_DEADLINE_SECONDS", "-1"),
        ("ROLLCALL_GATEWAY_MAX_BODY_BYTES", "12"),
        ("ROLLCALL_GATEWAY_MAX_BODY_BYTES", "1MB"),
        ("ROLLCALL_GATEWAY_TRUSTED_PROXY_HEADER", "x forwarded"),
        ("ROLLCALL_GATEWAY_CORS_ORIGINS", "*"),
        ("ROLLCALL_GATEWAY_SERVICE_TOKEN", "not-a-jwt"),
    ],
)
def test_a_bad_value_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        GatewaySettings.from_env({name: value}, DEV)


def test_production_needs_the_gateways_service_token() -> None:
    with pytest.raises(ConfigError, match="ROLLCALL_GATEWAY_SERVICE_TOKEN"):
        GatewaySettings.from_env({}, PRODUCTION)
    settings = GatewaySettings.from_env({"ROLLCALL_GATEWAY_SERVICE_TOKEN": "a.b.c"}, PRODUCTION)
    assert settings.service_token == "a.b.c"
    assert "a.b.c" not in repr(settings)
