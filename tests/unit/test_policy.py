"""The policy table says who may do what; refusals never reveal whether a thing exists."""

from __future__ import annotations

import uuid

import pytest

from common.errors import PermissionDenied
from common.security.policy import POLICY, Action, Facts, authorize, is_allowed
from common.security.principal import Principal

TEACHER = Principal(uuid.uuid4(), "teacher")
OTHER_TEACHER = Principal(uuid.uuid4(), "teacher")
STUDENT = Principal(uuid.uuid4(), "student")
ADMIN = Principal(uuid.uuid4(), "admin")
CLASS = Facts(class_teacher_id=TEACHER.user_id)


def test_every_rpc_action_has_a_rule() -> None:
    assert set(POLICY) == set(Action)


def test_only_admins_register_students() -> None:
    assert is_allowed(ADMIN, Action.REGISTER_STUDENT, CLASS)
    assert not is_allowed(TEACHER, Action.REGISTER_STUDENT, CLASS)


def test_the_class_teacher_reads_participants_but_another_teacher_does_not() -> None:
    assert is_allowed(TEACHER, Action.READ_PARTICIPANTS, CLASS)
    assert not is_allowed(OTHER_TEACHER, Action.READ_PARTICIPANTS, CLASS)


def test_the_meeting_host_reads_participants_of_a_meeting_outside_their_classes() -> None:
    facts = Facts(class_teacher_id=TEACHER.user_id, meeting_host_id="zoom-host-7", caller_zoom_user_id="zoom-host-7")
    assert is_allowed(OTHER_TEACHER, Action.READ_PARTICIPANTS, facts)


def test_a_student_lists_only_their_own_records_in_a_class_they_are_in() -> None:
    own = Facts(class_teacher_id=TEACHER.user_id, caller_enrolled=True, student_id=STUDENT.user_id)
    other = Facts(class_teacher_id=TEACHER.user_id, caller_enrolled=True, student_id=uuid.uuid4())
    assert is_allowed(STUDENT, Action.LIST_ATTENDANCE_RECORDS, own)
    assert not is_allowed(STUDENT, Action.LIST_ATTENDANCE_RECORDS, other)


@pytest.mark.parametrize(
    ("scopes", "allowed"), [((), False), (("attendance.read",), True), (("zoom.webhooks",), False)]
)
def test_services_need_the_scope_of_the_action(scopes: tuple[str, ...], allowed: bool) -> None:
    service = Principal(uuid.uuid4(), "service", frozenset(scopes))
    assert is_allowed(service, Action.LIST_ATTENDANCE_RECORDS, Facts()) is allowed


def test_a_refusal_reads_the_same_whether_or_not_the_target_exists() -> None:
    messages = set()
    for facts in (CLASS, Facts()):
        with pytest.raises(PermissionDenied) as refused:
            authorize(OTHER_TEACHER, Action.EXPORT_ATTENDANCE, facts)
        messages.add(refused.value.message)
    assert len(messages) == 1
