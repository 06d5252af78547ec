"""The emulator object shared by every route: config, state, clock, seeded randomness, webhooks."""

from __future__ import annotations

import random
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from starlette.responses import JSONResponse

from zoom_emulator.config import HEAVY_DAILY, RATE_LIMITS, Credentials, RuntimeConfig
from zoom_emulator.ratelimit import TokenBuckets
from zoom_emulator.state import Store
from zoom_emulator.webhooks import Webhooks

__all__ = ["CATEGORY", "Emulator", "ZoomFault", "zoom_error"]

# Zoom's rate-limit category of each operation (zoom-api.md).
CATEGORY = {
    "get_meeting": "Light",
    "update_meeting": "Light",
    "create_meeting": "Medium",
    "add_registrant": "Light",
    "batch_registrants": "Heavy",
    "list_registrants": "Medium",
    "registrant_status": "Medium",
    "delete_registrant": "Light",
    "report_participants": "Heavy",
    "past_participants": "Medium",
    "past_instances": "Medium",
}


class ZoomFault(Exception):
    """An error answer in Zoom's shape, raised by handlers."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors, self.headers = status, code, message, errors, headers


def zoom_error(fault: ZoomFault) -> JSONResponse:
    body: dict[str, object] = {"code": fault.code, "message": fault.message}
    if fault.errors is not None:
        body["errors"] = fault.errors
    return JSONResponse(body, status_code=fault.status, headers=fault.headers)


@dataclass(slots=True)
class Emulator:
    credentials: Credentials
    config: RuntimeConfig
    initial: RuntimeConfig
    store: Store
    buckets: TokenBuckets
    rng: random.Random
    webhooks: Webhooks
    base_url: str = "http://127.0.0.1"

    @classmethod
    def create(cls, credentials: Credentials, config: RuntimeConfig) -> Emulator:
        import copy

        webhooks = Webhooks(
            credentials.account_id, config.webhook_url, config.webhook_secret, config.webhook_retry_delays_seconds
        )
        return cls(
            credentials, config, copy.deepcopy(config), Store(), TokenBuckets(), random.Random(config.seed), webhooks
        )

    def reset(self) -> None:
        import copy

        self.config = copy.deepcopy(self.initial)
        self.store = Store()
        self.buckets = TokenBuckets()
        self.rng = random.Random(self.config.seed)

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.config.clock_offset_seconds)

    def day(self) -> str:
        return self.now().date().isoformat()

    def next_midnight(self) -> datetime:
        today = self.now().date()
        return datetime(today.year, today.month, today.day, tzinfo=UTC) + timedelta(days=1)

    def rate_limit(self, category: str) -> int:
        return RATE_LIMITS[self.config.plan][category]

    def heavy_daily_limit(self) -> int:
        return HEAVY_DAILY[self.config.plan]

    def monotonic(self) -> float:
        return time.monotonic()

    def spend_daily(self, limit_name: str, key: str, limit: int) -> bool:
        """Counts one use of a daily limit; False (and nothing counted) when it is spent."""
        slot = (limit_name, key, self.day())
        if self.store.daily[slot] >= limit:
            return False
        self.store.daily[slot] += 1
        return True

    def new_page_token(self, key: str, offset: int) -> str:
        token = secrets.token_urlsafe(24)
        expiry = self.now().timestamp() + self.config.page_token_ttl_seconds
        self.store.page_tokens[token] = (key, offset, expiry)
        return token

    def page_offset(self, token: str | None, key: str) -> int:
        if not token:
            return 0
        found = self.store.page_tokens.get(token)
        if found is None or found[0] != key or found[2] < self.now().timestamp():
            raise ZoomFault(400, 300, "The next page token is invalid or expired.")
        return found[1]

    def page(
        self, items: list[dict[str, object]], key: str, query: dict[str, str], default_size: int, field: str
    ) -> dict[str, object]:
        try:
            size = int(query.get("page_size") or default_size)
        except ValueError:
            raise ZoomFault(
                400, 300, "Validation Failed.", [{"field": "page_size", "message": "Invalid field."}]
            ) from None
        size = max(1, min(size, 300))
        offset = self.page_offset(query.get("next_page_token"), key)
        chunk = items[offset : offset + size]
        more = offset + size < len(items)
        return {
            "page_count": max(1, -(-len(items) // size)),
            "page_size": size,
            "total_records": len(items),
            "next_page_token": self.new_page_token(key, offset + size) if more else "",
            field: chunk,
        }
