"""The attendance service's own settings, read once in `__main__` beside common.config.Settings.

- ROLLCALL_ATTENDANCE_SYNC_DELAYS_SECONDS (120,300,600,900,1800,3600): waits before each automatic
  sync attempt after `meeting.ended`.
- ROLLCALL_QR_SIGNING_KEY: HMAC key of check-in codes (32+ characters).
- ROLLCALL_IP_HASH_KEY, ROLLCALL_IP_HASH_KEY_ID (k1; `dev` when derived): key (32+ characters) and
  its id for hashing client IPs.
- ROLLCALL_IP_HASH_PREVIOUS_KEYS (none): `id:key,id:key` of keys rotated out; they still verify
  IPs hashed before the rotation, the current key writes.
- ROLLCALL_QR_CODE_TTL_SECONDS (90), ROLLCALL_QR_ROTATION_SECONDS (30): how long a code is
  accepted; how often a new one is shown.
- ROLLCALL_PUBLIC_URL (http://127.0.0.1:<gateway port>): where browsers reach the gateway.
- ROLLCALL_WEBHOOK_RETENTION_HOURS (72, from 2 to 720): how long received webhook events are kept
  to recognise Zoom's retries (its last comes about 85 minutes after the first delivery); their
  payloads name participants, so they are dropped after it.
- ROLLCALL_ATTENDANCE_HELD_VIEWS (256): participants views (and their messages) kept per process
  for reuse while the database says their roster is unchanged; about 0.3 MB each for a meeting of
  300 segments; 0 keeps none.
- ROLLCALL_ATTENDANCE_READ_CONNECTIONS (8, from 1 to 100): at most this many database connections
  for the participants reads, beside the engine's pool; each pipelines the statements of
  concurrent calls, and one opens only when those before it have statements in flight
  (common.db.statement_pipeline).

Production mode refuses to start without the two keys; development derives them from the
development JWT key, which every process of a development stack shares.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from attendance_service.qr import QrKeys
from common.config import ConfigError, Settings, number_within, whole_within

__all__ = ["AttendanceSettings"]

_DEFAULT_DELAYS = (120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)  # ~2 h in all; Zoom's report lags up to 30 min


_DEFAULT_HELD_VIEWS = 256


@dataclass(frozen=True, slots=True)
class AttendanceSettings:
    sync_delays_seconds: tuple[float, ...]
    qr: QrKeys
    held_views: int = _DEFAULT_HELD_VIEWS
    webhook_retention: timedelta = timedelta(hours=72)
    read_connections: int = 8

    @classmethod
    def from_env(cls, env: Mapping[str, str], settings: Settings) -> AttendanceSettings:
        return cls(
            sync_delays_seconds=_delays(env),
            qr=_qr_keys(env, settings),
            held_views=whole_within(env, "ROLLCALL_ATTENDANCE_HELD_VIEWS", _DEFAULT_HELD_VIEWS, 0, 100_000),
            webhook_retention=timedelta(hours=number_within(env, "ROLLCALL_WEBHOOK_RETENTION_HOURS", 72, 2, 720)),
            read_connections=whole_within(env, "ROLLCALL_ATTENDANCE_READ_CONNECTIONS", 8, 1, 100),
        )


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _delays(env: Mapping[str, str]) -> tuple[float, ...]:
    name = "ROLLCALL_ATTENDANCE_SYNC_DELAYS_SECONDS"
    raw = _get(env, name)
    if raw is None:
        return _DEFAULT_DELAYS
    try:
        delays = tuple(float(part) for part in raw.split(","))
    except ValueError:
        raise ConfigError(f"{name} must be comma-separated seconds, got {raw!r}") from None
    if not delays or any(d < 0 for d in delays):
        raise ConfigError(f"{name} must list one or more non-negative numbers of seconds")
    return delays


def _seconds(env: Mapping[str, str], name: str, default: int) -> timedelta:
    raw = _get(env, name)
    if raw is None:
        return timedelta(seconds=default)
    if not raw.isdigit() or not 5 <= int(raw) <= 3600:
        raise ConfigError(f"{name} must be whole seconds from 5 to 3600, got {raw!r}")
    return timedelta(seconds=int(raw))


def _key(env: Mapping[str, str], name: str, settings: Settings, label: str) -> bytes:
    raw = _get(env, name)
    if raw is not None:
        if len(raw) < 32:
            raise ConfigError(f"{name} must be at least 32 characters")
        return raw.encode()
    if settings.auth.mode == "production" or not settings.auth.dev_signing_key:
        raise ConfigError(f"{name} is required when ROLLCALL_AUTH_MODE=production")
    # Development: one key per purpose, derived from the development JWT key every process shares.
    return hmac.new(settings.auth.dev_signing_key.encode(), label.encode(), hashlib.sha256).digest()


def _qr_keys(env: Mapping[str, str], settings: Settings) -> QrKeys:
    key_id = _get(env, "ROLLCALL_IP_HASH_KEY_ID") or ("dev" if _get(env, "ROLLCALL_IP_HASH_KEY") is None else "k1")
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,32}", key_id):
        raise ConfigError("ROLLCALL_IP_HASH_KEY_ID must be 1-32 letters, digits, '.', '_' or '-'")
    validity = _seconds(env, "ROLLCALL_QR_CODE_TTL_SECONDS", 90)
    rotation = _seconds(env, "ROLLCALL_QR_ROTATION_SECONDS", 30)
    if rotation > validity:
        raise ConfigError("ROLLCALL_QR_ROTATION_SECONDS must not exceed ROLLCALL_QR_CODE_TTL_SECONDS")
    public_url = _get(env, "ROLLCALL_PUBLIC_URL") or f"http://127.0.0.1:{settings.gateway_port}"
    if not re.match(r"^https?://[^\s/]+", public_url):
        raise ConfigError(f"ROLLCALL_PUBLIC_URL must be an http(s) URL, got {public_url!r}")
    keys = QrKeys(
        signing_key=_key(env, "ROLLCALL_QR_SIGNING_KEY", settings, "rollcall-qr-signing"),
        ip_hash_key=_key(env, "ROLLCALL_IP_HASH_KEY", settings, "rollcall-ip-hash"),
        ip_key_id=key_id,
        validity=validity,
        rotation=rotation,
        check_in_base_url=public_url.rstrip("/"),
        ip_previous_keys=_previous_ip_keys(env, key_id),
    )
    try:
        keys.ip_keys()
    except ValueError as exc:
        raise ConfigError(f"ROLLCALL_IP_HASH_PREVIOUS_KEYS: {exc}") from None
    return keys


def _previous_ip_keys(env: Mapping[str, str], current_id: str) -> dict[str, bytes]:
    name = "ROLLCALL_IP_HASH_PREVIOUS_KEYS"
    previous: dict[str, bytes] = {}
    for entry in (_get(env, name) or "").split(","):
        if not entry.strip():
            continue
        key_id, _, key = entry.strip().partition(":")
        if not key or key_id in previous or key_id == current_id:
            raise ConfigError(f"{name} must list `id:key` pairs with distinct ids other than the current one")
        previous[key_id] = key.encode()
    return previous
