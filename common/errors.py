"""rollcall's own error tree, free of gRPC and HTTP so domain rules can raise it.

`common.grpc.errors` maps each class to a gRPC status once; the gateway maps statuses to HTTP.
Messages must be fit to show a caller and hold no email, name or token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "AlreadyExists",
    "FailedPrecondition",
    "FieldViolation",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "RollcallError",
    "Unauthenticated",
    "Unavailable",
]

ERROR_DOMAIN = "rollcall.deped.gov.ph"


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One bad field of a request: `field` is the proto field path, e.g. `student_id`."""

    field: str
    description: str


class RollcallError(Exception):
    """Base of every error a caller may cause or need to know about."""

    reason: str = ""

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason


class InvalidArgument(RollcallError):
    """The request is malformed; nothing was read or changed."""

    def __init__(self, violations: list[FieldViolation] | FieldViolation) -> None:
        self.violations = violations if isinstance(violations, list) else [violations]
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in self.violations))


class Unauthenticated(RollcallError):
    """No valid credentials were presented."""


class PermissionDenied(RollcallError):
    """The caller may not do this; never says whether the target exists."""


class NotFound(RollcallError):
    """The target does not exist (said only to callers who may know)."""


class AlreadyExists(RollcallError):
    """The thing to create exists already."""


class FailedPrecondition(RollcallError):
    """The request is valid but the system's state forbids it (e.g. no upcoming meeting)."""


class ResourceExhausted(RollcallError):
    """A quota is spent (e.g. Zoom's daily limits); `retry_at` says when to try again."""

    def __init__(self, message: str, *, reason: str, retry_at: datetime | None = None) -> None:
        super().__init__(message, reason=reason)
        self.retry_at = retry_at


class Unavailable(RollcallError):
    """A dependency (Zoom, the database) is down past the deadline; retrying later may help."""

    def __init__(self, message: str, *, reason: str = "DEPENDENCY_UNAVAILABLE", retry_after_seconds: float = 5.0):
        super().__init__(message, reason=reason)
        self.retry_after_seconds = retry_after_seconds
