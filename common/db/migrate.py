"""Runs alembic migrations from code (no alembic.ini): `rollcall migrate` and the test fixtures."""

from __future__ import annotations

from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from common.db.engine import APP_ROLE, libpq_url, sqlalchemy_url

__all__ = ["SchemaNotCurrent", "alembic_config", "check_schema", "head_revision", "migrate", "set_app_role_password"]

_MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    # '%' is alembic's interpolation character; passwords may contain it.
    rendered = sqlalchemy_url(database_url).render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def migrate(database_url: str, revision: str = "head") -> None:
    """Brings the schema to `revision`; run as the database owner, never as the services' role."""
    command.upgrade(alembic_config(database_url), revision)


class SchemaNotCurrent(RuntimeError):
    """The database is not at the migrations' head: the process must not start on it."""


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


async def check_schema(engine: AsyncEngine) -> None:
    """Refuses to start against a database that `rollcall migrate` has not brought up to date."""
    expected = head_revision()
    async with engine.connect() as connection:
        try:
            found = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        except ProgrammingError:
            found = None
    if found != expected:
        raise SchemaNotCurrent(
            f"database schema is at {found or 'nothing'}, expected {expected}: run `rollcall migrate`"
        )


def set_app_role_password(database_url: str, password: str) -> None:
    """Lets the services' role log in with a password (deployments without trust authentication)."""
    with psycopg.connect(libpq_url(database_url), autocommit=True) as connection:
        connection.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(APP_ROLE), sql.Literal(password)))
