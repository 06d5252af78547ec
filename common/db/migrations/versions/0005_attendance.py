"""Meeting instances: when each occurrence ran, and its attendance sync's retries.

Revision ID: 0005_attendance

Zoom's participant report can lag a meeting's end by up to 30 minutes, so the sync after
`meeting.ended` is a durable row here (`sync_state = 'pending'`, `next_sync_at`) that any replica
may claim with `FOR UPDATE SKIP LOCKED`; a restart loses no sync. `start_time` of the latest
instance fixes the class date of a recurring meeting's occurrence. Row-level security follows
0002_row_level_security: the class's teacher and the meeting's host read; only the services'
own background work (`system`) and admins write.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_attendance"
down_revision = "0002_zoom_rate_budget"
branch_labels = None
depends_on = None

APP_ROLE = "rollcall_app"
_READ = "app_reads_all() OR app_teaches_meeting(meeting_id) OR app_hosts_meeting(meeting_id)"
_WRITE = "app_role() IN ('admin', 'system')"
# zoom_participants is read hundreds of rows at a time: its policy called two SECURITY DEFINER
# lookups per row (4 ms for 300 rows). The same rule as one set, computed once per query.
_MEETINGS_I_READ = """
CREATE FUNCTION app_read_meetings() RETURNS SETOF bigint LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public AS $$
    SELECT m.id FROM zoom_meetings m JOIN classes c ON c.id = m.class_id
     WHERE app_role() = 'teacher' AND c.teacher_id = app_user_id()
    UNION
    SELECT m.id FROM zoom_meetings m JOIN users u ON u.zoom_user_id = m.host_id WHERE u.id = app_user_id()
$$
"""
_PARTICIPANTS_READ = "app_reads_all() OR meeting_id IN (SELECT app_read_meetings())"
_PARTICIPANTS_READ_BEFORE = "app_reads_all() OR app_teaches_meeting(meeting_id) OR app_hosts_meeting(meeting_id)"


def upgrade() -> None:
    op.create_table(
        "meeting_instances",
        sa.Column("meeting_uuid", sa.Text(), nullable=False),
        sa.Column("meeting_id", sa.BigInteger(), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sync_state", sa.Text(), server_default="idle", nullable=False),
        sa.Column("sync_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("report_row_count", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "sync_state IN ('idle', 'pending', 'done', 'gave_up')", name=op.f("ck_meeting_instances_sync_state")
        ),
        sa.CheckConstraint("sync_attempts >= 0", name=op.f("ck_meeting_instances_sync_attempts")),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["zoom_meetings.id"], name=op.f("fk_meeting_instances_meeting_id_zoom_meetings")
        ),
        sa.PrimaryKeyConstraint("meeting_uuid", name=op.f("pk_meeting_instances")),
    )
    op.create_index(
        "ix_meeting_instances_meeting_id_start_time", "meeting_instances", ["meeting_id", "start_time"], unique=False
    )
    op.create_index(
        "ix_meeting_instances_due",
        "meeting_instances",
        ["next_sync_at"],
        unique=False,
        postgresql_where=sa.text("sync_state = 'pending'"),
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON meeting_instances TO {APP_ROLE}")
    op.execute("ALTER TABLE meeting_instances ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE meeting_instances FORCE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY owner_all ON meeting_instances TO CURRENT_USER USING (true) WITH CHECK (true)")
    op.execute(f"CREATE POLICY app_read ON meeting_instances FOR SELECT TO {APP_ROLE} USING ({_READ})")
    op.execute(f"CREATE POLICY app_insert ON meeting_instances FOR INSERT TO {APP_ROLE} WITH CHECK ({_WRITE})")
    op.execute(
        f"CREATE POLICY app_update ON meeting_instances FOR UPDATE TO {APP_ROLE} USING ({_WRITE}) WITH CHECK ({_WRITE})"
    )
    op.execute(f"CREATE POLICY app_delete ON meeting_instances FOR DELETE TO {APP_ROLE} USING ({_WRITE})")
    op.execute(_MEETINGS_I_READ)
    op.execute("REVOKE ALL ON FUNCTION app_read_meetings() FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION app_read_meetings() TO {APP_ROLE}")
    op.execute("DROP POLICY app_read ON zoom_participants")
    op.execute(f"CREATE POLICY app_read ON zoom_participants FOR SELECT TO {APP_ROLE} USING ({_PARTICIPANTS_READ})")


def downgrade() -> None:
    op.execute("DROP POLICY app_read ON zoom_participants")
    op.execute(
        f"CREATE POLICY app_read ON zoom_participants FOR SELECT TO {APP_ROLE} USING ({_PARTICIPANTS_READ_BEFORE})"
    )
    op.execute("DROP FUNCTION app_read_meetings()")
    op.drop_index(
        "ix_meeting_instances_due", table_name="meeting_instances", postgresql_where=sa.text("sync_state = 'pending'")
    )
    op.drop_index("ix_meeting_instances_meeting_id_start_time", table_name="meeting_instances")
    op.drop_table("meeting_instances")
