"""Alembic environment: synchronous psycopg 3 connection, one transaction per migration run."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from common.db.models import Base

_config = context.config
target_metadata = Base.metadata


def _run() -> None:
    url = _config.get_main_option("sqlalchemy.url")
    assert url is not None, "sqlalchemy.url is set by common.db.migrate"
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, transaction_per_migration=False)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


_run()
