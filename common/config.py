"""One frozen Settings object, read from the environment once in each process's `__main__`.

A bad or missing value stops start-up with a `ConfigError` naming the variable, so a
misconfigured deployment fails at once instead of on its first request.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = ["AuthSettings", "ConfigError", "Settings", "ZoomSettings", "number_within", "whole_within"]

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class ConfigError(ValueError):
    """A configuration variable is missing or malformed; the message names it."""


@dataclass(frozen=True, slots=True)
class ZoomSettings:
    """How to reach Zoom. Without credentials, `rollcall run` starts the emulator instead."""

    api_base_url: str = "https://api.zoom.us/v2"
    oauth_url: str = "https://zoom.us"
    account_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    webhook_secret_token: str | None = field(default=None, repr=False)
    plan: Literal["pro", "business"] = "business"
    reserved_share: float = 0.1
    request_timeout_seconds: float = 10.0
    deadline_seconds: float = 30.0
    registrant_limit_scope: Literal["meeting", "email"] = "meeting"

    @property
    def has_credentials(self) -> bool:
        return bool(self.account_id and self.client_id and self.client_secret)


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """How callers prove who they are (see common.security)."""

    mode: Literal["development", "production"] = "development"
    jwks_url: str | None = None
    issuer: str = "rollcall-dev"
    audience: str = "rollcall"
    dev_signing_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a rollcall process may be configured with; each process uses its part."""

    database_url: str | None = None
    app_database_url: str | None = None
    data_dir: Path = Path(".rollcall")
    zoom: ZoomSettings = ZoomSettings()
    auth: AuthSettings = AuthSettings()
    allowed_email_domains: tuple[str, ...] = ("r1.deped.gov.ph",)
    bind_host: str = "127.0.0.1"
    registration_port: int = 50051
    attendance_port: int = 50052
    gateway_port: int = 8080
    emulator_port: int = 9090
    registration_metrics_port: int = 9101
    attendance_metrics_port: int = 9102
    registration_target: str = "127.0.0.1:50051"
    attendance_target: str = "127.0.0.1:50052"
    log_level: str = "INFO"
    shutdown_grace_seconds: float = 5.0
    db_pool_size: int = 10

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Reads every ROLLCALL_*, ZOOM_* and DATABASE_URL variable; see the README's table."""
        env = os.environ if environ is None else environ
        reader = _Reader(env)
        registration_port = reader.port("ROLLCALL_REGISTRATION_PORT", 50051)
        attendance_port = reader.port("ROLLCALL_ATTENDANCE_PORT", 50052)
        zoom = ZoomSettings(
            api_base_url=reader.url("ZOOM_API_BASE_URL", "https://api.zoom.us/v2"),
            oauth_url=reader.url("ZOOM_OAUTH_URL", "https://zoom.us"),
            account_id=reader.optional("ZOOM_ACCOUNT_ID"),
            client_id=reader.optional("ZOOM_CLIENT_ID"),
            client_secret=reader.optional("ZOOM_CLIENT_SECRET"),
            webhook_secret_token=reader.optional("ZOOM_WEBHOOK_SECRET_TOKEN"),
            plan=reader.choice("ZOOM_PLAN", ("pro", "business"), "business"),  # type: ignore[arg-type]
            reserved_share=reader.fraction("ZOOM_RESERVED_SHARE", 0.1),
            request_timeout_seconds=reader.positive_float("ZOOM_REQUEST_TIMEOUT_SECONDS", 10.0),
            deadline_seconds=reader.positive_float("ZOOM_DEADLINE_SECONDS", 30.0),
            registrant_limit_scope=reader.choice(  # type: ignore[arg-type]
                "ZOOM_REGISTRANT_LIMIT_SCOPE", ("meeting", "email"), "meeting"
            ),
        )
        partial = (zoom.account_id, zoom.client_id, zoom.client_secret)
        if any(partial) and not all(partial):
            missing = [
                name
                for name, value in zip(
                    ("ZOOM_ACCOUNT_ID", "ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET"), partial, strict=True
                )
                if not value
            ]
            raise ConfigError(f"{missing[0]} is required when any Zoom credential is set")
        auth = AuthSettings(
            mode=reader.choice(  # type: ignore[arg-type]
                "ROLLCALL_AUTH_MODE", ("development", "production"), "development"
            ),
            jwks_url=reader.optional("ROLLCALL_JWT_JWKS_URL"),
            issuer=reader.optional("ROLLCALL_JWT_ISSUER") or "rollcall-dev",
            audience=reader.optional("ROLLCALL_JWT_AUDIENCE") or "rollcall",
            dev_signing_key=reader.optional("ROLLCALL_DEV_JWT_KEY"),
        )
        if auth.mode == "production" and not auth.jwks_url:
            raise ConfigError("ROLLCALL_JWT_JWKS_URL is required when ROLLCALL_AUTH_MODE=production")
        return cls(
            database_url=reader.database_url("DATABASE_URL"),
            app_database_url=reader.database_url("ROLLCALL_APP_DATABASE_URL"),
            data_dir=Path(reader.optional("ROLLCALL_DATA_DIR") or ".rollcall"),
            zoom=zoom,
            auth=auth,
            allowed_email_domains=reader.domains("ROLLCALL_ALLOWED_EMAIL_DOMAINS", ("r1.deped.gov.ph",)),
            bind_host=reader.optional("ROLLCALL_BIND_HOST") or "127.0.0.1",
            registration_port=registration_port,
            attendance_port=attendance_port,
            gateway_port=reader.port("ROLLCALL_GATEWAY_PORT", 8080),
            emulator_port=reader.port("ROLLCALL_EMULATOR_PORT", 9090),
            registration_metrics_port=reader.port("ROLLCALL_REGISTRATION_METRICS_PORT", 9101),
            attendance_metrics_port=reader.port("ROLLCALL_ATTENDANCE_METRICS_PORT", 9102),
            registration_target=reader.optional("ROLLCALL_REGISTRATION_TARGET") or f"127.0.0.1:{registration_port}",
            attendance_target=reader.optional("ROLLCALL_ATTENDANCE_TARGET") or f"127.0.0.1:{attendance_port}",
            log_level=reader.choice("ROLLCALL_LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO"),
            shutdown_grace_seconds=reader.positive_float("ROLLCALL_SHUTDOWN_GRACE_SECONDS", 5.0),
            db_pool_size=whole_within(env, "ROLLCALL_DB_POOL_SIZE", 10, 1, 200),
        )

    def require_database_url(self) -> str:
        """The owner's database URL (migrations, `rollcall run`)."""
        if not self.database_url:
            raise ConfigError("DATABASE_URL is required (`rollcall run` sets it for an embedded PostgreSQL)")
        return self.database_url

    def require_app_database_url(self) -> str:
        """What the services connect with: ROLLCALL_APP_DATABASE_URL, or DATABASE_URL as the
        `rollcall_app` role without a password (trust setups such as the embedded database)."""
        if self.app_database_url:
            return self.app_database_url
        from common.db.engine import app_url  # config stays importable without SQLAlchemy loaded

        return app_url(self.require_database_url())


