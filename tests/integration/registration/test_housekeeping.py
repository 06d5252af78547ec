"""Housekeeping as the services' database role: idempotency keys past retention are dropped."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import psycopg

from common.db import create_engine, create_session_factory, libpq_url
from common.db.engine import app_url
from common.db.idempotency import Idempotency
from common.db.session import system_transaction
from registration_service.maintenance import Housekeeping


def test_housekeeping_drops_idempotency_keys_past_their_retention(database_url: str) -> None:
    old, fresh = f"old-{uuid.uuid4()}", f"fresh-{uuid.uuid4()}"
    with psycopg.connect(libpq_url(database_url), autocommit=True) as owner:
        for key, age in ((old, "30 hours"), (fresh, "1 hour")):
            owner.execute(
                "INSERT INTO idempotency_keys (principal_id, method, key, request_hash, created_at) "
                "VALUES ('p', 'm', %s, '\\x00', now() - %s::interval)",
                (key, age),
            )

    async def run() -> int:
        engine = create_engine(app_url(database_url), pool_size=1)
        try:
            sessions = create_session_factory(engine)
            return await Housekeeping(Idempotency(lambda: system_transaction(sessions)), timedelta(hours=24)).run_once()
        finally:
            await engine.dispose()

    assert asyncio.run(run()) >= 1
    with psycopg.connect(libpq_url(database_url)) as owner:
        kept = {row[0] for row in owner.execute("SELECT key FROM idempotency_keys WHERE key IN (%s, %s)", (old, fresh))}
    assert kept == {fresh}
