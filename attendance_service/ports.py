"""The collaborators use cases are given (cosmicpython's ports): units of work and a clock.

`Database` in attendance_service.repository is the real unit-of-work factory; unit tests pass fakes
that hold rows in memory. Each use case names only the queries it uses, in its own protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from common.security.principal import Principal

__all__ = ["Clock", "Transactions", "system_clock"]

_Store_co = TypeVar("_Store_co", covariant=True)

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class Transactions(Protocol[_Store_co]):
    """Opens one transaction at a time, yielding the queries bound to it."""

    def as_caller(self, principal: Principal) -> AbstractAsyncContextManager[_Store_co]:
        """As the caller: row-level security shows only what they may see."""
        ...

    def as_system(self) -> AbstractAsyncContextManager[_Store_co]:
        """As the service itself, for work after the caller was authorized or no caller waits on."""
        ...
