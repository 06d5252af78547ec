"""Reading the audit log: admins only, checked before any session opens; keyset pages on
(occurred_at, id) with tokens tied to their filters; request filters validated field by field."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.protobuf import timestamp_pb2
from rollcall.audit.v1 import audit_service_pb2 as pb
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.engine import Dialect

from common.audit.log import AuditOutcome
from common.audit.queries import (
    AuditEventView,
    AuditFilter,
    AuditLogReader,
    decode_page_token,
    encode_page_token,
    page_size_of,
    select_events,
)
from common.errors import InvalidArgument, PermissionDenied
from common.security.principal import Principal
from registration_service.audit_servicer import event_message, filter_of

MOMENT = datetime(2026, 11, 25, 1, 2, 3, 456789, tzinfo=UTC)
EVENT_ID = uuid.UUID("8f0e4a47-3c3b-4c53-9d38-2f7a4b2e9d11")
WHERE = AuditFilter(action="attendance.read_participants")
POSTGRES: Dialect = PGDialect()  # type: ignore[no-untyped-call]


class _NoSessions:
    """A session factory that fails the test if anything opens a session."""

    opened = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.opened += 1
        raise AssertionError("a session was opened before authorization")


def _token(values: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def test_a_page_token_round_trips_its_key_to_the_microsecond() -> None:
    token = encode_page_token((MOMENT, EVENT_ID), WHERE)
    assert decode_page_token(token, WHERE) == (MOMENT, EVENT_ID)
    assert str(EVENT_ID) not in token
    assert "2026" not in token


def test_a_page_token_is_refused_with_other_filters() -> None:
    token = encode_page_token((MOMENT, EVENT_ID), WHERE)
    with pytest.raises(InvalidArgument) as refused:
        decode_page_token(token, AuditFilter(action="attendance.read_attendance"))
    assert [v.field for v in refused.value.violations] == ["page_token"]


def _fingerprint() -> str:
    return str(json.loads(base64.urlsafe_b64decode(encode_page_token((MOMENT, EVENT_ID), WHERE) + "==="))[3])


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "!!!!",
        "x" * 300,
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        _token({"a": 1}),
        _token(["a1", 1, EVENT_ID.hex]),
        _token(["a0", 1, EVENT_ID.hex, "fingerprint"]),
        _token(["a1", True, EVENT_ID.hex, _fingerprint()]),
        _token(["a1", "1", EVENT_ID.hex, _fingerprint()]),
        _token(["a1", 10**30, EVENT_ID.hex, _fingerprint()]),
        _token(["a1", 1, "not-a-uuid", _fingerprint()]),
        _token(["a1", 1, 7, _fingerprint()]),
        _token(["a1", 1.5, EVENT_ID.hex, _fingerprint()]),
    ],
)
def test_garbage_and_tampered_page_tokens_are_invalid_arguments(token: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        decode_page_token(token, WHERE)
    assert [v.field for v in refused.value.violations] == ["page_token"]


@pytest.mark.parametrize(("size", "limit"), [(0, 100), (1, 1), (1000, 1000)])
def test_page_sizes_default_to_100_and_stop_at_1000(size: int, limit: int) -> None:
    assert page_size_of(size) == limit


@pytest.mark.parametrize("size", [-1, 1001])
def test_page_sizes_out_of_range_are_invalid(size: int) -> None:
    with pytest.raises(InvalidArgument):
        page_size_of(size)


def test_the_query_orders_newest_first_with_the_id_breaking_ties_and_continues_after_the_key() -> None:
    statement = select_events(
        AuditFilter(actor_id=EVENT_ID, outcome=AuditOutcome.FAILURE, start_time=MOMENT), (MOMENT, EVENT_ID), 11
    )
    sql = " ".join(str(statement.compile(dialect=POSTGRES)).split())
    assert "ORDER BY audit_events.occurred_at DESC, audit_events.id DESC" in sql
    assert "(audit_events.occurred_at, audit_events.id) < (" in sql
    assert "audit_events.actor_id = " in sql
    assert "audit_events.outcome = " in sql
    assert "audit_events.occurred_at >= " in sql
    assert "LIMIT" in sql
    unfiltered = str(select_events(AuditFilter(), None, 5).compile(dialect=POSTGRES))
    assert "WHERE" not in unfiltered


PRINCIPALS = [
    Principal(uuid.uuid4(), "teacher"),
    Principal(uuid.uuid4(), "student"),
    Principal(uuid.uuid4(), "service", frozenset({"attendance.read", "classes.read", "zoom.webhooks", "audit.read"})),
    Principal(uuid.uuid4(), "service"),
]


@pytest.mark.parametrize("principal", PRINCIPALS, ids=lambda p: f"{p.role}{len(p.scopes)}")
async def test_only_admins_read_the_audit_log_and_others_are_refused_before_any_read(principal: Principal) -> None:
    sessions = _NoSessions()
    reader = AuditLogReader(sessions)  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied) as listing:
        await reader.list_events(principal, AuditFilter(), 10, "")
    with pytest.raises(PermissionDenied) as export:
        await anext(aiter(reader.export_csv(principal, AuditFilter())))
    # The garbage token is never looked at: the refusal is the same with or without one.
    with pytest.raises(PermissionDenied) as with_token:
        await reader.list_events(principal, AuditFilter(), 10, "garbage")
    assert listing.value.message == export.value.message == with_token.value.message
    assert sessions.opened == 0


# ---- the servicer's request conversion ---------------------------------------------------------


def _at(moment: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def test_request_filters_become_an_audit_filter() -> None:
    message = pb.AuditEventFilter(
        actor_id=str(EVENT_ID),
        action="attendance.export_csv",
        target_type="class",
        target_id="c-1",
        start_time=_at(MOMENT),
        end_time=_at(MOMENT + timedelta(days=1)),
        outcome=pb.AUDIT_OUTCOME_FAILURE,
    )
    assert filter_of(message) == AuditFilter(
        actor_id=EVENT_ID,
        action="attendance.export_csv",
        target_type="class",
        target_id="c-1",
        start_time=MOMENT,
        end_time=MOMENT + timedelta(days=1),
        outcome=AuditOutcome.FAILURE,
    )
    assert filter_of(pb.AuditEventFilter()) == AuditFilter()


def test_every_bad_filter_field_is_reported_at_once() -> None:
    message = pb.AuditEventFilter(
        actor_id="not-a-uuid",
        action="x" * 201,
        target_type="meeting\x00",
        start_time=_at(MOMENT),
        end_time=_at(MOMENT),
        outcome=7,  # type: ignore[arg-type]
    )
    with pytest.raises(InvalidArgument) as refused:
        filter_of(message)
    assert {v.field for v in refused.value.violations} == {
        "filter.actor_id",
        "filter.action",
        "filter.target_type",
        "filter.end_time",
        "filter.outcome",
    }


@pytest.mark.parametrize(
    "stamp",
    [
        timestamp_pb2.Timestamp(seconds=10**12),
        timestamp_pb2.Timestamp(seconds=-(10**12)),
        timestamp_pb2.Timestamp(nanos=-1),
    ],
)
def test_out_of_range_times_are_field_violations(stamp: timestamp_pb2.Timestamp) -> None:
    with pytest.raises(InvalidArgument) as refused:
        filter_of(pb.AuditEventFilter(start_time=stamp))
    assert [v.field for v in refused.value.violations] == ["filter.start_time"]


def test_an_event_becomes_its_message() -> None:
    event = AuditEventView(
        EVENT_ID, MOMENT, None, "system", "registration.cancel_job", "job", "j-1", AuditOutcome.SUCCESS, None, None
    )
    message = event_message(event)
    assert message.event_time.ToDatetime(tzinfo=UTC) == MOMENT
    assert (message.event_id, message.actor_id, message.outcome) == (str(EVENT_ID), "", pb.AUDIT_OUTCOME_SUCCESS)
    assert (message.request_id, message.detail) == ("", "")
