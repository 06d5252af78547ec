"""`python -m tests.support.zoom_load EMULATOR_URL DATABASE_URL ACCOUNT CLIENT SECRET MEETING N`:
one process adding N registrants through the Zoom client with the PostgreSQL-shared budget, so a
test can run several such processes against one emulator and one account-wide budget."""

from __future__ import annotations

import asyncio
import secrets
import sys

from sqlalchemy.ext.asyncio import create_async_engine

from common.db import sqlalchemy_url
from common.zoom import PostgresRateBudget, ZoomClient, ZoomClientConfig, ZoomRegistrantInput


async def _run(
    root: str, database_url: str, account: str, client_id: str, secret: str, meeting: int, count: int
) -> None:
    engine = create_async_engine(sqlalchemy_url(database_url))
    config = ZoomClientConfig(
        account_id=account,
        client_id=client_id,
        client_secret=secret,
        api_base_url=f"{root}/v2",
        oauth_url=root,
        plan="pro",
        reserved_share=0.0,
        deadline_seconds=120,
    )
    tag = secrets.token_hex(3)
    async with ZoomClient(config, PostgresRateBudget(engine)) as client:
        await asyncio.gather(
            *(
                client.add_registrant(meeting, ZoomRegistrantInput(email=f"{tag}-{i}@x.example", first_name="S"))
                for i in range(count)
            )
        )
    await engine.dispose()


if __name__ == "__main__":
    root, database_url, account, client_id, secret, meeting, count = sys.argv[1:8]
    asyncio.run(_run(root, database_url, account, client_id, secret, int(meeting), int(count)))
