"""Typed SQLAlchemy models of rollcall's data; the schema itself is owned by alembic migrations.

Repositories turn these rows into domain values; nothing outside `common.db` and the services'
repository modules sees them. Constraints live in the database so that no code path can store a
duplicate registrant or an impossible status.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# ZoomMeeting has a column named `uuid`, which hides the module inside its class body.
UUIDValue = uuid.UUID

__all__ = [
    "AttendanceRecord",
    "AuditEvent",
    "Base",
    "Enrollment",
    "IdempotencyKey",
    "MeetingRegistrant",
    "QrCheckIn",
    "RegistrationJob",
    "RegistrationJobItem",
    "SchoolClass",
    "User",
    "WebhookEvent",
    "ZoomMeeting",
    "ZoomParticipant",
]

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


def _uuid_pk() -> Mapped[UUIDValue]:
    return mapped_column(UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()"))


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


ROLES = ("admin", "teacher", "student", "service")
MEETING_STATUSES = ("scheduled", "started", "ended")
REGISTRANT_STATUSES = ("approved", "pending", "cancelled", "denied")
MATCH_METHODS = ("registrant_id", "email", "name", "unmatched")
ATTENDANCE_STATUSES = ("present", "late", "partial", "absent", "excused")
ATTENDANCE_SOURCES = ("zoom", "qr", "manual")
JOB_STATES = ("queued", "running", "completed", "cancelled", "waiting_for_quota")
ITEM_STATES = (
    "pending",
    "in_progress",
    "registered",
    "already_registered",
    "not_eligible",
    "failed",
    "cancelled",
)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING)


class User(Base):
    """A person or a system that calls rollcall; students are registered into meetings."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_one_of("role", ROLES), name="role"),
        Index("uq_users_lower_email", func.lower(text("email")), unique=True),
        Index("ix_users_role", "role"),
    )
    id: Mapped[UUIDValue] = _uuid_pk()
    email: Mapped[str] = mapped_column(Text)
    display_name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    zoom_user_id: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()


class SchoolClass(Base):
    """A class (section) with its teacher and attendance thresholds."""

    __tablename__ = "classes"
    __table_args__ = (
        UniqueConstraint("school_year", "name", "section"),
        CheckConstraint("late_after_minutes BETWEEN 0 AND 240", name="late_after_minutes"),
        CheckConstraint("present_min_percent BETWEEN 1 AND 100", name="present_min_percent"),
        CheckConstraint("ghost_join_seconds BETWEEN 0 AND 3600", name="ghost_join_seconds"),
        CheckConstraint("early_leave_minutes BETWEEN 0 AND 240", name="early_leave_minutes"),
        CheckConstraint("qr_ip_limit BETWEEN 1 AND 1000", name="qr_ip_limit"),
        Index("ix_classes_teacher_id", "teacher_id"),
    )
    id: Mapped[UUIDValue] = _uuid_pk()
    name: Mapped[str] = mapped_column(Text)
    section: Mapped[str] = mapped_column(Text)
    school_year: Mapped[str] = mapped_column(Text)
    timezone: Mapped[str] = mapped_column(Text, server_default="Asia/Manila")
    teacher_id: Mapped[UUIDValue] = mapped_column(ForeignKey("users.id"))
    late_after_minutes: Mapped[int] = mapped_column(Integer, server_default="10")
    present_min_percent: Mapped[int] = mapped_column(Integer, server_default="80")
    ghost_join_seconds: Mapped[int] = mapped_column(Integer, server_default="60")
    early_leave_minutes: Mapped[int] = mapped_column(Integer, server_default="10")
    qr_ip_limit: Mapped[int] = mapped_column(Integer, server_default="5")
    created_at: Mapped[datetime] = _now()


class Enrollment(Base):
    """A student in a class: the expected attendees of the class's meetings."""

    __tablename__ = "enrollments"
    __table_args__ = (Index("ix_enrollments_student_id", "student_id"),)
    class_id: Mapped[UUIDValue] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True)
    student_id: Mapped[UUIDValue] = mapped_column(ForeignKey("users.id"), primary_key=True)
    enrolled_at: Mapped[datetime] = _now()


