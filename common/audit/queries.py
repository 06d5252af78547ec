"""Reading the audit log (admins only): filtered listings in keyset pages and a streamed CSV export.

Newest first on (occurred_at, id): every event of one transaction shares its `now()`, so the id
breaks ties and a page boundary never skips or repeats an event. Page tokens are opaque, tied to
their filters and checked field by field, so garbage is INVALID_ARGUMENT and never reaches SQL.
Each read is itself audited, in the transaction that reads.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import astuple, dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Row, Select, and_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.audit.csv_export import csv_chunks
from common.audit.log import AuditOutcome, record_audit
from common.db.models import AuditEvent
from common.db.session import transaction
from common.errors import FieldViolation, InvalidArgument
from common.security.policy import Action, Facts, authorize
from common.security.principal import Principal

__all__ = [
    "CSV_HEADER",
    "DEFAULT_PAGE_SIZE",
    "EXPORT_BATCH",
    "MAX_PAGE_SIZE",
    "AuditEventView",
    "AuditFilter",
    "AuditLogReader",
    "AuditPage",
    "PageKey",
    "decode_page_token",
    "encode_page_token",
    "page_size_of",
    "select_events",
]

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
EXPORT_BATCH = 1000  # rows per export transaction: memory stays bounded, no connection is held between
CSV_HEADER = (
    "event_id",
    "event_time",
    "actor_id",
    "actor_role",
    "action",
    "target_type",
    "target_id",
    "outcome",
    "request_id",
    "detail",
)
_PAGE_KEY_LAYOUT = "a1"  # changed when the layout changes, so older tokens are refused
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_events = AuditEvent.__table__

PageKey = tuple[datetime, uuid.UUID]  # (occurred_at, id) of the last event of a page


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which events to read; every field None means any. `end_time` is exclusive."""

    actor_id: uuid.UUID | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    outcome: AuditOutcome | None = None


@dataclass(frozen=True, slots=True)
class AuditEventView:
    event_id: uuid.UUID
    occurred_at: datetime
    actor_id: uuid.UUID | None
    actor_role: str
    action: str
    target_type: str
    target_id: str
    outcome: AuditOutcome
    request_id: str | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class AuditPage:
    events: tuple[AuditEventView, ...]
    next_page_token: str  # empty on the last page


# ---- queries (SQLAlchemy Core) ----------------------------------------------------------------


def select_events(where: AuditFilter, after: PageKey | None, limit: int) -> Select[tuple[object, ...]]:
    """Matching events newest first, strictly after `after` in that order; the (occurred_at, id)
    index serves both the order and the keyset condition."""
    conditions = []
    if where.actor_id is not None:
        conditions.append(_events.c.actor_id == where.actor_id)
    if where.action is not None:
        conditions.append(_events.c.action == where.action)
    if where.target_type is not None:
        conditions.append(_events.c.target_type == where.target_type)
    if where.target_id is not None:
        conditions.append(_events.c.target_id == where.target_id)
    if where.start_time is not None:
        conditions.append(_events.c.occurred_at >= where.start_time)
    if where.end_time is not None:
        conditions.append(_events.c.occurred_at < where.end_time)
    if where.outcome is not None:
        conditions.append(_events.c.outcome == where.outcome.value)
    if after is not None:
        conditions.append(tuple_(_events.c.occurred_at, _events.c.id) < tuple_(*after))
    statement = select(
        _events.c.id,
        _events.c.occurred_at,
        _events.c.actor_id,
        _events.c.actor_role,
        _events.c.action,
        _events.c.target_type,
        _events.c.target_id,
        _events.c.outcome,
        _events.c.request_id,
        _events.c.detail,
    )
    if conditions:
        statement = statement.where(and_(*conditions))
    return statement.order_by(_events.c.occurred_at.desc(), _events.c.id.desc()).limit(limit)


async def _read(session: AsyncSession, where: AuditFilter, after: PageKey | None, limit: int) -> list[AuditEventView]:
    rows = (await session.execute(select_events(where, after, limit))).all()
    return [
        AuditEventView(
            event_id=row.id,
            occurred_at=row.occurred_at,
            actor_id=row.actor_id,
            actor_role=row.actor_role,
            action=row.action,
            target_type=row.target_type,
            target_id=row.target_id,
            outcome=AuditOutcome(row.outcome),
            request_id=row.request_id,
            detail=row.detail,
        )
        for row in rows
    ]


