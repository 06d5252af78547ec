"""GetMeetingParticipants audits every read the policy allows, and only those: in the read's own
statement while the facts it was last allowed on still hold, else in a second statement after
the policy has seen the new facts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace

import pytest

from attendance_service.read_models import MeetingOverview, MeetingRoster, ReadAudit
from attendance_service.service import MeetingReads, meeting_facts
from common.errors import PermissionDenied
from common.security.principal import Principal
from tests.unit.attendance.fakes import MEETING_ID, TEACHER, meeting_info, school_class


@dataclass
class FakeStatements:
    """One meeting; `audited` mimics the read's SQL: the row goes in only if the facts are the same."""

    overview: MeetingOverview
    roster: MeetingRoster
    in_read: list[str] = field(default_factory=list)
    separate: list[str] = field(default_factory=list)
    asked: list[ReadAudit | None] = field(default_factory=list)

    async def meeting_roster(
        self, meeting_id: int, held: MeetingRoster | None, audit: ReadAudit | None = None
    ) -> tuple[MeetingOverview, MeetingRoster, bool] | None:
        self.asked.append(audit)
        audited = audit is not None and audit.facts == meeting_facts(self.overview)
        if audited and audit is not None:
            self.in_read.append(audit.action)
        roster = held if held is not None and held.token == self.roster.token else self.roster
        return self.overview, roster, audited

    async def audit(
        self, actor: Principal | None, action: str, *, target_type: str, target_id: str, detail: str | None = None
    ) -> None:
        self.separate.append(action)


@dataclass
class FakeReadDb:
    statements: FakeStatements

    @asynccontextmanager
    async def statements_as(self, principal: Principal) -> AsyncIterator[FakeStatements]:
        yield self.statements

    def as_caller(self, principal: Principal) -> AsyncIterator[None]:
        raise AssertionError("participants reads use single statements")

    def as_system(self) -> AsyncIterator[None]:
        raise AssertionError("participants reads use single statements")


def _reads() -> tuple[MeetingReads, FakeStatements]:
    overview = MeetingOverview(meeting_info(), school_class(), None, False, (), ())
    statements = FakeStatements(overview, MeetingRoster("t1", (), ()))
    return MeetingReads(FakeReadDb(statements)), statements  # type: ignore[arg-type]


async def test_a_callers_first_read_is_audited_on_its_own_and_later_ones_within_the_read() -> None:
    reads, statements = _reads()
    teacher = Principal(TEACHER, "teacher")
    for _ in range(3):
        await reads.participants(teacher, MEETING_ID)
    assert statements.asked[0] is None
    assert statements.separate == ["attendance.read_participants"]
    assert statements.in_read == ["attendance.read_participants"] * 2


async def test_changed_facts_that_still_allow_the_read_are_audited_once_in_a_second_statement() -> None:
    reads, statements = _reads()
    teacher = Principal(TEACHER, "teacher")
    await reads.participants(teacher, MEETING_ID)
    statements.overview = replace(statements.overview, meeting=replace(meeting_info(), host_id="host-2"))
    await reads.participants(teacher, MEETING_ID)
    assert statements.separate == ["attendance.read_participants"] * 2
    assert statements.in_read == []
    await reads.participants(teacher, MEETING_ID)  # the new facts are held now
    assert statements.in_read == ["attendance.read_participants"]


async def test_a_read_the_new_facts_refuse_leaves_no_audit_row() -> None:
    reads, statements = _reads()
    teacher = Principal(TEACHER, "teacher")
    await reads.participants(teacher, MEETING_ID)
    moved = replace(school_class(), teacher_id=uuid.uuid4())
    statements.overview = replace(statements.overview, school_class=moved)
    with pytest.raises(PermissionDenied):
        await reads.participants(teacher, MEETING_ID)
    assert statements.separate == ["attendance.read_participants"]
    assert statements.in_read == []


async def test_a_caller_the_policy_refuses_is_never_vouched_for() -> None:
    reads, statements = _reads()
    student = Principal(uuid.uuid4(), "student")
    for _ in range(2):
        with pytest.raises(PermissionDenied):
            await reads.participants(student, MEETING_ID)
    assert statements.asked == [None, None]
    assert statements.separate == statements.in_read == []
