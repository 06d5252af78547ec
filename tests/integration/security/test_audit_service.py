"""AuditService in the real registration process: keyset pages newest first, filters, validated
page tokens and filters, a formula-safe streamed CSV, and reads of the log audited themselves."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
import psycopg
import pytest
from google.protobuf import timestamp_pb2
from google.rpc import error_details_pb2, status_pb2
from rollcall.audit.v1 import audit_service_pb2 as pb
from rollcall.audit.v1 import audit_service_pb2_grpc as rpc

from common.db import libpq_url
from tests.conftest import ServiceStack
from tests.support.tokens import bearer

ADMIN = uuid.uuid4()
BASE = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "\n")


@pytest.fixture
async def audit(services: ServiceStack) -> AsyncIterator[rpc.AuditServiceAsyncStub]:
    async with grpc.aio.insecure_channel(services.registration_target) as channel:
        yield rpc.AuditServiceStub(channel)


def _insert(database_url: str, rows: list[tuple[object, ...]], *, at: datetime | None = None) -> None:
    """Events as the owner, all in one transaction: without `at` they share its now(), as the
    events of one request do."""
    with (
        psycopg.connect(libpq_url(database_url), autocommit=True) as owner,
        owner.transaction(),
        owner.cursor() as cursor,
    ):
        cursor.executemany(
            "INSERT INTO audit_events (id, occurred_at, actor_id, actor_role, action, target_type, target_id, "
            "outcome, request_id, detail) VALUES (gen_random_uuid(), coalesce(%s, now()), %s, %s, %s, %s, %s, "
            "%s, %s, %s)",
            [(at, *row) for row in rows],
        )


def _actor_events(
    actor: uuid.UUID,
    count: int,
    *,
    action: str = "attendance.read_participants",
    target_type: str = "meeting",
    outcome: str = "success",
) -> list[tuple[object, ...]]:
    return [(actor, "teacher", action, target_type, f"t-{i}", outcome, f"req-{i}", None) for i in range(count)]


def _stamp(moment: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


async def _all_pages(audit: rpc.AuditServiceAsyncStub, request: pb.ListAuditEventsRequest) -> list[pb.AuditEvent]:
    events: list[pb.AuditEvent] = []
    while True:
        reply = await audit.ListAuditEvents(request, metadata=bearer(ADMIN, "admin"), timeout=10)
        events.extend(reply.events)
        if not reply.next_page_token:
            return events
        request.page_token = reply.next_page_token


def _violations(error: grpc.aio.AioRpcError) -> set[str]:
    trailers = dict(error.trailing_metadata() or ())
    raw = trailers["grpc-status-details-bin"]
    assert isinstance(raw, bytes)
    status = status_pb2.Status.FromString(raw)
    fields = set()
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            fields |= {v.field for v in bad.field_violations}
    return fields


async def test_admins_page_through_events_newest_first_without_gaps_or_repeats(
    audit: rpc.AuditServiceAsyncStub, database_url: str
) -> None:
    actor = uuid.uuid4()
    _insert(database_url, _actor_events(actor, 23))  # 23 events with one occurred_at: the id breaks ties
    for hours in (1, 2, 3):
        _insert(database_url, _actor_events(actor, 1), at=BASE + timedelta(hours=hours))
    request = pb.ListAuditEventsRequest(filter=pb.AuditEventFilter(actor_id=str(actor)), page_size=4)
    events = await _all_pages(audit, request)
    assert len(events) == 26
    assert len({e.event_id for e in events}) == 26
    keys = [(e.event_time.ToDatetime(), uuid.UUID(e.event_id)) for e in events]
    assert keys == sorted(keys, reverse=True)
    assert {e.actor_role for e in events} == {"teacher"}
    assert events[-1].event_time.ToDatetime(tzinfo=UTC) == BASE + timedelta(hours=1)


async def test_filters_narrow_by_action_target_outcome_and_time(
    audit: rpc.AuditServiceAsyncStub, database_url: str
) -> None:
    actor = uuid.uuid4()
    _insert(database_url, _actor_events(actor, 3, action="attendance.export_csv", target_type="class"), at=BASE)
    _insert(database_url, _actor_events(actor, 2, outcome="failure"), at=BASE + timedelta(days=1))
    _insert(database_url, _actor_events(actor, 4), at=BASE + timedelta(days=2))

    async def count(**where: object) -> int:
        found = pb.AuditEventFilter(actor_id=str(actor), **where)  # type: ignore[arg-type]
        return len(await _all_pages(audit, pb.ListAuditEventsRequest(filter=found)))

    assert await count() == 9
    assert await count(action="attendance.export_csv") == 3
    assert await count(target_type="class", target_id="t-1") == 1
    assert await count(outcome=pb.AUDIT_OUTCOME_FAILURE) == 2
    assert await count(start_time=_stamp(BASE + timedelta(days=1))) == 6
    assert await count(end_time=_stamp(BASE + timedelta(days=1))) == 3  # end_time is exclusive
    window = {"start_time": _stamp(BASE + timedelta(hours=12)), "end_time": _stamp(BASE + timedelta(days=2))}
    assert await count(**window) == 2


async def test_garbage_and_foreign_page_tokens_are_invalid_arguments_naming_the_field(
    audit: rpc.AuditServiceAsyncStub, database_url: str
) -> None:
    actor = uuid.uuid4()
    _insert(database_url, _actor_events(actor, 3))
    first = await audit.ListAuditEvents(
        pb.ListAuditEventsRequest(filter=pb.AuditEventFilter(actor_id=str(actor)), page_size=1),
        metadata=bearer(ADMIN, "admin"),
    )
    assert first.next_page_token
    for token, where in (
        ("garbage", pb.AuditEventFilter(actor_id=str(actor))),
        (first.next_page_token[:-3] + "AAA", pb.AuditEventFilter(actor_id=str(actor))),
        (first.next_page_token, pb.AuditEventFilter(actor_id=str(uuid.uuid4()))),  # another listing's token
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await audit.ListAuditEvents(
                pb.ListAuditEventsRequest(filter=where, page_token=token), metadata=bearer(ADMIN, "admin")
            )
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert _violations(refused.value) == {"page_token"}


async def test_bad_filters_are_invalid_arguments_with_every_field_named(audit: rpc.AuditServiceAsyncStub) -> None:
    where = pb.AuditEventFilter(
        actor_id="someone",
        target_id="x" * 201,
        start_time=_stamp(BASE),
        end_time=_stamp(BASE - timedelta(days=1)),
        outcome=9,  # type: ignore[arg-type]
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await audit.ListAuditEvents(
            pb.ListAuditEventsRequest(filter=where, page_size=1001), metadata=bearer(ADMIN, "admin")
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {"filter.actor_id", "filter.target_id", "filter.end_time", "filter.outcome"} <= _violations(refused.value)
    with pytest.raises(grpc.aio.AioRpcError) as export_refused:
        async for _ in audit.ExportAuditEventsCsv(
            pb.ExportAuditEventsCsvRequest(filter=where), metadata=bearer(ADMIN, "admin")
        ):
            pass
    assert export_refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_the_csv_export_quotes_every_field_and_defuses_formulas(
    audit: rpc.AuditServiceAsyncStub, database_url: str
) -> None:
    actor = uuid.uuid4()
    hostile = ['=HYPERLINK("http://evil")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "\nx", "plain"]
    _insert(
        database_url,
        [(actor, "teacher", cell, "class", cell, "success", cell, cell) for cell in hostile],
    )
    chunks = [
        chunk
        async for chunk in audit.ExportAuditEventsCsv(
            pb.ExportAuditEventsCsvRequest(filter=pb.AuditEventFilter(actor_id=str(actor))),
            metadata=bearer(ADMIN, "admin"),
        )
    ]
    assert {c.content_type for c in chunks} == {"text/csv; charset=utf-8"}
    text = b"".join(c.data for c in chunks).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0][:3] == ["event_id", "event_time", "actor_id"]
    assert len(rows) == 1 + len(hostile)
    cells = [cell for row in rows[1:] for cell in row]
    assert not [cell for cell in cells if cell.startswith(DANGEROUS)]
    assert '\'=HYPERLINK("http://evil")' in {row[4] for row in rows[1:]}
    plain = [line for line in text.splitlines() if '"plain"' in line]
    assert len(plain) == 1
    assert re.fullmatch(r'"[^"]*"(,"[^"]*")*', plain[0])  # every field quoted, the empty ones too


async def test_reading_the_log_is_audited_as_the_admin_who_read(audit: rpc.AuditServiceAsyncStub) -> None:
    reader = uuid.uuid4()
    await audit.ListAuditEvents(pb.ListAuditEventsRequest(page_size=1), metadata=bearer(reader, "admin"))
    async for _ in audit.ExportAuditEventsCsv(
        pb.ExportAuditEventsCsvRequest(filter=pb.AuditEventFilter(actor_id=str(uuid.uuid4()))),
        metadata=bearer(reader, "admin"),
    ):
        pass
    reads = await audit.ListAuditEvents(
        pb.ListAuditEventsRequest(filter=pb.AuditEventFilter(actor_id=str(reader), action="audit.read")),
        metadata=bearer(ADMIN, "admin"),
    )
    assert sorted(e.detail for e in reads.events) == ["export_csv", "list"]
    assert {(e.actor_role, e.target_type) for e in reads.events} == {("admin", "audit_log")}
