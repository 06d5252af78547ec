"""Who is calling: the verified identity every policy decision and database session uses."""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass
from typing import Literal

__all__ = ["ROLES", "Principal", "Role", "current_principal", "principal_var"]

Role = Literal["admin", "teacher", "student", "service"]
ROLES: tuple[Role, ...] = ("admin", "teacher", "student", "service")


@dataclass(frozen=True, slots=True)
class Principal:
    """A verified caller. `scopes` matter for service identities (school systems, the gateway)."""

    user_id: uuid.UUID
    role: Role
    scopes: frozenset[str] = frozenset()

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


principal_var: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("principal", default=None)


def current_principal() -> Principal:
    """The caller of the RPC being served; the authentication interceptor set it."""
    principal = principal_var.get()
    if principal is None:
        raise LookupError("no authenticated principal in this context")
    return principal
