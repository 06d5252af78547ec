"""The row-level security lookups in PL/pgSQL, whose plans each connection keeps.

Revision ID: 0008_policy_lookups_plpgsql

The policies of 0002 and 0005 call SECURITY DEFINER helpers (`app_teaches(class_id)`...). A
SECURITY DEFINER function is never inlined, and PostgreSQL before 18 parses, analyses and plans
the body of a SQL-language function anew in every statement that calls it: on PostgreSQL 15 that
was a third of the server's CPU for a participants read (one `app_teaches` call, about 0.18 ms).
PL/pgSQL plans its queries once per connection and reuses them. The rules are unchanged: each
body is the same expression, run with the same rights and search path.
"""

from __future__ import annotations

from alembic import op

revision = "0008_policy_lookups_plpgsql"
down_revision = "0007_webhook_event_retention"
branch_labels = None
depends_on = None

# (name and arguments, what it returns, its body: an expression, or a query for SETOF)
_LOOKUPS = (
    (
        "app_teaches(target uuid)",
        "boolean",
        "app_role() = 'teacher' AND EXISTS (SELECT 1 FROM classes WHERE id = target AND teacher_id = app_user_id())",
    ),
    (
        "app_enrolled(target uuid)",
        "boolean",
        "app_role() = 'student'"
        " AND EXISTS (SELECT 1 FROM enrollments WHERE class_id = target AND student_id = app_user_id())",
    ),
    (
        "app_teaches_student(target uuid)",
        "boolean",
        """app_role() = 'teacher' AND EXISTS (
        SELECT 1 FROM enrollments e JOIN classes c ON c.id = e.class_id
        WHERE e.student_id = target AND c.teacher_id = app_user_id())""",
    ),
    (
        "app_teaches_meeting(target bigint)",
        "boolean",
        """app_role() = 'teacher' AND EXISTS (
        SELECT 1 FROM zoom_meetings m JOIN classes c ON c.id = m.class_id
        WHERE m.id = target AND c.teacher_id = app_user_id())""",
    ),
    (
        "app_hosts(host text)",
        "boolean",
        "host IS NOT NULL AND EXISTS (SELECT 1 FROM users WHERE id = app_user_id() AND zoom_user_id = host)",
    ),
    (
        "app_hosts_meeting(target bigint)",
        "boolean",
        """EXISTS (SELECT 1 FROM zoom_meetings m JOIN users u ON u.zoom_user_id = m.host_id
                   WHERE m.id = target AND u.id = app_user_id())""",
    ),
    (
        "app_teaches_job(target uuid)",
        "boolean",
        """app_role() = 'teacher' AND EXISTS (
        SELECT 1 FROM registration_jobs j JOIN classes c ON c.id = j.class_id
        WHERE j.id = target AND c.teacher_id = app_user_id())""",
    ),
    (
        "app_read_meetings()",
        "SETOF bigint",
        """SELECT m.id FROM zoom_meetings m JOIN classes c ON c.id = m.class_id
     WHERE app_role() = 'teacher' AND c.teacher_id = app_user_id()
    UNION
    SELECT m.id FROM zoom_meetings m JOIN users u ON u.zoom_user_id = m.host_id WHERE u.id = app_user_id()""",
    ),
)


def _define(signature: str, returns: str, language: str, body: str) -> str:
    # OR REPLACE keeps the owner and the grants (EXECUTE to the services' role only).
    return (
        f"CREATE OR REPLACE FUNCTION {signature} RETURNS {returns} LANGUAGE {language} STABLE SECURITY DEFINER\n"
        f"SET search_path = public AS $$\n{body}\n$$"
    )


def upgrade() -> None:
    for signature, returns, body in _LOOKUPS:
        returned = f"RETURN QUERY {body};" if returns.startswith("SETOF") else f"RETURN {body};"
        op.execute(_define(signature, returns, "plpgsql", f"BEGIN\n    {returned}\nEND"))


def downgrade() -> None:
    for signature, returns, body in _LOOKUPS:
        op.execute(_define(signature, returns, "sql", body if returns.startswith("SETOF") else f"SELECT {body}"))
