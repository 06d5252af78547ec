"""Transactions that carry the caller's identity into PostgreSQL for row-level security.

`set_config(..., true)` is transaction-local (SET LOCAL), so a pooled connection carries nothing
over to the next transaction; without an identity the policies return no rows.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from common.db.engine import SYSTEM_ROLE
from common.security.principal import Principal

__all__ = [
    "SYSTEM_ROLE",
    "PrivilegedDatabaseRole",
    "assert_unprivileged_role",
    "system_engine_transaction",
    "system_transaction",
    "transaction",
]

_SET_IDENTITY = text("SELECT set_config('app.user_id', :user_id, true), set_config('app.role', :role, true)")


@asynccontextmanager
async def _identified(
    sessions: async_sessionmaker[AsyncSession], user_id: uuid.UUID | None, role: str
) -> AsyncIterator[AsyncSession]:
    async with sessions() as session, session.begin():
        await session.execute(_SET_IDENTITY, {"user_id": str(user_id) if user_id else "", "role": role})
        yield session


def transaction(
    sessions: async_sessionmaker[AsyncSession], principal: Principal
) -> AbstractAsyncContextManager[AsyncSession]:
    """One transaction as `principal`: commits on success, rolls back on any exception."""
    return _identified(sessions, principal.user_id, principal.role)


def system_transaction(sessions: async_sessionmaker[AsyncSession]) -> AbstractAsyncContextManager[AsyncSession]:
    """One transaction as the service itself, for work no caller is waiting on."""
    return _identified(sessions, None, SYSTEM_ROLE)


@asynccontextmanager
async def system_engine_transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One transaction on sessions of a system engine (`create_system_engine`): its connections
    act as the system already, so no identity is set."""
    async with sessions() as session, session.begin():
        yield session


class PrivilegedDatabaseRole(RuntimeError):
    """The services' connection could bypass row-level security: refuse to start."""


async def assert_unprivileged_role(engine: AsyncEngine) -> None:
    """Row-level security never applies to superusers or BYPASSRLS roles, so the services must not
    connect as one."""
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            )
        ).one()
    if row.rolsuper or row.rolbypassrls:
        raise PrivilegedDatabaseRole(
            f"the services must connect as a role without SUPERUSER or BYPASSRLS, not {row.current_user}: "
            "set ROLLCALL_APP_DATABASE_URL (the migrations create the role rollcall_app)"
        )
