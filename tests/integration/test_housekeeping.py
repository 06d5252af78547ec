"""Housekeeping in the real processes, as the services' database role: on start (then hourly) the
registration service drops idempotency keys past their retention and the attendance service drops
webhook events past theirs (their payloads name participants); newer rows stay."""

from __future__ import annotations

import json
import uuid

import psycopg

from common.db import libpq_url
from tests.conftest import service_env
from tests.support.polling import eventually_sync
from tests.support.processes import free_port, start_python_module


def _kept(database_url: str, sql: str, keys: tuple[str, str]) -> set[str]:
    with psycopg.connect(libpq_url(database_url)) as owner:
        return {row[0] for row in owner.execute(sql, keys)}


def test_both_services_drop_rows_past_their_retention_and_keep_newer_ones(database_url: str) -> None:
    old_key, fresh_key = f"old-{uuid.uuid4()}", f"fresh-{uuid.uuid4()}"
    old_event, fresh_event = f"old-{uuid.uuid4()}", f"fresh-{uuid.uuid4()}"
    with psycopg.connect(libpq_url(database_url), autocommit=True) as owner:
        for key, age in ((old_key, "30 hours"), (fresh_key, "1 hour")):
            owner.execute(
                "INSERT INTO idempotency_keys (principal_id, method, key, request_hash, created_at) "
                "VALUES ('p', 'm', %s, '\\x00', now() - %s::interval)",
                (key, age),
            )
        for event_id, age in ((old_event, "4 hours"), (fresh_event, "1 hour")):
            owner.execute(
                "INSERT INTO webhook_events (id, event, meeting_id, event_ts, payload, received_at) "
                "VALUES (%s, 'meeting.participant_joined', 1, 0, %s, now() - %s::interval)",
                (event_id, json.dumps({"participant": {"user_name": "Ana"}}), age),
            )
    env = service_env(
        database_url,
        ROLLCALL_REGISTRATION_WORKERS="0",
        ROLLCALL_REGISTRATION_PORT=str(free_port()),
        ROLLCALL_ATTENDANCE_PORT=str(free_port()),
        ROLLCALL_IDEMPOTENCY_RETENTION_HOURS="24",
        ROLLCALL_WEBHOOK_RETENTION_HOURS="2",
    )
    processes = [
        start_python_module("registration-housekeeping", "registration_service", env),
        start_python_module("attendance-housekeeping", "attendance_service", env),
    ]
    keys_sql = "SELECT key FROM idempotency_keys WHERE key IN (%s, %s)"
    events_sql = "SELECT id FROM webhook_events WHERE id IN (%s, %s)"
    try:
        eventually_sync(lambda: _kept(database_url, keys_sql, (old_key, fresh_key)) == {fresh_key}, within=30)
        eventually_sync(lambda: _kept(database_url, events_sql, (old_event, fresh_event)) == {fresh_event}, within=30)
    finally:
        for process in processes:
            process.stop()
    for process in processes:
        assert "housekeeping." in process.log()
        assert "chore failed" not in process.log()
