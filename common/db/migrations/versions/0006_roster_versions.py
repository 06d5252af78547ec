"""Roster versions: a number that changes in the same transaction as anything a participants view shows.

Revision ID: 0006_roster_versions

GetMeetingParticipants reads a meeting's segments and its class's students, hundreds of rows, many
times for each change. The attendance service keeps the last view it built and asks PostgreSQL, in
the statement that checks the caller's access, whether the rows behind it changed since. Triggers
keep one version per meeting (its `zoom_participants`) and one per class (its enrollments, its
students' names and emails, the class row itself), so every writer, in any process, with or
without the services' code, moves the version in its own transaction: a reader sees the new rows
and the new version together or neither.

Versions come from one sequence, so a value never repeats for a meeting, even after rows are
deleted. The upsert holds the version row until commit: writers of one meeting's segments queue on
it (they already touch the same rows), and the order of commits is the order of versions. The
tables hold only ids and counters, so they carry no row-level security; the services may only read
them, and the trigger functions (SECURITY DEFINER) write them.
"""

from __future__ import annotations

from alembic import op

revision = "0006_roster_versions"
down_revision = "0005_attendance"
branch_labels = None
depends_on = None

APP_ROLE = "rollcall_app"

# Keys are bumped in id order, so two statements touching the same keys lock them in one order.
# One function per kind of key: it reads the statement's transition tables (`old_rows`,
# `new_rows`, whichever the triggering event has) and gives each touched key a new version.
_FUNCTIONS = """
CREATE SEQUENCE roster_version_seq;
CREATE TABLE meeting_roster_versions (meeting_id bigint PRIMARY KEY, version bigint NOT NULL);
CREATE TABLE class_roster_versions (class_id uuid PRIMARY KEY, version bigint NOT NULL);

CREATE FUNCTION bump_meeting_rosters(meeting_ids bigint[]) RETURNS void LANGUAGE sql
SECURITY DEFINER SET search_path = public AS $$
    INSERT INTO meeting_roster_versions (meeting_id, version)
    SELECT id, nextval('roster_version_seq') FROM (SELECT DISTINCT unnest(meeting_ids) AS id) ids WHERE id IS NOT NULL ORDER BY id
    ON CONFLICT (meeting_id) DO UPDATE SET version = excluded.version
$$;
CREATE FUNCTION bump_class_rosters(class_ids uuid[]) RETURNS void LANGUAGE sql
SECURITY DEFINER SET search_path = public AS $$
    INSERT INTO class_roster_versions (class_id, version)
    SELECT id, nextval('roster_version_seq') FROM (SELECT DISTINCT unnest(class_ids) AS id) ids WHERE id IS NOT NULL ORDER BY id
    ON CONFLICT (class_id) DO UPDATE SET version = excluded.version
$$;

CREATE FUNCTION roster_changed_by_participants() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM bump_meeting_rosters(ARRAY(SELECT meeting_id FROM new_rows));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM bump_meeting_rosters(ARRAY(SELECT meeting_id FROM old_rows UNION SELECT meeting_id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM bump_meeting_rosters(ARRAY(SELECT meeting_id FROM old_rows));
    ELSE  -- TRUNCATE: every meeting may have lost rows
        UPDATE meeting_roster_versions SET version = nextval('roster_version_seq');
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION roster_changed_by_enrollments() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM bump_class_rosters(ARRAY(SELECT class_id FROM new_rows));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM bump_class_rosters(ARRAY(SELECT class_id FROM old_rows UNION SELECT class_id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM bump_class_rosters(ARRAY(SELECT class_id FROM old_rows));
    ELSE
        UPDATE class_roster_versions SET version = nextval('roster_version_seq');
    END IF;
    RETURN NULL;
END $$;

-- A student's name or email is part of every roster they are enrolled in.
CREATE FUNCTION roster_changed_by_users() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public AS $$
BEGIN
    PERFORM bump_class_rosters(ARRAY(
        SELECT e.class_id FROM new_rows n JOIN old_rows o ON o.id = n.id JOIN enrollments e ON e.student_id = n.id
         WHERE (n.display_name, n.email) IS DISTINCT FROM (o.display_name, o.email)));
    RETURN NULL;
END $$;

-- The class row decides who sees its students (its teacher): any change is a new version.
CREATE FUNCTION roster_changed_by_classes() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public AS $$
BEGIN
    PERFORM bump_class_rosters(ARRAY(SELECT id FROM new_rows));
    RETURN NULL;
END $$;
"""

# (trigger name, table, event, transition tables, function)
_TRIGGERS = (
    ("zoom_participants_roster_insert", "zoom_participants", "INSERT", "NEW TABLE AS new_rows", "participants"),
    (
        "zoom_participants_roster_update",
        "zoom_participants",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "participants",
    ),
    ("zoom_participants_roster_delete", "zoom_participants", "DELETE", "OLD TABLE AS old_rows", "participants"),
    ("zoom_participants_roster_truncate", "zoom_participants", "TRUNCATE", "", "participants"),
    ("enrollments_roster_insert", "enrollments", "INSERT", "NEW TABLE AS new_rows", "enrollments"),
    (
        "enrollments_roster_update",
        "enrollments",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "enrollments",
    ),
    ("enrollments_roster_delete", "enrollments", "DELETE", "OLD TABLE AS old_rows", "enrollments"),
    ("enrollments_roster_truncate", "enrollments", "TRUNCATE", "", "enrollments"),
    ("users_roster_update", "users", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows", "users"),
    ("classes_roster_update", "classes", "UPDATE", "NEW TABLE AS new_rows", "classes"),
)
_FUNCTION_NAMES = (
    "roster_changed_by_classes()",
    "roster_changed_by_users()",
    "roster_changed_by_enrollments()",
    "roster_changed_by_participants()",
    "bump_class_rosters(uuid[])",
    "bump_meeting_rosters(bigint[])",
)


def upgrade() -> None:
    op.execute(_FUNCTIONS)
    for name in _FUNCTION_NAMES:
        op.execute(f"REVOKE ALL ON FUNCTION {name} FROM PUBLIC")
    for name, table, event, transition, function in _TRIGGERS:
        referencing = f"REFERENCING {transition} " if transition else ""
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} {referencing}"
            f"FOR EACH STATEMENT EXECUTE FUNCTION roster_changed_by_{function}()"
        )
    # Rows written before this migration: give every existing key a version, so that a TRUNCATE
    # (which bumps existing versions) leaves no key at the implicit version 0 with rows gone.
    op.execute("SELECT bump_meeting_rosters(ARRAY(SELECT id FROM zoom_meetings))")
    op.execute("SELECT bump_class_rosters(ARRAY(SELECT id FROM classes))")
    op.execute(f"GRANT SELECT ON meeting_roster_versions, class_roster_versions TO {APP_ROLE}")


def downgrade() -> None:
    for name, table, *_ in _TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON {table}")
    for name in _FUNCTION_NAMES:
        op.execute(f"DROP FUNCTION {name}")
    op.execute("DROP TABLE class_roster_versions")
    op.execute("DROP TABLE meeting_roster_versions")
    op.execute("DROP SEQUENCE roster_version_seq")
