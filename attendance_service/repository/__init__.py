"""The attendance service's unit of work over common.db: one transaction, with the caller's identity
set for row-level security, and the queries the use cases need. Hands back domain values only."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from attendance_service.repository.meetings import MeetingQueries
from attendance_service.repository.participants import CallerStatements
from attendance_service.repository.records import RecordQueries
from attendance_service.repository.segments import ROSTER_CHANNEL, DueSync, Instance, SegmentQueries
from common.audit import AuditOutcome
from common.db import create_session_factory
from common.db.models import AuditEvent
from common.db.session import system_transaction, transaction
from common.db.statement_pipeline import StatementPipeline
from common.logs import request_id_var
from common.security.principal import Principal

__all__ = [
    "ROSTER_CHANNEL",
    "AttendanceRepository",
    "CallerStatements",
    "Database",
    "DueSync",
    "Instance",
]


class AttendanceRepository(MeetingQueries, RecordQueries, SegmentQueries):
    """Every query of the service, bound to one session inside one transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def audit(
        self, actor: Principal | None, action: str, *, target_type: str, target_id: str, detail: str | None = None
    ) -> None:
        """Appends an audit event in this transaction (ids only: no names or emails).

        Written here rather than with common.audit.record_audit, whose INSERT asks `RETURNING id`:
        row-level security lets only admins read audit rows, so that fails for every other caller.
        Once record_audit supplies the id itself, this becomes a call to it.
        """
        await self.session.execute(
            insert(AuditEvent).values(
                id=uuid.uuid4(),
                actor_id=actor.user_id if actor else None,
                actor_role=actor.role if actor else "system",
                action=action,
                target_type=target_type,
                target_id=target_id,
                outcome=AuditOutcome.SUCCESS.value,
                request_id=request_id_var.get(),
                detail=detail,
            )
        )


class Database:
    """Opens units of work: as the caller (row-level security applies) or as the service itself;
    and, for GetMeetingParticipants, single statements as the caller on `statements`' pipeline."""

    def __init__(self, engine: AsyncEngine, statements: StatementPipeline) -> None:
        self._sessions = create_session_factory(engine)
        self._statements = statements

    @asynccontextmanager
    async def as_caller(self, principal: Principal) -> AsyncIterator[AttendanceRepository]:
        async with transaction(self._sessions, principal) as session:
            yield AttendanceRepository(session)

    @asynccontextmanager
    async def as_system(self) -> AsyncIterator[AttendanceRepository]:
        async with system_transaction(self._sessions) as session:
            yield AttendanceRepository(session)

    def statements_as(self, principal: Principal) -> AbstractAsyncContextManager[CallerStatements]:
        """As the caller, each statement its own transaction (no BEGIN, no COMMIT round trips);
        nothing to give back afterwards: the pipeline holds no connection for the caller."""
        return nullcontext(CallerStatements(self._statements, principal))
