"""GetMeetingParticipants' database work: one read and one audit append, one statement each.

The service's hottest read does not open a transaction. Each statement sets the caller's identity
for row-level security itself, in a fenced subquery (`OFFSET 0`) the rest of the statement depends
on laterally, so PostgreSQL computes it before any policy looks at it; its `set_config(..., true)`
ends with the statement's own transaction, and a statement that ran without it would see no rows
rather than someone else's. With the pool's idle-only ping, a call costs two round trips: the
read, then the audit row (committed before the caller gets the data).

The read returns the roster only when its token differs from the one the caller already holds;
otherwise PostgreSQL sends the meeting, the class and the caller's relation, and nothing more.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import namedtuple_row
from sqlalchemy.ext.asyncio import AsyncEngine

from attendance_service.read_models import MeetingOverview, MeetingRoster
from attendance_service.repository._rows import (
    CLASS_COLUMNS,
    CLASS_STUDENTS,
    INSTANCE_SEGMENTS,
    MEETING_COLUMNS,
    caller_columns,
    class_of,
    meeting_of,
    segment_of_json,
    student_of_json,
)
from common.audit import AuditOutcome
from common.errors import Unavailable
from common.logs import request_id_var
from common.security.principal import Principal

__all__ = ["CallerStatements", "caller_statements"]

_IDENTITY = """(SELECT set_config('app.user_id', %(app_user_id)s, true) AS user_id,
                set_config('app.role', %(app_role)s, true) AS role OFFSET 0) AS identity"""
# Whatever the caller sees of the roster depends on: the meeting's segments and the class's
# students (their versions, see migration 0006_roster_versions), the instance, and who may see
# them (the class, its teacher, the meeting's host). The caller's own identity is the cache's key.
_ROSTER_VERSIONS = """json_build_array(
    (SELECT v.version FROM meeting_roster_versions v WHERE v.meeting_id = m.id),
    (SELECT v.version FROM class_roster_versions v WHERE v.class_id = c.id),
    m.uuid, m.class_id, m.host_id, c.id, c.teacher_id)::text"""
_MEETING_ROSTER = f"""SELECT overview.* FROM {_IDENTITY} CROSS JOIN LATERAL (
    SELECT {MEETING_COLUMNS}, {CLASS_COLUMNS}, {caller_columns("%(caller)s")}, t.token AS roster_token,
        CASE WHEN t.token IS DISTINCT FROM %(held_token)s THEN {CLASS_STUDENTS} END AS students,
        CASE WHEN t.token IS DISTINCT FROM %(held_token)s THEN {INSTANCE_SEGMENTS} END AS segments
    FROM zoom_meetings m LEFT JOIN classes c ON c.id = m.class_id
    CROSS JOIN LATERAL (SELECT {_ROSTER_VERSIONS} AS token OFFSET 0) t
    WHERE m.id = %(meeting_id)s AND identity.role IS NOT NULL
    OFFSET 0) AS overview"""
_AUDIT = f"""INSERT INTO audit_events
    (id, actor_id, actor_role, action, target_type, target_id, outcome, request_id, detail)
    SELECT %(id)s, %(actor_id)s, %(actor_role)s, %(action)s, %(target_type)s, %(target_id)s, %(outcome)s,
        %(request_id)s, %(detail)s
    FROM {_IDENTITY}"""


class CallerStatements:
    """Statements as one caller, each in its own transaction, on one pooled connection."""

    def __init__(self, connection: psycopg.AsyncConnection[Any], principal: Principal) -> None:
        self._connection = connection
        self._principal = principal
        self._identity = {"app_user_id": str(principal.user_id), "app_role": principal.role}

    async def meeting_roster(
        self, meeting_id: int, held: MeetingRoster | None
    ) -> tuple[MeetingOverview, MeetingRoster] | None:
        """The meeting, its class, the caller's relation and the roster (`held` itself while its
        token is current); None when the caller cannot see the meeting or it does not exist."""
        params = {
            **self._identity,
            "caller": self._principal.user_id,
            "meeting_id": meeting_id,
            "held_token": held.token if held else None,
        }
        async with self._connection.cursor(row_factory=namedtuple_row) as cursor:
            await cursor.execute(_MEETING_ROSTER, params, prepare=True)
            row: Any = await cursor.fetchone()
        if row is None:
            return None
        if held is not None and row.roster_token == held.token:
            roster = held
        else:
            roster = MeetingRoster(
                token=row.roster_token,
                students=tuple(student_of_json(s) for s in row.students),
                segments=tuple(segment_of_json(s) for s in row.segments),
            )
        overview = MeetingOverview(
            meeting=meeting_of(row),
            school_class=class_of(row),
            caller_zoom_user_id=row.caller_zoom_user_id,
            caller_enrolled=row.caller_enrolled,
            students=roster.students,
            segments=roster.segments,
        )
        return overview, roster

    async def audit(
        self, actor: Principal | None, action: str, *, target_type: str, target_id: str, detail: str | None = None
    ) -> None:
        """Appends an audit event, committed when this returns (ids only: no names or emails)."""
        await self._connection.execute(
            _AUDIT,
            {
                **self._identity,
                "id": uuid.uuid4(),
                "actor_id": actor.user_id if actor else None,
                "actor_role": actor.role if actor else "system",
                "action": action,
                "target_type": target_type,
                "target_id": target_id,
                "outcome": AuditOutcome.SUCCESS.value,
                "request_id": request_id_var.get(),
                "detail": detail,
            },
            prepare=True,
        )


@asynccontextmanager
async def caller_statements(engine: AsyncEngine, principal: Principal) -> AsyncIterator[CallerStatements]:
    """A pooled connection in autocommit mode, as `principal`; back to SQLAlchemy's mode after.

    Psycopg is used directly: SQLAlchemy's execution path costs about as much CPU as the rest of
    the call. A lost connection is dropped from the pool and answered UNAVAILABLE.
    """
    async with engine.connect() as pooled:
        connection = (await pooled.get_raw_connection()).driver_connection
        assert isinstance(connection, psycopg.AsyncConnection)
        await connection.set_autocommit(True)
        try:
            yield CallerStatements(connection, principal)
        except psycopg.OperationalError as exc:
            await pooled.invalidate()
            raise Unavailable("The database is unavailable; try again shortly", retry_after_seconds=2.0) from exc
        finally:
            if connection.closed or connection.info.transaction_status is not TransactionStatus.IDLE:
                # Cancelled mid-statement or broken: never hand it to the next caller.
                if not pooled.invalidated:
                    await pooled.invalidate()
            else:
                await connection.set_autocommit(False)  # SQLAlchemy's sessions begin implicitly
