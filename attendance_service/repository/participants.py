"""GetMeetingParticipants' database work: usually one statement, the read and its audit row.

The service's hottest read opens no transaction. Each statement sets the caller's identity for
row-level security itself, in a fenced subquery (`OFFSET 0`) the rest of the statement depends on
laterally, so PostgreSQL computes it before any policy looks at it; its `set_config(..., true)`
ends with the statement's own transaction, and a statement that ran without it would see no rows
rather than someone else's.

The audit row must be committed before the caller gets the data, and only for a read the policy
allows. The use case knows the facts it authorized the caller's previous read against; the read
appends the audit row in the same statement when the meeting's facts are still exactly those
(`audited` says whether it did). Otherwise (a first read, or the class, host or enrollment
changed) the use case decides on the new facts and appends the row in a second statement.

The read returns the roster only when its token differs from the one the caller already holds;
otherwise PostgreSQL sends the meeting, the class and the caller's relation, and nothing more.
"""

from __future__ import annotations

from typing import Any

from attendance_service.read_models import MeetingOverview, MeetingRoster, ReadAudit
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
from common.db.statement_pipeline import Statement, StatementPipeline
from common.logs import request_id_var
from common.security.policy import Facts
from common.security.principal import Principal

__all__ = ["CallerStatements"]

_IDENTITY = """(SELECT set_config('app.user_id', %(app_user_id)s, true) AS user_id,
                set_config('app.role', %(app_role)s, true) AS role OFFSET 0) AS identity"""
# Whatever the caller sees of the roster depends on: the meeting's segments and the class's
# students (their versions, see migration 0006_roster_versions), the instance, and who may see
# them (the class, its teacher, the meeting's host). The caller's own identity is the cache's key.
_ROSTER_VERSIONS = """json_build_array(
    (SELECT v.version FROM meeting_roster_versions v WHERE v.meeting_id = m.id),
    (SELECT v.version FROM class_roster_versions v WHERE v.class_id = c.id),
    m.uuid, m.class_id, m.host_id, c.id, c.teacher_id)::text"""
_AUDIT_COLUMNS = "actor_id, actor_role, action, target_type, target_id, outcome, request_id, detail"
# Typed here: in the read, where no audit is asked for, they are all NULL (the id is the table's default).
_AUDIT_VALUES = """%(actor_id)s::uuid, %(actor_role)s::text, %(action)s::text, %(target_type)s::text,
    %(target_id)s::text, %(outcome)s::text, %(request_id)s::text, %(detail)s::text"""
# The facts of common.security.policy.Facts that a meeting read is authorized against.
_SAME_FACTS = """%(audit)s AND o.teacher_id IS NOT DISTINCT FROM %(teacher_id)s
    AND o.host_id IS NOT DISTINCT FROM %(host_id)s AND o.caller_enrolled IS NOT DISTINCT FROM %(caller_enrolled)s
    AND o.caller_zoom_user_id IS NOT DISTINCT FROM %(caller_zoom_user_id)s"""
_MEETING_ROSTER = f"""WITH overview AS MATERIALIZED (
    SELECT overview.* FROM {_IDENTITY} CROSS JOIN LATERAL (
        SELECT {MEETING_COLUMNS}, {CLASS_COLUMNS}, {caller_columns("%(caller)s")}, t.token AS roster_token,
            CASE WHEN t.token IS DISTINCT FROM %(held_token)s THEN {CLASS_STUDENTS} END AS students,
            CASE WHEN t.token IS DISTINCT FROM %(held_token)s THEN {INSTANCE_SEGMENTS} END AS segments
        FROM zoom_meetings m LEFT JOIN classes c ON c.id = m.class_id
        CROSS JOIN LATERAL (SELECT {_ROSTER_VERSIONS} AS token OFFSET 0) t
        WHERE m.id = %(meeting_id)s AND identity.role IS NOT NULL
        OFFSET 0) AS overview
), checked AS MATERIALIZED (
    SELECT o.*, {_SAME_FACTS} AS audited FROM overview o
), appended AS (
    INSERT INTO audit_events ({_AUDIT_COLUMNS}) SELECT {_AUDIT_VALUES} FROM checked WHERE audited
)
SELECT * FROM checked"""
_AUDIT = f"INSERT INTO audit_events ({_AUDIT_COLUMNS}) SELECT {_AUDIT_VALUES} FROM {_IDENTITY}"
_MEETING_ROSTER_STATEMENT = Statement.of("attendance_meeting_roster", _MEETING_ROSTER)
_AUDIT_STATEMENT = Statement.of("attendance_caller_audit", _AUDIT)
_NO_AUDIT = dict.fromkeys(_AUDIT_COLUMNS.split(", "))


class CallerStatements:
    """Statements as one caller, each in its own transaction, pipelined with other callers'
    (common.db.statement_pipeline: a lost connection is replaced and the call answered UNAVAILABLE)."""

    def __init__(self, pipeline: StatementPipeline, principal: Principal) -> None:
        self._pipeline = pipeline
        self._principal = principal
        self._identity = {"app_user_id": str(principal.user_id), "app_role": principal.role}

    async def meeting_roster(
        self, meeting_id: int, held: MeetingRoster | None, audit: ReadAudit | None = None
    ) -> tuple[MeetingOverview, MeetingRoster, bool] | None:
        """The meeting, its class, the caller's relation and the roster (`held` itself while its
        token is current), and whether `audit` was appended (only if the meeting's facts are
        `audit.facts`); None when the caller cannot see the meeting or it does not exist."""
        facts = audit.facts if audit else Facts()
        params = {
            **self._identity,
            **(self._audit_params(audit.action, audit.target_type, audit.target_id) if audit else _NO_AUDIT),
            "caller": self._identity["app_user_id"],
            "meeting_id": meeting_id,
            "held_token": held.token if held else None,
            "audit": audit is not None,
            "teacher_id": None if facts.class_teacher_id is None else str(facts.class_teacher_id),
            "host_id": facts.meeting_host_id,
            "caller_enrolled": facts.caller_enrolled,
            "caller_zoom_user_id": facts.caller_zoom_user_id,
        }
        rows = await self._pipeline.fetch(_MEETING_ROSTER_STATEMENT, params)
        if not rows:
            return None
        row: Any = rows[0]
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
        return overview, roster, bool(row.audited)

    async def audit(
        self, actor: Principal | None, action: str, *, target_type: str, target_id: str, detail: str | None = None
    ) -> None:
        """Appends an audit event as the caller, committed when this returns (ids only: no names
        or emails). `actor` is the caller: the statement runs under their identity."""
        assert actor is self._principal, "CallerStatements audits its own caller's actions"
        await self._pipeline.fetch(_AUDIT_STATEMENT, self._audit_params(action, target_type, target_id, detail))

    def _audit_params(self, action: str, target_type: str, target_id: str, detail: str | None = None) -> dict[str, Any]:
        return {
            **self._identity,
            "actor_id": self._identity["app_user_id"],
            "actor_role": self._principal.role,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "outcome": AuditOutcome.SUCCESS.value,
            "request_id": request_id_var.get(),
            "detail": detail,
        }