# ---- page tokens ------------------------------------------------------------------------------


def _fingerprint(where: AuditFilter) -> str:
    """Ties a token to its filters: reused with other filters, it is refused rather than silently
    starting in the middle of another listing."""
    return hashlib.sha256(repr(astuple(where)).encode()).hexdigest()[:16]


def encode_page_token(key: PageKey, where: AuditFilter) -> str:
    """Opaque to callers: version, the key in exact microseconds, the filters' fingerprint."""
    micros = (key[0] - _EPOCH) // _MICROSECOND
    raw = json.dumps([_PAGE_KEY_LAYOUT, micros, key[1].hex, _fingerprint(where)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_page_token(token: str, where: AuditFilter) -> PageKey:
    """The key inside a token of this listing; INVALID_ARGUMENT for anything else."""
    problem = InvalidArgument(FieldViolation("page_token", "not a token from a previous page of this listing"))
    if len(token) > 256:
        raise problem
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error):
        raise problem from None
    if not isinstance(values, list) or len(values) != 4:
        raise problem
    version, micros, event_id, fingerprint = values
    if version != _PAGE_KEY_LAYOUT or fingerprint != _fingerprint(where):
        raise problem
    if not isinstance(micros, int) or isinstance(micros, bool) or not isinstance(event_id, str):
        raise problem
    try:
        return _EPOCH + micros * _MICROSECOND, uuid.UUID(hex=event_id)
    except (ValueError, OverflowError):
        raise problem from None


def page_size_of(value: int) -> int:
    if not 0 <= value <= MAX_PAGE_SIZE:
        raise InvalidArgument(FieldViolation("page_size", f"must be from 1 to {MAX_PAGE_SIZE} (0 means 100)"))
    return value or DEFAULT_PAGE_SIZE


# ---- use cases --------------------------------------------------------------------------------


def _csv_row(row: Row[tuple[object, ...]]) -> list[object]:
    """A row of `select_events` as CSV cells (UTC times in ISO 8601; None as empty)."""
    occurred_at: datetime = row.occurred_at
    return [
        row.id,
        occurred_at.astimezone(UTC).isoformat(),
        row.actor_id or "",
        row.actor_role,
        row.action,
        row.target_type,
        row.target_id,
        row.outcome,
        row.request_id or "",
        row.detail or "",
    ]


class AuditLogReader:
    """ListAuditEvents and ExportAuditEventsCsv: authorized before anything is read, every read
    under the caller's identity (row-level security lets only admins see audit rows)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def list_events(self, principal: Principal, where: AuditFilter, page_size: int, page_token: str) -> AuditPage:
        limit = page_size_of(page_size)
        authorize(principal, Action.READ_AUDIT_LOG, Facts())
        after = decode_page_token(page_token, where) if page_token else None
        async with transaction(self._sessions, principal) as session:
            rows = await _read(session, where, after, limit + 1)
            await _audit_read(session, principal, "list")
        page = tuple(rows[:limit])
        token = encode_page_token((page[-1].occurred_at, page[-1].event_id), where) if len(rows) > limit else ""
        return AuditPage(page, token)

    async def export_csv(self, principal: Principal, where: AuditFilter) -> AsyncIterator[bytes]:
        """UTF-8 CSV of every matching event, newest first, read in batches of EXPORT_BATCH, each
        in its own short transaction, so a million events need neither the memory nor a long one."""
        authorize(principal, Action.READ_AUDIT_LOG, Facts())

        async def rows() -> AsyncIterator[list[object]]:
            after: PageKey | None = None
            while True:
                async with transaction(self._sessions, principal) as session:
                    batch = (await session.execute(select_events(where, after, EXPORT_BATCH))).all()
                    if after is None:
                        # Audited after the first read, so an export never lists its own event.
                        await _audit_read(session, principal, "export_csv")
                for row in batch:
                    yield _csv_row(row)
                if len(batch) < EXPORT_BATCH:
                    return
                after = (batch[-1].occurred_at, batch[-1].id)

        async for chunk in csv_chunks(CSV_HEADER, rows()):
            yield chunk


async def _audit_read(session: AsyncSession, principal: Principal, how: str) -> None:
    await record_audit(
        session, principal, Action.READ_AUDIT_LOG.value, target_type="audit_log", target_id="*", detail=how
    )
