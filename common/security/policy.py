"""Who may do what: one table, checked before any data is read. Pure: no I/O.

The use case loads the few facts a decision needs (the class's teacher, the caller's enrollment, the
meeting's host) into `Facts`; `authorize` looks the relation up in `POLICY`. PostgreSQL row-level
security mirrors the same rules, so a bug here still cannot read another class's data.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from common.errors import PermissionDenied
from common.security.principal import Principal

__all__ = ["POLICY", "Action", "Facts", "Relation", "authorize", "is_allowed", "relations_of"]


class Action(enum.Enum):
    """One per RPC (list-style RPCs filter rows by the same relations)."""

    REGISTER_STUDENT = "registration.register_student"
    START_CLASS_REGISTRATION = "registration.start_class_registration"
    READ_REGISTRATION_JOB = "registration.read_job"
    CANCEL_REGISTRATION_JOB = "registration.cancel_job"
    LIST_MEETING_REGISTRANTS = "registration.list_registrants"
    CANCEL_REGISTRATION = "registration.cancel_registration"
    CREATE_CLASS_MEETING = "registration.create_class_meeting"
    LINK_ZOOM_MEETING = "registration.link_zoom_meeting"
    LIST_CLASSES = "registration.list_classes"
    LIST_CLASS_MEETINGS = "registration.list_class_meetings"
    LIST_CLASS_STUDENTS = "registration.list_class_students"
    READ_PARTICIPANTS = "attendance.read_participants"
    READ_ATTENDANCE = "attendance.read_attendance"
    SYNC_ATTENDANCE = "attendance.sync"
    LIST_ATTENDANCE_RECORDS = "attendance.list_records"
    EXPORT_ATTENDANCE = "attendance.export_csv"
    UPDATE_ATTENDANCE_RECORD = "attendance.update_record"
    CREATE_QR_CODE = "attendance.create_qr_code"
    RECORD_QR_CHECK_IN = "attendance.record_qr_check_in"
    INGEST_ZOOM_EVENT = "attendance.ingest_zoom_event"
    READ_AUDIT_LOG = "audit.read"


class Relation(enum.Enum):
    """How the caller stands to the thing acted on."""

    ADMIN = "admin"
    CLASS_TEACHER = "class_teacher"
    OTHER_TEACHER = "other_teacher"
    MEETING_HOST = "meeting_host"
    ENROLLED_STUDENT = "enrolled_student"  # acting on their own data in a class they are in
    OTHER_STUDENT = "other_student"
    SERVICE_WITH_SCOPE = "service_with_scope"
    SERVICE_WITHOUT_SCOPE = "service_without_scope"


_STAFF = frozenset({Relation.ADMIN, Relation.CLASS_TEACHER})
_MEETING_STAFF = _STAFF | {Relation.MEETING_HOST}

POLICY: Mapping[Action, frozenset[Relation]] = {
    Action.REGISTER_STUDENT: frozenset({Relation.ADMIN}),
    Action.START_CLASS_REGISTRATION: frozenset({Relation.ADMIN}),
    Action.READ_REGISTRATION_JOB: _STAFF,
    Action.CANCEL_REGISTRATION_JOB: frozenset({Relation.ADMIN}),
    Action.LIST_MEETING_REGISTRANTS: _STAFF,
    Action.CANCEL_REGISTRATION: _STAFF,
    Action.CREATE_CLASS_MEETING: _STAFF,
    Action.LINK_ZOOM_MEETING: _STAFF,
    Action.LIST_CLASSES: _STAFF
    | {Relation.OTHER_TEACHER, Relation.ENROLLED_STUDENT, Relation.OTHER_STUDENT, Relation.SERVICE_WITH_SCOPE},
    Action.LIST_CLASS_MEETINGS: _STAFF | {Relation.ENROLLED_STUDENT, Relation.SERVICE_WITH_SCOPE},
    Action.LIST_CLASS_STUDENTS: _STAFF,
    Action.READ_PARTICIPANTS: _MEETING_STAFF,
    Action.READ_ATTENDANCE: _MEETING_STAFF,
    Action.SYNC_ATTENDANCE: _MEETING_STAFF | {Relation.SERVICE_WITH_SCOPE},
    Action.LIST_ATTENDANCE_RECORDS: _STAFF | {Relation.ENROLLED_STUDENT, Relation.SERVICE_WITH_SCOPE},
    Action.EXPORT_ATTENDANCE: _STAFF,
    Action.UPDATE_ATTENDANCE_RECORD: _STAFF,
    Action.CREATE_QR_CODE: frozenset({Relation.CLASS_TEACHER}),
    Action.RECORD_QR_CHECK_IN: frozenset({Relation.ENROLLED_STUDENT}),
    Action.INGEST_ZOOM_EVENT: frozenset({Relation.SERVICE_WITH_SCOPE}),
    Action.READ_AUDIT_LOG: frozenset({Relation.ADMIN}),
}

# The scope a service identity needs for each action it may take.
SERVICE_SCOPES: Mapping[Action, str] = {
    Action.LIST_CLASSES: "classes.read",
    Action.LIST_CLASS_MEETINGS: "classes.read",
    Action.SYNC_ATTENDANCE: "attendance.sync",
    Action.LIST_ATTENDANCE_RECORDS: "attendance.read",
    Action.INGEST_ZOOM_EVENT: "zoom.webhooks",
}


@dataclass(frozen=True, slots=True)
class Facts:
    """What is known of the target: each None when the action has no such target."""

    class_teacher_id: uuid.UUID | None = None
    caller_enrolled: bool = False
    student_id: uuid.UUID | None = None  # whose data, for student self-service
    meeting_host_id: str | None = None
    caller_zoom_user_id: str | None = None


def relations_of(principal: Principal, action: Action, facts: Facts) -> frozenset[Relation]:
    """Every relation the caller has to the target of `action`."""
    found: set[Relation] = set()
    if principal.role == "admin":
        found.add(Relation.ADMIN)
    elif principal.role == "teacher":
        teaches = facts.class_teacher_id is not None and facts.class_teacher_id == principal.user_id
        found.add(Relation.CLASS_TEACHER if teaches else Relation.OTHER_TEACHER)
    elif principal.role == "student":
        own = facts.student_id is None or facts.student_id == principal.user_id
        found.add(Relation.ENROLLED_STUDENT if facts.caller_enrolled and own else Relation.OTHER_STUDENT)
    elif principal.role == "service":
        scope = SERVICE_SCOPES.get(action)
        has_scope = scope is not None and principal.has_scope(scope)
        found.add(Relation.SERVICE_WITH_SCOPE if has_scope else Relation.SERVICE_WITHOUT_SCOPE)
    if facts.meeting_host_id and facts.caller_zoom_user_id and facts.meeting_host_id == facts.caller_zoom_user_id:
        found.add(Relation.MEETING_HOST)
    return frozenset(found)


def is_allowed(principal: Principal, action: Action, facts: Facts) -> bool:
    return bool(relations_of(principal, action, facts) & POLICY[action])


def authorize(principal: Principal, action: Action, facts: Facts) -> None:
    """Raises PermissionDenied with one message for every refusal, so it never tells whether the
    target exists to someone who may not know."""
    if not is_allowed(principal, action, facts):
        raise PermissionDenied("you may not do this, or it does not exist", reason="PERMISSION_DENIED")
