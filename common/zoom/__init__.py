"""Async client for the Zoom REST API v2 as rollcall uses it (see /work/shared/zoom-api.md).

Server-to-Server OAuth with one shared token, typed operations, Zoom's error codes as one
exception tree, and Zoom's account-wide rate limits paced through a `RateBudget` that every
replica shares (`PostgresRateBudget`) or one process keeps (`InMemoryRateBudget`).
"""

from common.zoom._clock import Clock, SystemClock
from common.zoom._pg_budget import PostgresRateBudget
from common.zoom._ratelimit import DailyCounter, InMemoryRateBudget, RateBudget, RateCategory, Slot
from common.zoom.client import ZoomClient
from common.zoom.config import RegistrantLimitScope, ZoomClientConfig, ZoomPlan
from common.zoom.errors import (
    DailyLimitScope,
    FieldError,
    ZoomAccessDenied,
    ZoomCapacityReached,
    ZoomConfigurationError,
    ZoomDailyLimitReached,
    ZoomError,
    ZoomHostCannotRegister,
    ZoomMeetingOver,
    ZoomNotFound,
    ZoomNotHost,
    ZoomNotScheduledMeeting,
    ZoomProtocolError,
    ZoomRateLimited,
    ZoomRegistrationDisabled,
    ZoomUnavailable,
    ZoomValidationError,
)
from common.zoom.models import (
    MeetingId,
    RegistrantRef,
    ZoomBatchRegistrant,
    ZoomMeeting,
    ZoomMeetingInstance,
    ZoomParticipant,
    ZoomRegistrant,
    ZoomRegistrantInput,
    ZoomRegistrantRecord,
)

__all__ = [
    "Clock",
    "DailyCounter",
    "DailyLimitScope",
    "FieldError",
    "InMemoryRateBudget",
    "MeetingId",
    "PostgresRateBudget",
    "RateBudget",
    "RateCategory",
    "RegistrantLimitScope",
    "RegistrantRef",
    "Slot",
    "SystemClock",
    "ZoomAccessDenied",
    "ZoomBatchRegistrant",
    "ZoomCapacityReached",
    "ZoomClient",
    "ZoomClientConfig",
    "ZoomConfigurationError",
    "ZoomDailyLimitReached",
    "ZoomError",
    "ZoomHostCannotRegister",
    "ZoomMeeting",
    "ZoomMeetingInstance",
    "ZoomMeetingOver",
    "ZoomNotFound",
    "ZoomNotHost",
    "ZoomNotScheduledMeeting",
    "ZoomParticipant",
    "ZoomPlan",
    "ZoomProtocolError",
    "ZoomRateLimited",
    "ZoomRegistrant",
    "ZoomRegistrantInput",
    "ZoomRegistrantRecord",
    "ZoomRegistrationDisabled",
    "ZoomUnavailable",
    "ZoomValidationError",
]