def number_within(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    """A number from `env[name]` (`default` when unset), refused outside [low, high] with its name."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be within {low:g} and {high:g}, got {raw!r}")
    return value


def whole_within(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """A whole number from `env[name]` (`default` when unset), refused outside [low, high] with its name."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, got {raw!r}")
    return int(raw)


class _Reader:
    """Parses one variable at a time and names it in every error."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def optional(self, name: str) -> str | None:
        value = self._env.get(name, "").strip()
        return value or None

    def port(self, name: str, default: int) -> int:
        raw = self.optional(name)
        if raw is None:
            return default
        if not raw.isdigit() or not 0 <= int(raw) <= 65535:
            raise ConfigError(f"{name} must be a port number 0-65535, got {raw!r}")
        return int(raw)

    def url(self, name: str, default: str) -> str:
        raw = self.optional(name) or default
        if not re.match(r"^https?://[^\s/]+", raw):
            raise ConfigError(f"{name} must be an http(s) URL, got {raw!r}")
        return raw.rstrip("/")

    def database_url(self, name: str) -> str | None:
        raw = self.optional(name)
        if raw is not None and not re.match(r"^postgres(ql)?(\+psycopg)?://", raw):
            raise ConfigError(f"{name} must be a postgresql:// URL (PostgreSQL is the only database rollcall uses)")
        return raw

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        raw = self.optional(name)
        if raw is None:
            return default
        if raw not in allowed and raw.upper() not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
        return raw if raw in allowed else raw.upper()

    def positive_float(self, name: str, default: float) -> float:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None
        if value <= 0:
            raise ConfigError(f"{name} must be positive, got {raw!r}")
        return value

    def fraction(self, name: str, default: float) -> float:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number from 0 to 0.9, got {raw!r}") from None
        if not 0 <= value <= 0.9:
            raise ConfigError(f"{name} must be a number from 0 to 0.9, got {raw!r}")
        return value

    def domains(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        raw = self.optional(name)
        if raw is None:
            return default
        domains = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
        if not domains:
            raise ConfigError(f"{name} must list at least one domain")
        for domain in domains:
            try:
                ascii_domain = domain.encode("idna").decode("ascii")
            except UnicodeError:
                raise ConfigError(f"{name} has an invalid domain {domain!r}") from None
            if not _DOMAIN.match(ascii_domain):
                raise ConfigError(f"{name} has an invalid domain {domain!r}")
        return domains
