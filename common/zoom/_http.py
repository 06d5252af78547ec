"""Reading Zoom's HTTP answers: error bodies to exceptions, rate-limit headers, path encoding.

Pure functions over the transport's values; the transport decides what to do with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote

from common.zoom._ratelimit import RateCategory
from common.zoom._wire import HttpResponse
from common.zoom.errors import (
    FieldError,
    ZoomAccessDenied,
    ZoomCapacityReached,
    ZoomConfigurationError,
    ZoomError,
    ZoomHostCannotRegister,
    ZoomMeetingOver,
    ZoomNotFound,
    ZoomNotHost,
    ZoomNotScheduledMeeting,
    ZoomRegistrationDisabled,
    ZoomValidationError,
)
from common.zoom.models import MeetingId

__all__ = [
    "ErrorBody",
    "encode_meeting_id",
    "error_body",
    "header_category",
    "is_daily_limit",
    "map_error",
    "parse_retry_after",
    "qps_wait_seconds",
]

# Zoom's error codes (see /work/shared/zoom-api.md) that name a distinct failure.
_BY_CODE: Mapping[int, type[ZoomError]] = {
    3001: ZoomNotFound,  # meeting not found or expired (404 or 400)
    12702: ZoomNotFound,  # past meeting over a year old: its data is gone
    404: ZoomRegistrationDisabled,  # 404 code 404: registration not enabled
    3043: ZoomCapacityReached,
    3038: ZoomMeetingOver,
    303: ZoomNotScheduledMeeting,
    3003: ZoomNotHost,
    3000: ZoomAccessDenied,
    3027: ZoomHostCannotRegister,
    124: ZoomConfigurationError,  # invalid access token, once a fresh one was also refused
    4700: ZoomConfigurationError,  # token lacks the needed scopes
    4711: ZoomConfigurationError,
}

# A per-second limit resets within a second; a larger hint is clock skew, not advice.
_MAX_QPS_WAIT_SECONDS = 2.0
_DEFAULT_QPS_WAIT_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class ErrorBody:
    """Zoom's `{code, message, errors}`; `code` None when the body was not in that shape."""

    code: int | None
    message: str
    field_errors: tuple[FieldError, ...]


def error_body(response: HttpResponse) -> ErrorBody:
    """Reads an error answer without trusting it to be JSON (proxies answer HTML)."""
    fallback = ErrorBody(None, f"HTTP {response.status} {response.reason}".strip(), ())
    try:
        body = response.json()
    except ValueError:
        return fallback
    if not isinstance(body, dict):
        return fallback
    code = body.get("code")
    message = body.get("message")
    errors = body.get("errors")
    field_errors = tuple(
        FieldError(str(e.get("field", "")), str(e.get("message", "")))
        for e in (errors if isinstance(errors, list) else [])
        if isinstance(e, dict)
    )
    return ErrorBody(
        code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        message=message if isinstance(message, str) and message else fallback.message,
        field_errors=field_errors,
    )


def map_error(status: int, body: ErrorBody) -> ZoomError:
    """The exception for a 4xx other than 429 (the transport reads 429 and 5xx itself)."""
    if body.code == 300:
        return ZoomValidationError(body.message, field_errors=body.field_errors, http_status=status, code=body.code)
    cls = _BY_CODE.get(body.code) if body.code is not None else None
    if cls is None and status in (401, 403):
        cls = ZoomConfigurationError
    return (cls or ZoomError)(body.message, http_status=status, code=body.code)


def header_category(headers: Mapping[str, str]) -> RateCategory | None:
    """`X-RateLimit-Category`, when present and known."""
    value = headers.get("X-RateLimit-Category", "")
    try:
        return RateCategory(value)
    except ValueError:
        return None


def is_daily_limit(headers: Mapping[str, str], message: str) -> bool:
    """Whether a 429 is a daily limit. Headers may be missing, so Zoom's wording decides then.

    Per-second: "maximum per-second rate limit"; daily: "maximum daily rate limit", "exceeded
    the daily rate limit of (3) ... registrant", "daily rate limit (100) of Meeting Create".
    """
    kind: str = headers.get("X-RateLimit-Type", "").lower()
    if kind:
        return kind.startswith("daily")
    return "daily" in message.lower()


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """`Retry-After` as an aware UTC time. Zoom sends an ISO-8601 time for daily limits, not
    seconds; HTTP's own forms (delta seconds, HTTP-date) are accepted too. None if unreadable."""
    if not value:
        return None
    text = value.strip()
    try:
        return now + timedelta(seconds=float(text))
    except ValueError:
        pass  # not delta-seconds: one of the date forms below
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def qps_wait_seconds(headers: Mapping[str, str], now: datetime) -> float:
    """How long a per-second 429 asks to wait: Retry-After, else X-RateLimit-Reset (unix
    seconds), else one second; bounded because a per-second window cannot outlast a second or two."""
    resume = parse_retry_after(headers.get("Retry-After"), now)
    if resume is None:
        reset = headers.get("X-RateLimit-Reset")
        try:
            resume = datetime.fromtimestamp(float(reset), UTC) if reset else None
        except (ValueError, OverflowError, OSError):
            resume = None
    if resume is None:
        return _DEFAULT_QPS_WAIT_SECONDS
    return min(max((resume - now).total_seconds(), 0.0), _MAX_QPS_WAIT_SECONDS)


def encode_meeting_id(meeting_id: MeetingId) -> str:
    """The path segment for a meeting id or instance UUID.

    Zoom: a UUID that starts with "/" or contains "//" must be URL-encoded twice; others once
    (UUIDs are base64 and hold "/", "+" and "=").
    """
    if isinstance(meeting_id, bool):
        raise ZoomValidationError("a meeting id is an int or a UUID string, not a bool")
    if isinstance(meeting_id, int):
        if meeting_id <= 0:
            raise ZoomValidationError("a numeric meeting id is positive")
        return str(meeting_id)
    if not meeting_id:
        raise ZoomValidationError("a meeting UUID is not empty")
    if meeting_id.isdigit():
        return meeting_id  # numeric id as text, as webhooks send it
    once = quote(meeting_id, safe="")
    return quote(once, safe="") if meeting_id.startswith("/") or "//" in meeting_id else once
