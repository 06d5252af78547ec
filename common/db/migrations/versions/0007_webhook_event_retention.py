"""Webhook events are dropped after their retention: an index on when each arrived.

Revision ID: 0007_webhook_event_retention

The attendance service deletes events older than ROLLCALL_WEBHOOK_RETENTION_HOURS every hour; at a
region's volume (every join and leave of every class) the table holds millions of rows, so the
delete needs to find the old ones without reading the rest.
"""

from __future__ import annotations

from alembic import op

revision = "0007_webhook_event_retention"
down_revision = "0006_roster_versions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_webhook_events_received_at", "webhook_events", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_events_received_at", table_name="webhook_events")
