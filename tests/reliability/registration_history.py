"""The history of a class registration job, read from both sides: the registrants Zoom (the
emulator) holds and the rows the database stores, counted as lost or duplicated per requested
(meeting, student) pair."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg

from common.db import libpq_url
from tests.integration.registration.conftest import zoom_registrants
from tests.support.emulator import EmulatorProcess
from tests.support.school import SchoolClass, SchoolMeeting

__all__ = ["History", "read_history"]


@dataclass
class History:
    requested: int = 0
    lost: int = 0  # pairs without exactly one registrant at Zoom and one stored row carrying its id
    duplicated: int = 0  # registrants or rows beyond one per pair, or registrants nobody asked for
    resent: int = 0  # adds Zoom answered with an existing registrant (harmless repeats after faults)
    problems: list[str] = field(default_factory=list)  # the first few, for failure messages

    def add(self, other: History) -> None:
        self.requested += other.requested
        self.lost += other.lost
        self.duplicated += other.duplicated
        self.resent += other.resent
        self.problems.extend(other.problems[: 10 - len(self.problems)])


def _stored_rows(database_url: str, meeting_id: int) -> list[tuple[str, str, str]]:
    with psycopg.connect(libpq_url(database_url)) as owner:
        rows = owner.execute(
            "SELECT student_id::text, zoom_registrant_id, status FROM meeting_registrants WHERE meeting_id = %s",
            (meeting_id,),
        ).fetchall()
    return [(str(student), str(registrant), str(status)) for student, registrant, status in rows]


def read_history(
    database_url: str, emulator: EmulatorProcess, school: SchoolClass, meetings: Sequence[SchoolMeeting]
) -> History:
    """Every student of `school` was requested in every meeting of `meetings`."""
    history = History()
    for meeting in meetings:
        at_zoom = zoom_registrants(emulator, meeting.meeting_id)
        zoom_ids: dict[str, list[str]] = {}
        for registrant in at_zoom:
            zoom_ids.setdefault(str(registrant["email"]).lower(), []).append(str(registrant["id"]))
            history.resent += max(int(str(registrant["add_calls"])) - 1, 0)
        stored: dict[str, list[tuple[str, str]]] = {}
        for student_id, registrant_id, status in _stored_rows(database_url, meeting.meeting_id):
            stored.setdefault(student_id, []).append((registrant_id, status))
        requested_emails = {email.lower() for email in school.emails.values()}
        history.duplicated += sum(len(ids) for email, ids in zoom_ids.items() if email not in requested_emails)
        for student, email in school.emails.items():
            history.requested += 1
            ids = zoom_ids.get(email.lower(), [])
            rows = stored.get(str(student), [])
            history.duplicated += max(len(ids) - 1, 0) + max(len(rows) - 1, 0)
            if len(ids) != 1 or len(rows) != 1 or rows[0][0] != ids[0] or rows[0][1] not in ("approved", "pending"):
                history.lost += 1
                if len(history.problems) < 10:
                    history.problems.append(
                        f"meeting {meeting.meeting_id} student {student}: zoom {ids}, stored {rows}"
                    )
    return history
