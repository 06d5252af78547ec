"""The emulator's settings: fixed at start (credentials) or changed at run time (faults, plan)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["HEAVY_DAILY", "RATE_LIMITS", "Credentials", "FaultShares", "RuntimeConfig"]

Plan = Literal["pro", "business"]

# Requests per second per category (zoom-api.md, "Rate limits").
RATE_LIMITS: dict[Plan, dict[str, int]] = {
    "pro": {"Light": 30, "Medium": 20, "Heavy": 10, "Resource-intensive": 10},
    "business": {"Light": 80, "Medium": 60, "Heavy": 40, "Resource-intensive": 20},
}
HEAVY_DAILY: dict[Plan, int] = {"pro": 30_000, "business": 60_000}


@dataclass(frozen=True, slots=True)
class Credentials:
    account_id: str
    client_id: str
    client_secret: str = field(repr=False)


@dataclass(slots=True)
class FaultShares:
    """Share of API calls (0-1 each) that get each fault; drawn from one seeded generator."""

    server_error: float = 0.0
    rate_limit: float = 0.0
    reset: float = 0.0
    lost_response: float = 0.0

    def total(self) -> float:
        return self.server_error + self.rate_limit + self.reset + self.lost_response


@dataclass(slots=True)
class RuntimeConfig:
    """Everything the admin API may change while the emulator runs."""

    plan: Plan = "pro"
    token_ttl_seconds: int = 3600
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    faults: FaultShares = field(default_factory=FaultShares)
    seed: int = 0
    registrant_limit_scope: Literal["meeting", "email"] = "meeting"
    omit_rate_limit_headers: bool = False
    rate_limits_enabled: bool = True
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    webhook_retry_delays_seconds: tuple[float, ...] = (300.0, 1200.0, 3600.0)
    clock_offset_seconds: float = 0.0
    page_token_ttl_seconds: int = 900

    def as_dict(self) -> dict[str, object]:
        return {
            "plan": self.plan,
            "token_ttl_seconds": self.token_ttl_seconds,
            "latency_ms": self.latency_ms,
            "jitter_ms": self.jitter_ms,
            "faults": {
                "server_error": self.faults.server_error,
                "rate_limit": self.faults.rate_limit,
                "reset": self.faults.reset,
                "lost_response": self.faults.lost_response,
            },
            "seed": self.seed,
            "registrant_limit_scope": self.registrant_limit_scope,
            "omit_rate_limit_headers": self.omit_rate_limit_headers,
            "rate_limits_enabled": self.rate_limits_enabled,
            "webhook_url": self.webhook_url,
            "webhook_retry_delays_seconds": list(self.webhook_retry_delays_seconds),
            "clock_offset_seconds": self.clock_offset_seconds,
            "page_token_ttl_seconds": self.page_token_ttl_seconds,
        }
