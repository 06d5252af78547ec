"""Appending audit events. Targets are ids, never emails or names, so the log itself holds no PII
beyond who acted on which record."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from common.db.models import AuditEvent
from common.logs import request_id_var
from common.security.principal import Principal

__all__ = ["AuditOutcome", "record_audit", "record_audits"]

# One statement and one round trip for any number of targets (an executemany sends a row each).
# Ids come from the table's default: no RETURNING, which RLS would refuse to all but admins.
_APPEND_MANY = text(
    "INSERT INTO audit_events (actor_id, actor_role, action, target_type, target_id, outcome, request_id, detail) "
    "SELECT CAST(:actor_id AS uuid), :actor_role, :action, :target_type, target_id, :outcome, :request_id, :detail "
    "FROM unnest(CAST(:target_ids AS text[])) AS target_id"
)


class AuditOutcome(enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"


async def record_audit(
    session: AsyncSession,
    actor: Principal | None,
    action: str,
    *,
    target_type: str,
    target_id: str,
    outcome: AuditOutcome = AuditOutcome.SUCCESS,
    detail: str | None = None,
) -> None:
    """Adds one event inside `session`'s transaction: it commits or rolls back with the change."""
    await session.execute(
        insert(AuditEvent).values(
            # A known id means no RETURNING, which RLS would refuse: only admins read audit rows.
            id=uuid.uuid4(),
            actor_id=actor.user_id if actor else None,
            actor_role=actor.role if actor else "system",
            action=action,
            target_type=target_type,
            target_id=target_id,
            outcome=outcome.value,
            request_id=request_id_var.get(),
            detail=detail,
        )
    )


async def record_audits(
    session: AsyncSession,
    actor: Principal | None,
    action: str,
    *,
    target_type: str,
    target_ids: Sequence[str],
    detail: str | None = None,
) -> None:
    """Adds one event per target in a single statement, e.g. every student registered by one batch."""
    if not target_ids:
        return
    await session.execute(
        _APPEND_MANY,
        {
            "actor_id": str(actor.user_id) if actor and actor.user_id else None,
            "actor_role": actor.role if actor else "system",
            "action": action,
            "target_type": target_type,
            "target_ids": list(target_ids),
            "outcome": AuditOutcome.SUCCESS.value,
            "request_id": request_id_var.get(),
            "detail": detail,
        },
    )
