"""Initial schema: school, Zoom meetings and registrants, participants, attendance, audit, jobs.

Revision ID: 0001_initial
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("actor_id", sa.UUID(), nullable=True),
        sa.Column("actor_role", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("target_type", sa.Text(), nullable=False),
        sa.Column("target_id", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.CheckConstraint("outcome IN ('success', 'failure')", name=op.f("ck_audit_events_outcome")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index("ix_audit_events_actor_id_occurred_at", "audit_events", ["actor_id", "occurred_at"], unique=False)
    op.create_index("ix_audit_events_occurred_at_id", "audit_events", ["occurred_at", "id"], unique=False)
    op.create_index("ix_audit_events_target_type_target_id", "audit_events", ["target_type", "target_id"], unique=False)
    op.create_table(
        "idempotency_keys",
        sa.Column("principal_id", sa.Text(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.LargeBinary(), nullable=False),
        sa.Column("response", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("principal_id", "method", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"], unique=False)
    op.create_table(
        "users",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("zoom_user_id", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("role IN ('admin', 'teacher', 'student', 'service')", name=op.f("ck_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_index("ix_users_role", "users", ["role"], unique=False)
    op.create_index("uq_users_lower_email", "users", [sa.literal_column("lower(email)")], unique=True)
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("meeting_id", sa.BigInteger(), nullable=True),
        sa.Column("event_ts", sa.BigInteger(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
    )
    op.create_index(
        "ix_webhook_events_meeting_id_received_at", "webhook_events", ["meeting_id", "received_at"], unique=False
    )
    op.create_table(
        "classes",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("section", sa.Text(), nullable=False),
        sa.Column("school_year", sa.Text(), nullable=False),
        sa.Column("timezone", sa.Text(), server_default="Asia/Manila", nullable=False),
        sa.Column("teacher_id", sa.UUID(), nullable=False),
        sa.Column("late_after_minutes", sa.Integer(), server_default="10", nullable=False),
        sa.Column("present_min_percent", sa.Integer(), server_default="80", nullable=False),
        sa.Column("ghost_join_seconds", sa.Integer(), server_default="60", nullable=False),
        sa.Column("early_leave_minutes", sa.Integer(), server_default="10", nullable=False),
        sa.Column("qr_ip_limit", sa.Integer(), server_default="5", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("early_leave_minutes BETWEEN 0 AND 240", name=op.f("ck_classes_early_leave_minutes")),
        sa.CheckConstraint("ghost_join_seconds BETWEEN 0 AND 3600", name=op.f("ck_classes_ghost_join_seconds")),
        sa.CheckConstraint("late_after_minutes BETWEEN 0 AND 240", name=op.f("ck_classes_late_after_minutes")),
        sa.CheckConstraint("present_min_percent BETWEEN 1 AND 100", name=op.f("ck_classes_present_min_percent")),
        sa.CheckConstraint("qr_ip_limit BETWEEN 1 AND 1000", name=op.f("ck_classes_qr_ip_limit")),
        sa.ForeignKeyConstraint(["teacher_id"], ["users.id"], name=op.f("fk_classes_teacher_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_classes")),
        sa.UniqueConstraint("school_year", "name", "section", name=op.f("uq_classes_school_year_name_section")),
    )
    op.create_index("ix_classes_teacher_id", "classes", ["teacher_id"], unique=False)
    op.create_table(
        "enrollments",
        sa.Column("class_id", sa.UUID(), nullable=False),
        sa.Column("student_id", sa.UUID(), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["class_id"], ["classes.id"], name=op.f("fk_enrollments_class_id_classes"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["student_id"], ["users.id"], name=op.f("fk_enrollments_student_id_users")),
        sa.PrimaryKeyConstraint("class_id", "student_id", name=op.f("pk_enrollments")),
    )
    op.create_index("ix_enrollments_student_id", "enrollments", ["student_id"], unique=False)
    op.create_table(
        "registration_jobs",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("class_id", sa.UUID(), nullable=False),
        sa.Column("state", sa.Text(), server_default="queued", nullable=False),
        sa.Column("meeting_ids", postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resume_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'completed', 'cancelled', 'waiting_for_quota')",
            name=op.f("ck_registration_jobs_state"),
        ),
        sa.ForeignKeyConstraint(["class_id"], ["classes.id"], name=op.f("fk_registration_jobs_class_id_classes")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_registration_jobs_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_jobs")),
    )
    op.create_index(
        "ix_registration_jobs_class_id_created_at", "registration_jobs", ["class_id", "created_at"], unique=False
    )
    op.create_index(
        "ix_registration_jobs_state",
        "registration_jobs",
        ["state"],
        unique=False,
        postgresql_where=sa.text("state IN ('queued', 'running')"),
    )
    op.create_table(
        "zoom_meetings",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("uuid", sa.Text(), nullable=True),
        sa.Column("class_id", sa.UUID(), nullable=True),
        sa.Column("host_id", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("meeting_type", sa.SmallInteger(), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.Text(), server_default="Asia/Manila", nullable=False),
        sa.Column("approval_type", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.Text(), server_default="scheduled", nullable=False),
        sa.Column("join_url", sa.Text(), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('scheduled', 'started', 'ended')", name=op.f("ck_zoom_meetings_status")),
        sa.CheckConstraint("approval_type IN (0, 1, 2)", name=op.f("ck_zoom_meetings_approval_type")),
        sa.CheckConstraint("duration_minutes BETWEEN 0 AND 1440", name=op.f("ck_zoom_meetings_duration_minutes")),
        sa.CheckConstraint("meeting_type IN (1, 2, 3, 8)", name=op.f("ck_zoom_meetings_meeting_type")),
        sa.ForeignKeyConstraint(["class_id"], ["classes.id"], name=op.f("fk_zoom_meetings_class_id_classes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zoom_meetings")),
    )
    op.create_index("ix_zoom_meetings_class_id_start_time", "zoom_meetings", ["class_id", "start_time"], unique=False)
    op.create_index("ix_zoom_meetings_uuid", "zoom_meetings", ["uuid"], unique=False)
    op.create_table(
        "attendance_records",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("class_id", sa.UUID(), nullable=False),
        sa.Column("student_id", sa.UUID(), nullable=False),
        sa.Column("attendance_date", sa.Date(), nullable=False),
        sa.Column("meeting_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attended_seconds", sa.Integer(), server_default="0", nullable=False),
        sa.Column("first_join_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_leave_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("left_early", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("updated_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("source IN ('zoom', 'qr', 'manual')", name=op.f("ck_attendance_records_source")),
        sa.CheckConstraint(
            "status IN ('present', 'late', 'partial', 'absent', 'excused')", name=op.f("ck_attendance_records_status")
        ),
        sa.CheckConstraint("attended_seconds >= 0", name=op.f("ck_attendance_records_attended_seconds")),
        sa.ForeignKeyConstraint(["class_id"], ["classes.id"], name=op.f("fk_attendance_records_class_id_classes")),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["zoom_meetings.id"], name=op.f("fk_attendance_records_meeting_id_zoom_meetings")
        ),
        sa.ForeignKeyConstraint(["student_id"], ["users.id"], name=op.f("fk_attendance_records_student_id_users")),
        sa.ForeignKeyConstraint(["updated_by"], ["users.id"], name=op.f("fk_attendance_records_updated_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance_records")),
        sa.UniqueConstraint(
            "class_id",
            "student_id",
            "attendance_date",
            name=op.f("uq_attendance_records_class_id_student_id_attendance_date"),
        ),
    )
    op.create_index(
        "ix_attendance_records_attendance_date_class_id",
        "attendance_records",
        ["attendance_date", "class_id", "student_id"],
        unique=False,
    )
    op.create_index("ix_attendance_records_meeting_id", "attendance_records", ["meeting_id"], unique=False)
    op.create_index(
        "ix_attendance_records_student_id_attendance_date",
        "attendance_records",
        ["student_id", "attendance_date"],
        unique=False,
    )
    op.create_table(
        "meeting_registrants",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("meeting_id", sa.BigInteger(), nullable=False),
        sa.Column("student_id", sa.UUID(), nullable=False),
        sa.Column("zoom_registrant_id", sa.Text(), nullable=False),
        sa.Column("join_url", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('approved', 'pending', 'cancelled', 'denied')", name=op.f("ck_meeting_registrants_status")
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["zoom_meetings.id"], name=op.f("fk_meeting_registrants_meeting_id_zoom_meetings")
        ),
        sa.ForeignKeyConstraint(["student_id"], ["users.id"], name=op.f("fk_meeting_registrants_student_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_registrants")),
        sa.UniqueConstraint("meeting_id", "student_id", name=op.f("uq_meeting_registrants_meeting_id_student_id")),
    )
    op.create_index("ix_meeting_registrants_student_id", "meeting_registrants", ["student_id"], unique=False)
    op.create_index(
        "ix_meeting_registrants_zoom_registrant_id", "meeting_registrants", ["zoom_registrant_id"], unique=False
    )
    op.create_table(
        "qr_checkins",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("class_id", sa.UUID(), nullable=False),
        sa.Column("student_id", sa.UUID(), nullable=False),
        sa.Column("attendance_date", sa.Date(), nullable=False),
        sa.Column("meeting_id", sa.BigInteger(), nullable=True),
        sa.Column("code_id", sa.Text(), nullable=False),
        sa.Column("ip_hash", sa.LargeBinary(), nullable=False),
        sa.Column("ip_key_id", sa.Text(), nullable=False),
        sa.Column("flagged", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["class_id"], ["classes.id"], name=op.f("fk_qr_checkins_class_id_classes")),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["zoom_meetings.id"], name=op.f("fk_qr_checkins_meeting_id_zoom_meetings")
        ),
        sa.ForeignKeyConstraint(["student_id"], ["users.id"], name=op.f("fk_qr_checkins_student_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qr_checkins")),
        sa.UniqueConstraint(
            "class_id", "student_id", "attendance_date", name=op.f("uq_qr_checkins_class_id_student_id_attendance_date")
        ),
    )
    op.create_index(
        "ix_qr_checkins_class_id_attendance_date_ip_hash",
        "qr_checkins",
        ["class_id", "attendance_date", "ip_hash"],
        unique=False,
    )
    op.create_table(
        "registration_job_items",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.UUID(), nullable=False),
        sa.Column("meeting_id", sa.BigInteger(), nullable=False),
        sa.Column("student_id", sa.UUID(), nullable=False),
        sa.Column("state", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("lease_owner", sa.Text(), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("zoom_error_code", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "state IN ('pending', 'in_progress', 'registered', 'already_registered', 'not_eligible', 'failed', 'cancelled')",
            name=op.f("ck_registration_job_items_state"),
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["registration_jobs.id"],
            name=op.f("fk_registration_job_items_job_id_registration_jobs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["zoom_meetings.id"], name=op.f("fk_registration_job_items_meeting_id_zoom_meetings")
        ),
        sa.ForeignKeyConstraint(["student_id"], ["users.id"], name=op.f("fk_registration_job_items_student_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_job_items")),
        sa.UniqueConstraint(
            "job_id", "meeting_id", "student_id", name=op.f("uq_registration_job_items_job_id_meeting_id_student_id")
        ),
    )
    op.create_index(
        "ix_registration_job_items_claimable",
        "registration_job_items",
        ["state", "lease_expires_at", "id"],
        unique=False,
        postgresql_where=sa.text("state IN ('pending', 'in_progress')"),
    )
    op.create_index(
        "ix_registration_job_items_job_id_state", "registration_job_items", ["job_id", "state"], unique=False
    )
    op.create_table(
        "zoom_participants",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("meeting_id", sa.BigInteger(), nullable=False),
        sa.Column("meeting_uuid", sa.Text(), nullable=False),
        sa.Column("zoom_user_id", sa.Text(), nullable=False),
        sa.Column("zoom_participant_id", sa.Text(), nullable=True),
        sa.Column("participant_user_id", sa.Text(), nullable=True),
        sa.Column("registrant_id", sa.Text(), nullable=True),
        sa.Column("customer_key", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("join_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("leave_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("student_id", sa.UUID(), nullable=True),
        sa.Column("match_method", sa.Text(), server_default="unmatched", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "match_method IN ('registrant_id', 'email', 'name', 'unmatched')",
            name=op.f("ck_zoom_participants_match_method"),
        ),
        sa.CheckConstraint("source IN ('report', 'webhook')", name=op.f("ck_zoom_participants_source")),
        sa.CheckConstraint(
            "leave_time IS NULL OR leave_time >= join_time", name=op.f("ck_zoom_participants_leave_after_join")
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["zoom_meetings.id"], name=op.f("fk_zoom_participants_meeting_id_zoom_meetings")
        ),
        sa.ForeignKeyConstraint(["student_id"], ["users.id"], name=op.f("fk_zoom_participants_student_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zoom_participants")),
        sa.UniqueConstraint(
            "meeting_uuid",
            "zoom_user_id",
            "join_time",
            name=op.f("uq_zoom_participants_meeting_uuid_zoom_user_id_join_time"),
        ),
    )
    op.create_index(
        "ix_zoom_participants_meeting_id_join_time", "zoom_participants", ["meeting_id", "join_time"], unique=False
    )
    op.create_index("ix_zoom_participants_student_id", "zoom_participants", ["student_id"], unique=False)

    # The audit log is append-only: even the table owner's UPDATE and DELETE are refused.
    op.execute(
        """
        CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_events is append-only' USING ERRCODE = 'insufficient_privilege';
        END $$;
        """
    )
    op.execute(
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
    op.execute("DROP FUNCTION audit_events_append_only()")
    op.drop_index("ix_zoom_participants_student_id", table_name="zoom_participants")
    op.drop_index("ix_zoom_participants_meeting_id_join_time", table_name="zoom_participants")
    op.drop_table("zoom_participants")
    op.drop_index("ix_registration_job_items_job_id_state", table_name="registration_job_items")
    op.drop_index(
        "ix_registration_job_items_claimable",
        table_name="registration_job_items",
        postgresql_where=sa.text("state IN ('pending', 'in_progress')"),
    )
    op.drop_table("registration_job_items")
    op.drop_index("ix_qr_checkins_class_id_attendance_date_ip_hash", table_name="qr_checkins")
    op.drop_table("qr_checkins")
    op.drop_index("ix_meeting_registrants_zoom_registrant_id", table_name="meeting_registrants")
    op.drop_index("ix_meeting_registrants_student_id", table_name="meeting_registrants")
    op.drop_table("meeting_registrants")
    op.drop_index("ix_attendance_records_student_id_attendance_date", table_name="attendance_records")
    op.drop_index("ix_attendance_records_meeting_id", table_name="attendance_records")
    op.drop_index("ix_attendance_records_attendance_date_class_id", table_name="attendance_records")
    op.drop_table("attendance_records")
    op.drop_index("ix_zoom_meetings_uuid", table_name="zoom_meetings")
    op.drop_index("ix_zoom_meetings_class_id_start_time", table_name="zoom_meetings")
    op.drop_table("zoom_meetings")
    op.drop_index(
        "ix_registration_jobs_state",
        table_name="registration_jobs",
        postgresql_where=sa.text("state IN ('queued', 'running')"),
    )
    op.drop_index("ix_registration_jobs_class_id_created_at", table_name="registration_jobs")
    op.drop_table("registration_jobs")
    op.drop_index("ix_enrollments_student_id", table_name="enrollments")
    op.drop_table("enrollments")
    op.drop_index("ix_classes_teacher_id", table_name="classes")
    op.drop_table("classes")
    op.drop_index("ix_webhook_events_meeting_id_received_at", table_name="webhook_events")
    op.drop_table("webhook_events")
    op.drop_index("uq_users_lower_email", table_name="users")
    op.drop_index("ix_users_role", table_name="users")
    op.drop_table("users")
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_index("ix_audit_events_target_type_target_id", table_name="audit_events")
    op.drop_index("ix_audit_events_occurred_at_id", table_name="audit_events")
    op.drop_index("ix_audit_events_actor_id_occurred_at", table_name="audit_events")
    op.drop_table("audit_events")
