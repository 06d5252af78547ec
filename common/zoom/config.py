"""Settings of the Zoom client, built by the services' `Settings` and passed down."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from common.zoom.errors import ZoomConfigurationError

__all__ = ["RegistrantLimitScope", "ZoomClientConfig", "ZoomPlan"]

ZoomPlan = Literal["pro", "business"]
RegistrantLimitScope = Literal["meeting", "email"]


@dataclass(frozen=True, slots=True)
class ZoomClientConfig:
    """How to reach one Zoom account and how much of its rate limits this app may use.

    `plan` picks Zoom's per-category limits ("business" covers Business, Education and
    Enterprise). `reserved_share` is the fraction of each account-wide limit (per-second and
    Heavy daily) left free for other apps of the account: Zoom's limits are shared by all of
    them. `registrant_limit_scope` says how Zoom counts its 3 adds per registrant per day: per
    (meeting, e-mail) as documented, or per e-mail across meetings as one forum report saw.
    `request_timeout_seconds` bounds one HTTP attempt; `deadline_seconds` is the default time
    an operation (all its retries and pacing waits) may take when the caller gives none.
    """

    account_id: str
    client_id: str
    client_secret: str = field(repr=False)
    api_base_url: str = "https://api.zoom.us/v2"
    oauth_url: str = "https://zoom.us"
    plan: ZoomPlan = "pro"
    reserved_share: float = 0.1
    request_timeout_seconds: float = 10.0
    deadline_seconds: float = 30.0
    registrant_limit_scope: RegistrantLimitScope = "meeting"

    def __post_init__(self) -> None:
        for name in ("account_id", "client_id", "client_secret", "api_base_url", "oauth_url"):
            if not getattr(self, name):
                raise ZoomConfigurationError(f"Zoom client setting {name} is empty")
        if self.plan not in ("pro", "business"):
            raise ZoomConfigurationError(f"Zoom plan must be 'pro' or 'business', got {self.plan!r}")
        if not 0.0 <= self.reserved_share < 1.0:
            raise ZoomConfigurationError("Zoom reserved_share must be in [0, 1)")
        if self.request_timeout_seconds <= 0 or self.deadline_seconds <= 0:
            raise ZoomConfigurationError("Zoom timeouts must be positive")
        if self.registrant_limit_scope not in ("meeting", "email"):
            raise ZoomConfigurationError("Zoom registrant_limit_scope must be 'meeting' or 'email'")
