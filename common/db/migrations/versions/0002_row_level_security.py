"""The services' role and row-level security on every table holding school data.

The services connect as `rollcall_app`: it owns nothing, is no superuser and has no BYPASSRLS.
Each transaction states the caller with `set_config('app.user_id' | 'app.role', ..., true)`; with
nothing set, the policies give no rows. RLS is also forced, so the owner is under policies too (a
permissive owner policy lets migrations and the helper functions below see everything).

Revision ID: 0002_row_level_security
"""

from __future__ import annotations

from alembic import op

revision = "0002_row_level_security"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

APP_ROLE = "rollcall_app"

# Tables with school data, and the SQL expression (for rollcall_app) that admits a row.
# `system` is the services' own background work (registration workers, syncs after webhooks).
_CLASS_STAFF = "app_reads_all() OR app_teaches({class_col})"
_POLICIES: dict[str, tuple[str, str]] = {
    # table: (who may read, who may write)
    "users": (
        "app_reads_all() OR id = app_user_id() OR app_teaches_student(id)",
        "app_role() IN ('admin', 'system')",
    ),
    "classes": (
        "app_reads_all() OR teacher_id = app_user_id() OR app_enrolled(id)",
        "app_role() IN ('admin', 'system')",
    ),
    "enrollments": (
        "app_reads_all() OR app_teaches(class_id) OR student_id = app_user_id()",
        "app_role() IN ('admin', 'system')",
    ),
    "zoom_meetings": (
        "app_reads_all() OR app_teaches(class_id) OR app_enrolled(class_id) OR app_hosts(host_id)",
        "app_role() IN ('admin', 'system') OR app_teaches(class_id)",
    ),
    "meeting_registrants": (
        "app_reads_all() OR app_teaches_meeting(meeting_id) OR student_id = app_user_id()",
        "app_role() IN ('admin', 'system') OR app_teaches_meeting(meeting_id)",
    ),
    "zoom_participants": (
        "app_reads_all() OR app_teaches_meeting(meeting_id) OR app_hosts_meeting(meeting_id)",
        "app_role() IN ('admin', 'system')",
    ),
    "attendance_records": (
        "app_reads_all() OR app_teaches(class_id) OR student_id = app_user_id()",
        "app_role() IN ('admin', 'system') OR app_teaches(class_id)",
    ),
    "qr_checkins": (
        "app_reads_all() OR app_teaches(class_id) OR student_id = app_user_id()",
        "app_role() IN ('admin', 'system') OR student_id = app_user_id()",
    ),
    "registration_jobs": (
        "app_role() IN ('admin', 'system') OR app_teaches(class_id)",
        "app_role() IN ('admin', 'system')",
    ),
    "registration_job_items": (
        "app_role() IN ('admin', 'system') OR app_teaches_job(job_id)",
        "app_role() IN ('admin', 'system')",
    ),
    "webhook_events": ("app_role() IN ('admin', 'system')", "app_role() IN ('system')"),
}
_APPEND_ONLY = "audit_events"
_NO_SCHOOL_DATA = ("idempotency_keys",)

