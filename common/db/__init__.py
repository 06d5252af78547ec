"""Database access: models, engines, migrations and the embedded PostgreSQL for development."""

from common.db.engine import create_engine, create_session_factory, libpq_url, sqlalchemy_url
from common.db.migrate import migrate

__all__ = ["create_engine", "create_session_factory", "libpq_url", "migrate", "sqlalchemy_url"]
