"""The registration service's unit of work over common.db: one transaction with the caller's
identity set for row-level security, and the queries the use cases need. Hands back plain values."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from common.audit import AuditOutcome, record_audit
from common.db import create_session_factory
from common.db.session import system_engine_transaction, transaction
from common.security.principal import Principal
from registration_service.repository.classes import ClassQueries
from registration_service.repository.jobs import JOB_CHANNEL, ClaimedItem, ItemResult, JobQueries, NewItem

__all__ = ["JOB_CHANNEL", "ClaimedItem", "Database", "ItemResult", "NewItem", "RegistrationRepository"]


class RegistrationRepository(ClassQueries, JobQueries):
    """Every query of the service, bound to one session inside one transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def audit(
        self,
        actor: Principal | None,
        action: str,
        *,
        target_type: str,
        target_id: str,
        success: bool = True,
        detail: str | None = None,
    ) -> None:
        await record_audit(
            self.session,
            actor,
            action,
            target_type=target_type,
            target_id=target_id,
            outcome=AuditOutcome.SUCCESS if success else AuditOutcome.FAILURE,
            detail=detail,
        )


class Database:
    """Opens units of work: as the caller (row-level security applies) or as the service itself.

    The service's own work runs on a system engine (common.db.engine.create_system_engine): no
    identity round trip per transaction, and `as_system_statement` runs in autocommit (no BEGIN
    and COMMIT)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], system_engine: AsyncEngine) -> None:
        self._sessions = sessions
        self._system = create_session_factory(system_engine)
        self._system_autocommit = create_session_factory(system_engine.execution_options(isolation_level="AUTOCOMMIT"))

    @asynccontextmanager
    async def as_caller(self, principal: Principal) -> AsyncIterator[RegistrationRepository]:
        async with transaction(self._sessions, principal) as session:
            yield RegistrationRepository(session)

    @asynccontextmanager
    async def as_system(self) -> AsyncIterator[RegistrationRepository]:
        async with system_engine_transaction(self._system) as session:
            yield RegistrationRepository(session)

    @asynccontextmanager
    async def as_system_statement(self) -> AsyncIterator[RegistrationRepository]:
        """For work that is one statement (a claim): each statement commits on its own."""
        async with self._system_autocommit() as session:
            yield RegistrationRepository(session)

    def system_session(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A bare system transaction, for shared helpers such as idempotency keys."""
        return system_engine_transaction(self._system)