class ZoomMeeting(Base):
    """A Zoom meeting rollcall knows; `id` is Zoom's int64 meeting id."""

    __tablename__ = "zoom_meetings"
    __table_args__ = (
        CheckConstraint(_one_of("status", MEETING_STATUSES), name="status"),
        CheckConstraint("meeting_type IN (1, 2, 3, 8)", name="meeting_type"),
        CheckConstraint("approval_type IN (0, 1, 2)", name="approval_type"),
        CheckConstraint("duration_minutes BETWEEN 0 AND 1440", name="duration_minutes"),
        Index("ix_zoom_meetings_class_id_start_time", "class_id", "start_time"),
        Index("ix_zoom_meetings_uuid", "uuid"),
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    uuid: Mapped[str | None] = mapped_column(Text)
    class_id: Mapped[UUIDValue | None] = mapped_column(ForeignKey("classes.id"))
    host_id: Mapped[str] = mapped_column(Text)
    topic: Mapped[str] = mapped_column(Text)
    meeting_type: Mapped[int] = mapped_column(SmallInteger)
    start_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(Text, server_default="Asia/Manila")
    approval_type: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(Text, server_default="scheduled")
    join_url: Mapped[str | None] = mapped_column(Text)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class MeetingRegistrant(Base):
    """A student's registration in a meeting: at most one row per pair, ever."""

    __tablename__ = "meeting_registrants"
    __table_args__ = (
        UniqueConstraint("meeting_id", "student_id"),
        CheckConstraint(_one_of("status", REGISTRANT_STATUSES), name="status"),
        Index("ix_meeting_registrants_student_id", "student_id"),
        Index("ix_meeting_registrants_zoom_registrant_id", "zoom_registrant_id"),
    )
    id: Mapped[UUIDValue] = _uuid_pk()
    meeting_id: Mapped[int] = mapped_column(ForeignKey("zoom_meetings.id"))
    student_id: Mapped[UUIDValue] = mapped_column(ForeignKey("users.id"))
    zoom_registrant_id: Mapped[str] = mapped_column(Text)
    join_url: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    registered_at: Mapped[datetime] = _now()
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ZoomParticipant(Base):
    """One join segment (one Zoom participant row): rejoins and second devices are new rows."""

    __tablename__ = "zoom_participants"
    __table_args__ = (
        UniqueConstraint("meeting_uuid", "zoom_user_id", "join_time"),
        CheckConstraint(_one_of("match_method", MATCH_METHODS), name="match_method"),
        CheckConstraint("source IN ('report', 'webhook')", name="source"),
        CheckConstraint("leave_time IS NULL OR leave_time >= join_time", name="leave_after_join"),
        Index("ix_zoom_participants_meeting_id_join_time", "meeting_id", "join_time"),
        Index("ix_zoom_participants_student_id", "student_id"),
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("zoom_meetings.id"))
    meeting_uuid: Mapped[str] = mapped_column(Text)
    zoom_user_id: Mapped[str] = mapped_column(Text)
    zoom_participant_id: Mapped[str | None] = mapped_column(Text)
    participant_user_id: Mapped[str | None] = mapped_column(Text)
    registrant_id: Mapped[str | None] = mapped_column(Text)
    customer_key: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    join_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    leave_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    student_id: Mapped[UUIDValue | None] = mapped_column(ForeignKey("users.id"))
    match_method: Mapped[str] = mapped_column(Text, server_default="unmatched")
    updated_at: Mapped[datetime] = _now()


class AttendanceRecord(Base):
    """The formal status of one student in one class on one date."""

    __tablename__ = "attendance_records"
    __table_args__ = (
        UniqueConstraint("class_id", "student_id", "attendance_date"),
        CheckConstraint(_one_of("status", ATTENDANCE_STATUSES), name="status"),
        CheckConstraint(_one_of("source", ATTENDANCE_SOURCES), name="source"),
        CheckConstraint("attended_seconds >= 0", name="attended_seconds"),
        Index("ix_attendance_records_attendance_date_class_id", "attendance_date", "class_id", "student_id"),
        Index("ix_attendance_records_student_id_attendance_date", "student_id", "attendance_date"),
        Index("ix_attendance_records_meeting_id", "meeting_id"),
    )
    id: Mapped[UUIDValue] = _uuid_pk()
    class_id: Mapped[UUIDValue] = mapped_column(ForeignKey("classes.id"))
    student_id: Mapped[UUIDValue] = mapped_column(ForeignKey("users.id"))
    attendance_date: Mapped[date] = mapped_column(Date)
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("zoom_meetings.id"))
    status: Mapped[str] = mapped_column(Text)
    attended_seconds: Mapped[int] = mapped_column(Integer, server_default="0")
    first_join_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_leave_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(Text)
    left_early: Mapped[bool] = mapped_column(Boolean, server_default="false")
    note: Mapped[str | None] = mapped_column(Text)
    updated_by: Mapped[UUIDValue | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class QrCheckIn(Base):
    """A QR check-in; the client IP is kept only as a keyed hash with the key's id."""

    __tablename__ = "qr_checkins"
    __table_args__ = (
        UniqueConstraint("class_id", "student_id", "attendance_date"),
        Index("ix_qr_checkins_class_id_attendance_date_ip_hash", "class_id", "attendance_date", "ip_hash"),
    )
    id: Mapped[UUIDValue] = _uuid_pk()
    class_id: Mapped[UUIDValue] = mapped_column(ForeignKey("classes.id"))
    student_id: Mapped[UUIDValue] = mapped_column(ForeignKey("users.id"))
    attendance_date: Mapped[date] = mapped_column(Date)
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("zoom_meetings.id"))
    code_id: Mapped[str] = mapped_column(Text)
    ip_hash: Mapped[bytes] = mapped_column(LargeBinary)
    ip_key_id: Mapped[str] = mapped_column(Text)
    flagged: Mapped[bool] = mapped_column(Boolean, server_default="false")
    checked_in_at: Mapped[datetime] = _now()


