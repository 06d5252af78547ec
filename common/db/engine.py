"""Engines and sessions over psycopg 3: one place that turns a DATABASE_URL into a connection."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

__all__ = [
    "APP_ROLE",
    "PING_AFTER_IDLE_SECONDS",
    "SYSTEM_ROLE",
    "app_url",
    "create_engine",
    "create_session_factory",
    "create_system_engine",
    "libpq_url",
    "libpq_url_of",
    "sqlalchemy_url",
]

# The identity of the services' own background work in row-level security (migration 0002).
SYSTEM_ROLE = "system"
# The role the services connect as (created by migration 0003): no superuser, no BYPASSRLS.
APP_ROLE = "rollcall_app"
# A connection returned to the pool less than this long ago is not pinged again before use
# (HikariCP's aliveBypassWindowMs, 500 ms, is the same idea): under load every checkout would
# otherwise cost one more round trip than the work itself.
PING_AFTER_IDLE_SECONDS = 1.0
_IDLE_SINCE = "rollcall_idle_since"
_ACT_AS_SYSTEM = "SELECT set_config('app.role', 'system', false), set_config('app.user_id', '', false)"


def sqlalchemy_url(database_url: str) -> URL:
    """Accepts postgres://, postgresql:// or postgresql+psycopg:// and always uses psycopg 3."""
    url = make_url(database_url)
    if url.drivername in ("postgres", "postgresql", "postgresql+psycopg"):
        return url.set(drivername="postgresql+psycopg")
    raise ValueError(f"unsupported database URL scheme {url.drivername!r}: rollcall runs on PostgreSQL only")


def libpq_url(database_url: str) -> str:
    """The same URL in libpq's own form, for psycopg connections made without SQLAlchemy."""
    return sqlalchemy_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def libpq_url_of(engine: AsyncEngine) -> str:
    """The URL `engine` connects with, in libpq's form, for a connection of its own (LISTEN, pipelines)."""
    return libpq_url(engine.url.render_as_string(hide_password=False))


def app_url(owner_url: str) -> str:
    """The owner's URL with the user switched to the services' role and no password: right for
    trust or peer setups (embedded, tests); production sets ROLLCALL_APP_DATABASE_URL instead."""
    url = make_url(owner_url).set(username=APP_ROLE, password=None)
    return url.render_as_string(hide_password=False)


def create_engine(database_url: str, *, pool_size: int = 10, application_name: str = "rollcall") -> AsyncEngine:
    """An async engine of `pool_size` connections kept open plus as many more opened under load
    and closed when returned (ROLLCALL_DB_POOL_SIZE for the services). Pooled connections are
    checked before use when they sat idle for PING_AFTER_IDLE_SECONDS or more, so a database
    restarted meanwhile costs one failed check rather than a failed request."""
    engine = create_async_engine(
        sqlalchemy_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        # Most recently returned first: under light load the same few connections stay warm (no
        # ping, see below) and the rest sit idle, instead of every connection in turn going cold.
        pool_use_lifo=True,
        connect_args={"application_name": application_name, "connect_timeout": 10},
    )
    _ping_idle_connections(engine)
    return engine


def create_system_engine(database_url: str, *, pool_size: int, application_name: str) -> AsyncEngine:
    """An engine whose connections act as the service itself (`app.role` = 'system' for their
    whole session, set and committed as each connection opens), for background work that no
    caller waits on. A system transaction then needs no identity round trip, and a single
    statement can run in autocommit: one round trip in all. Never hand its sessions to work done
    for a caller: row-level security would let that caller see every row."""
    engine = create_engine(database_url, pool_size=pool_size, application_name=application_name)
    event.listen(engine.sync_engine, "connect", _act_as_system)
    return engine


def _act_as_system(dbapi_connection: Any, _record: Any) -> None:
    # Committed at once: a setting made in a transaction that later rolls back would be undone.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(_ACT_AS_SYSTEM)
    finally:
        cursor.close()
    dbapi_connection.commit()


def _ping_idle_connections(engine: AsyncEngine) -> None:
    """SQLAlchemy's `pool_pre_ping`, skipped for connections in use a moment ago (the custom
    pessimistic check of SQLAlchemy's "Dealing with Disconnects"): a failed ping raises
    DisconnectionError, and the pool replaces the connection and checks out again."""
    dialect = engine.dialect

    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        # `info` is emptied when a connection is replaced: a new connection was just checked.
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc

    event.listen(engine.sync_engine.pool, "checkin", checked_in)
    event.listen(engine.sync_engine.pool, "checkout", checked_out)


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
