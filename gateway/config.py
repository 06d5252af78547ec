"""The gateway's own settings, read once in `__main__` beside common.config.Settings.

- ROLLCALL_GATEWAY_DEADLINE_SECONDS (60): deadline of every unary call to a service; above the
  services' own Zoom deadline (ZOOM_DEADLINE_SECONDS, 30) so a slow Zoom answers 503, not 504.
- ROLLCALL_GATEWAY_STREAM_DEADLINE_SECONDS (3600): deadline of streams (live roster, job progress,
  CSV exports); browsers' EventSource reconnects after it and gets a fresh snapshot.
- ROLLCALL_GATEWAY_MAX_BODY_BYTES (1048576): largest request body accepted.
- ROLLCALL_GATEWAY_JSON_CACHE_MIB (32): JSON of recent large answers kept, keyed by their protobuf
  bytes, so an unchanged answer (a participants list polled again) is not converted again; 0 keeps none.
- ROLLCALL_GATEWAY_TRUSTED_PROXY_HEADER (unset): the header a trusted reverse proxy puts the client
  IP in (e.g. `x-forwarded-for`, of which the last entry is used); unset, the socket peer is the client.
- ROLLCALL_GATEWAY_CORS_ORIGINS (unset: CORS off): comma-separated origins allowed to call the API.
- ROLLCALL_GATEWAY_SERVICE_TOKEN: the gateway's own bearer token (role `service`, scopes `gateway`
  and `zoom.webhooks`), required in production; development mints one with ROLLCALL_DEV_JWT_KEY.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from common.config import ConfigError, Settings, number_within

__all__ = ["GatewaySettings"]

_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    """Deadlines, limits and trust of the HTTP gateway."""

    deadline_seconds: float = 60.0
    stream_deadline_seconds: float = 3600.0
    max_body_bytes: int = 1024 * 1024
    json_cache_bytes: int = 32 * 2**20
    trusted_proxy_header: str | None = None
    cors_origins: tuple[str, ...] = ()
    service_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str], settings: Settings) -> GatewaySettings:
        header = _get(env, "ROLLCALL_GATEWAY_TRUSTED_PROXY_HEADER")
        if header is not None and not _HEADER_NAME.match(header):
            raise ConfigError(f"ROLLCALL_GATEWAY_TRUSTED_PROXY_HEADER must be a header name, got {header!r}")
        token = _get(env, "ROLLCALL_GATEWAY_SERVICE_TOKEN")
        if token is None and settings.auth.mode == "production":
            raise ConfigError("ROLLCALL_GATEWAY_SERVICE_TOKEN is required when ROLLCALL_AUTH_MODE=production")
        if token is not None and (token.count(".") != 2 or not token.isascii() or " " in token):
            raise ConfigError("ROLLCALL_GATEWAY_SERVICE_TOKEN must be a JWT (without the `Bearer ` prefix)")
        return cls(
            deadline_seconds=_seconds(env, "ROLLCALL_GATEWAY_DEADLINE_SECONDS", 60.0, maximum=600.0),
            stream_deadline_seconds=_seconds(env, "ROLLCALL_GATEWAY_STREAM_DEADLINE_SECONDS", 3600.0, maximum=86400.0),
            max_body_bytes=_body_limit(env),
            json_cache_bytes=int(number_within(env, "ROLLCALL_GATEWAY_JSON_CACHE_MIB", 32, 0, 4096) * 2**20),
            trusted_proxy_header=header.lower() if header else None,
            cors_origins=_origins(env),
            service_token=token,
        )


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _seconds(env: Mapping[str, str], name: str, default: float, *, maximum: float) -> float:
    raw = _get(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not 0 < value <= maximum:
        raise ConfigError(f"{name} must be more than 0 and at most {maximum:g} seconds, got {raw!r}")
    return value


def _body_limit(env: Mapping[str, str]) -> int:
    name = "ROLLCALL_GATEWAY_MAX_BODY_BYTES"
    raw = _get(env, name)
    if raw is None:
        return 1024 * 1024
    if not raw.isdigit() or not 1024 <= int(raw) <= 64 * 1024 * 1024:
        raise ConfigError(f"{name} must be a whole number of bytes from 1024 to 67108864, got {raw!r}")
    return int(raw)


def _origins(env: Mapping[str, str]) -> tuple[str, ...]:
    name = "ROLLCALL_GATEWAY_CORS_ORIGINS"
    origins = tuple(part.strip().rstrip("/") for part in (_get(env, name) or "").split(",") if part.strip())
    for origin in origins:
        if not _ORIGIN.match(origin):
            raise ConfigError(f"{name} must list origins such as https://school.example, got {origin!r}")
    return origins
