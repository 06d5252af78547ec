"""Zoom rate budget shared by every replica: pacing slots per category and daily usage counters.

Revision ID: 0002_zoom_rate_budget

`zoom_rate_slots` holds, per (account, Zoom rate-limit category), the theoretical arrival time
(GCRA) of the next request; `zoom_daily_usage` counts uses of Zoom's daily limits per UTC day.
Subjects of daily counters (registrant e-mails, host ids) are stored as sha256 hashes only, so
neither table holds personal data; the services' role (made by 0002_row_level_security) may
read and write both.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_zoom_rate_budget"
down_revision = "0002_row_level_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "zoom_rate_slots",
        sa.Column("account_id", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("tat", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "category IN ('Light', 'Medium', 'Heavy', 'Resource-intensive')", name="ck_zoom_rate_slots_category"
        ),
        sa.PrimaryKeyConstraint("account_id", "category", name="pk_zoom_rate_slots"),
    )
    op.create_table(
        "zoom_daily_usage",
        sa.Column("account_id", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("subject_hash", sa.Text(), nullable=False),
        sa.Column("usage_day", sa.Date(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("daily_limit", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "scope IN ('account-heavy', 'registrant', 'host-meetings')", name="ck_zoom_daily_usage_scope"
        ),
        sa.CheckConstraint("used >= 0 AND daily_limit > 0", name="ck_zoom_daily_usage_counts"),
        # "" for the account-wide quota, else a hex sha256: never an e-mail in clear.
        sa.CheckConstraint("subject_hash ~ '^([0-9a-f]{64})?$'", name="ck_zoom_daily_usage_subject_hash"),
        sa.PrimaryKeyConstraint("account_id", "scope", "subject_hash", "usage_day", name="pk_zoom_daily_usage"),
    )
    # Old days are purged by usage_day.
    op.create_index("ix_zoom_daily_usage_usage_day", "zoom_daily_usage", ["usage_day"], unique=False)
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON zoom_rate_slots, zoom_daily_usage TO rollcall_app")


def downgrade() -> None:
    op.drop_index("ix_zoom_daily_usage_usage_day", table_name="zoom_daily_usage")
    op.drop_table("zoom_daily_usage")
    op.drop_table("zoom_rate_slots")