class AuditEvent(Base):
    """Append-only record of a mutation or a read of personal data (a trigger forbids changes)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        CheckConstraint("outcome IN ('success', 'failure')", name="outcome"),
        Index("ix_audit_events_occurred_at_id", "occurred_at", "id"),
        Index("ix_audit_events_actor_id_occurred_at", "actor_id", "occurred_at"),
        Index("ix_audit_events_target_type_target_id", "target_type", "target_id"),
    )
    id: Mapped[UUIDValue] = _uuid_pk()
    occurred_at: Mapped[datetime] = _now()
    actor_id: Mapped[UUIDValue | None] = mapped_column(UUID(as_uuid=True))
    actor_role: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    target_type: Mapped[str] = mapped_column(Text)
    target_id: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)


class RegistrationJob(Base):
    """A durable class registration; its items are the work."""

    __tablename__ = "registration_jobs"
    __table_args__ = (
        CheckConstraint(_one_of("state", JOB_STATES), name="state"),
        Index("ix_registration_jobs_class_id_created_at", "class_id", "created_at"),
        Index("ix_registration_jobs_state", "state", postgresql_where=text("state IN ('queued', 'running')")),
    )
    id: Mapped[UUIDValue] = _uuid_pk()
    class_id: Mapped[UUIDValue] = mapped_column(ForeignKey("classes.id"))
    state: Mapped[str] = mapped_column(Text, server_default="queued")
    meeting_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
    created_by: Mapped[UUIDValue | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = _now()
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resume_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RegistrationJobItem(Base):
    """One (meeting, student) pair of a job, claimed by workers with a lease."""

    __tablename__ = "registration_job_items"
    __table_args__ = (
        UniqueConstraint("job_id", "meeting_id", "student_id"),
        CheckConstraint(_one_of("state", ITEM_STATES), name="state"),
        Index(
            "ix_registration_job_items_claimable",
            "state",
            "lease_expires_at",
            "id",
            postgresql_where=text("state IN ('pending', 'in_progress')"),
        ),
        Index("ix_registration_job_items_job_id_state", "job_id", "state"),
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    job_id: Mapped[UUIDValue] = mapped_column(ForeignKey("registration_jobs.id", ondelete="CASCADE"))
    meeting_id: Mapped[int] = mapped_column(ForeignKey("zoom_meetings.id"))
    student_id: Mapped[UUIDValue] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(Text, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    lease_owner: Mapped[str | None] = mapped_column(Text)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)
    zoom_error_code: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = _now()


class IdempotencyKey(Base):
    """The first response to a (caller, method, key): repeats get it back, changed requests are refused."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_created_at", "created_at"),)
    principal_id: Mapped[str] = mapped_column(Text, primary_key=True)
    method: Mapped[str] = mapped_column(Text, primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    request_hash: Mapped[bytes] = mapped_column(LargeBinary)
    response: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = _now()


class WebhookEvent(Base):
    """A Zoom webhook event seen once; Zoom's retries hit the primary key and change nothing."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_meeting_id_received_at", "meeting_id", "received_at"),
        Index("ix_webhook_events_received_at", "received_at"),
    )
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    event: Mapped[str] = mapped_column(Text)
    meeting_id: Mapped[int | None] = mapped_column(BigInteger)
    event_ts: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[dict[str, object]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = _now()