_FUNCTIONS = """
CREATE FUNCTION app_user_id() RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN current_setting('app.user_id', true) ~ '^[0-9a-f-]{36}$'
                THEN current_setting('app.user_id', true)::uuid END
$$;
CREATE FUNCTION app_role() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('app.role', true), ''), 'none')
$$;
CREATE FUNCTION app_reads_all() RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT app_role() IN ('admin', 'system', 'service')
$$;
-- The lookups below read tables under RLS, so they run as their owner (SECURITY DEFINER) to
-- avoid policies recursing into each other; they answer only yes or no about the caller.
CREATE FUNCTION app_teaches(target uuid) RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public AS $$
    SELECT app_role() = 'teacher' AND EXISTS (SELECT 1 FROM classes WHERE id = target AND teacher_id = app_user_id())
$$;
CREATE FUNCTION app_enrolled(target uuid) RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public AS $$
    SELECT app_role() = 'student'
       AND EXISTS (SELECT 1 FROM enrollments WHERE class_id = target AND student_id = app_user_id())
$$;
CREATE FUNCTION app_teaches_student(target uuid) RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public AS $$
    SELECT app_role() = 'teacher' AND EXISTS (
        SELECT 1 FROM enrollments e JOIN classes c ON c.id = e.class_id
        WHERE e.student_id = target AND c.teacher_id = app_user_id())
$$;
CREATE FUNCTION app_teaches_meeting(target bigint) RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public AS $$
    SELECT app_role() = 'teacher' AND EXISTS (
        SELECT 1 FROM zoom_meetings m JOIN classes c ON c.id = m.class_id
        WHERE m.id = target AND c.teacher_id = app_user_id())
$$;
CREATE FUNCTION app_hosts(host text) RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public AS $$
    SELECT host IS NOT NULL AND EXISTS (SELECT 1 FROM users WHERE id = app_user_id() AND zoom_user_id = host)
$$;
CREATE FUNCTION app_hosts_meeting(target bigint) RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public AS $$
    SELECT EXISTS (SELECT 1 FROM zoom_meetings m JOIN users u ON u.zoom_user_id = m.host_id
                   WHERE m.id = target AND u.id = app_user_id())
$$;
CREATE FUNCTION app_teaches_job(target uuid) RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public AS $$
    SELECT app_role() = 'teacher' AND EXISTS (
        SELECT 1 FROM registration_jobs j JOIN classes c ON c.id = j.class_id
        WHERE j.id = target AND c.teacher_id = app_user_id())
$$;
"""
_FUNCTION_NAMES = (
    "app_teaches_job(uuid)",
    "app_hosts_meeting(bigint)",
    "app_hosts(text)",
    "app_teaches_meeting(bigint)",
    "app_teaches_student(uuid)",
    "app_enrolled(uuid)",
    "app_teaches(uuid)",
    "app_reads_all()",
    "app_role()",
    "app_user_id()",
)


def upgrade() -> None:
    # Roles belong to the whole server: another database on it may have made this one already.
    op.execute(
        f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
            END IF;
        END $$;
        """
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
    op.execute(_FUNCTIONS)
    for name in _FUNCTION_NAMES:
        op.execute(f"REVOKE ALL ON FUNCTION {name} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {name} TO {APP_ROLE}")
    for table, (read, write) in _POLICIES.items():
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE}")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY owner_all ON {table} TO CURRENT_USER USING (true) WITH CHECK (true)")
        op.execute(f"CREATE POLICY app_read ON {table} FOR SELECT TO {APP_ROLE} USING ({read})")
        op.execute(f"CREATE POLICY app_insert ON {table} FOR INSERT TO {APP_ROLE} WITH CHECK ({write})")
        op.execute(f"CREATE POLICY app_update ON {table} FOR UPDATE TO {APP_ROLE} USING ({write}) WITH CHECK ({write})")
        op.execute(f"CREATE POLICY app_delete ON {table} FOR DELETE TO {APP_ROLE} USING ({write})")
    # The audit log: anyone with an identity may append; only admins (and the system) read.
    op.execute(f"GRANT SELECT, INSERT ON {_APPEND_ONLY} TO {APP_ROLE}")
    op.execute(f"ALTER TABLE {_APPEND_ONLY} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {_APPEND_ONLY} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY owner_all ON {_APPEND_ONLY} TO CURRENT_USER USING (true) WITH CHECK (true)")
    op.execute(
        f"CREATE POLICY app_read ON {_APPEND_ONLY} FOR SELECT TO {APP_ROLE} USING (app_role() IN ('admin', 'system'))"
    )
    op.execute(f"CREATE POLICY app_insert ON {_APPEND_ONLY} FOR INSERT TO {APP_ROLE} WITH CHECK (app_role() <> 'none')")
    for table in _NO_SCHOOL_DATA:
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")
    # Services check at start that the schema is current.
    op.execute(f"GRANT SELECT ON alembic_version TO {APP_ROLE}")


def downgrade() -> None:
    for table in (*_POLICIES, _APPEND_ONLY):
        for policy in ("owner_all", "app_read", "app_insert", "app_update", "app_delete"):
            op.execute(f"DROP POLICY IF EXISTS {policy} ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_ROLE}")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {APP_ROLE}")
    for name in _FUNCTION_NAMES:
        op.execute(f"DROP FUNCTION {name}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {APP_ROLE}")
