"""Exceptions raised by the Zoom client: one tree, rooted at `ZoomError`.

Every failure of an operation reaches the caller as one of these; HTTP transport and database errors are
translated once, in the transport, and chained with ``raise ... from``. Messages copied from Zoom
are scrubbed of e-mail addresses and URLs first: Zoom's per-registrant 429 message quotes the
registrant's e-mail, and callers log exceptions.

| class                      | raised for                                                      |
| -------------------------- | --------------------------------------------------------------- |
| ZoomConfigurationError     | token host refused the credentials; access token rejected twice |
| ZoomProtocolError          | a 2xx body that is not what the API sheet promises              |
| ZoomNotFound               | code 3001 (meeting missing or expired), 12702 (over a year old) |
| ZoomRegistrationDisabled   | code 404 (registration not enabled on the meeting)              |
| ZoomCapacityReached        | code 3043                                                       |
| ZoomMeetingOver            | code 3038                                                       |
| ZoomNotScheduledMeeting    | code 303 (batch registration on a non-type-2 meeting)           |
| ZoomValidationError        | code 300, and requests refused locally before sending           |
| ZoomNotHost                | code 3003                                                       |
| ZoomAccessDenied           | code 3000                                                       |
| ZoomHostCannotRegister     | code 3027                                                       |
| ZoomRateLimited            | per-second 429, or local pacing that cannot fit the deadline    |
| ZoomDailyLimitReached      | daily 429, or a daily budget already spent (refused locally)    |
| ZoomUnavailable            | 5xx, transport errors, budget store down: after the deadline    |
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

__all__ = [
    "DailyLimitScope",
    "FieldError",
    "ZoomAccessDenied",
    "ZoomCapacityReached",
    "ZoomConfigurationError",
    "ZoomDailyLimitReached",
    "ZoomError",
    "ZoomHostCannotRegister",
    "ZoomMeetingOver",
    "ZoomNotFound",
    "ZoomNotHost",
    "ZoomNotScheduledMeeting",
    "ZoomProtocolError",
    "ZoomRateLimited",
    "ZoomRegistrationDisabled",
    "ZoomUnavailable",
    "ZoomValidationError",
    "scrub",
]

DailyLimitScope = Literal["account-heavy", "registrant", "host-meetings"]

_EMAIL = re.compile(r"[^\s()<>\[\],;:\"']+@[^\s()<>\[\],;:\"']+")
_URL = re.compile(r"https?://\S+")


def scrub(text: str) -> str:
    """Returns `text` without e-mail addresses or URLs (join links carry a per-student token)."""
    return _URL.sub("[url]", _EMAIL.sub("[email]", text))


class ZoomError(Exception):
    """Base of every Zoom client failure.

    `http_status` and `code` are Zoom's (None when the client refused locally or no response
    arrived); `message` is Zoom's text, scrubbed of e-mails and URLs.
    """

    def __init__(self, message: str, *, http_status: int | None = None, code: int | None = None) -> None:
        self.message = scrub(message)
        self.http_status = http_status
        self.code = code
        super().__init__(self.message)

    def __str__(self) -> str:
        origin = f"HTTP {self.http_status}" if self.http_status is not None else "local"
        return f"{self.message} ({origin}, code {self.code})"


class ZoomConfigurationError(ZoomError):
    """Credentials, account id or app scopes are wrong: fixing them needs a person, not a retry."""


class ZoomProtocolError(ZoomError):
    """Zoom answered with something the API sheet does not allow (missing field, wrong type)."""


class ZoomNotFound(ZoomError):
    """The meeting (or instance) does not exist, has expired, or is too old for the endpoint."""


class ZoomRegistrationDisabled(ZoomError):
    """The meeting exists but does not take registrants (approval_type 2 or wrong type)."""


class ZoomCapacityReached(ZoomError):
    """The meeting holds the most registrants it can (Zoom: 4,999 per meeting)."""


class ZoomMeetingOver(ZoomError):
    """The meeting has ended; Zoom no longer takes registrants for it."""


class ZoomNotScheduledMeeting(ZoomError):
    """Batch registration is only for scheduled (type 2) meetings."""


@dataclass(frozen=True, slots=True)
class FieldError:
    """One entry of Zoom's `errors` list on a code-300 validation failure."""

    field: str
    message: str


class ZoomValidationError(ZoomError, ValueError):
    """Zoom (code 300) or the client itself refused the request's fields.

    Also a `ValueError`, because the client raises it before sending for inputs that Zoom would
    surely refuse (e.g. more than 30 registrants in a batch), sparing a rate-limited call.
    """

    def __init__(
        self,
        message: str,
        *,
        field_errors: Sequence[FieldError] = (),
        http_status: int | None = None,
        code: int | None = None,
    ) -> None:
        super().__init__(message, http_status=http_status, code=code)
        self.field_errors = tuple(FieldError(e.field, scrub(e.message)) for e in field_errors)


class ZoomNotHost(ZoomError):
    """The app's account is not the meeting's host (code 3003)."""


class ZoomAccessDenied(ZoomError):
    """Zoom refuses access to the meeting's information (code 3000)."""


class ZoomHostCannotRegister(ZoomError):
    """The host's own e-mail cannot be a registrant (code 3027)."""


class ZoomRateLimited(ZoomError):
    """A per-second limit: waiting `retry_after_seconds` (when known) and trying again helps.

    Raised after the client's own retries ran out of the caller's deadline.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after_seconds: float | None = None,
        category: str | None = None,
        http_status: int | None = None,
        code: int | None = None,
    ) -> None:
        super().__init__(message, http_status=http_status, code=code)
        self.retry_after_seconds = retry_after_seconds
        self.category = category


class ZoomDailyLimitReached(ZoomError):
    """A daily limit is spent; nothing helps before `resume_at` (aware, UTC).

    `scope` says whose budget: the account's Heavy quota, one registrant's 3 adds, or one host's
    100 meeting creations. For a batch, `exhausted_indexes` lists the positions of the
    registrants whose allowance is spent (positions, not e-mails, to keep PII out of errors).
    """

    def __init__(
        self,
        message: str,
        *,
        resume_at: datetime,
        scope: DailyLimitScope,
        exhausted_indexes: Sequence[int] = (),
        http_status: int | None = None,
        code: int | None = None,
    ) -> None:
        super().__init__(message, http_status=http_status, code=code)
        self.resume_at = resume_at
        self.scope: DailyLimitScope = scope
        self.exhausted_indexes = tuple(exhausted_indexes)


class ZoomUnavailable(ZoomError):
    """Zoom (or the shared rate budget) kept failing with 5xx or transport errors until the deadline.

    `may_have_been_applied` is True when a request may have reached Zoom before the failure
    (response lost, 5xx): the client never retries such a failure of a non-idempotent call.
    """

    def __init__(
        self,
        message: str,
        *,
        may_have_been_applied: bool = False,
        http_status: int | None = None,
        code: int | None = None,
    ) -> None:
        super().__init__(message, http_status=http_status, code=code)
        self.may_have_been_applied = may_have_been_applied
