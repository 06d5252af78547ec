"""What the emulator holds: meetings, registrants, meeting instances with participant rows, tokens,
counters. In memory only; the demo loader puts meetings back with the same ids after a restart."""

from __future__ import annotations

import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

__all__ = ["Instance", "Meeting", "ParticipantRow", "Registrant", "Store", "iso", "new_uuid"]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_uuid() -> str:
    """Zoom-like instance UUIDs: base64 of 16 bytes, so some start with "/" or contain "//"."""
    import base64

    return base64.b64encode(secrets.token_bytes(16)).decode()


@dataclass(slots=True)
class Registrant:
    id: str
    email: str
    first_name: str
    last_name: str
    status: str  # approved | pending | denied | cancelled
    join_url: str | None
    create_time: datetime
    add_calls: int = 0
    status_updates: int = 0

    def as_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            "id": self.id,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "status": self.status,
            "create_time": iso(self.create_time),
        }
        if self.join_url:
            data["join_url"] = self.join_url
        return data


@dataclass(slots=True)
class ParticipantRow:
    """One join: every leave-and-rejoin is a new row with a new `user_id`."""

    user_id: str
    zoom_id: str  # Zoom user id when signed in (the registrant id when a join link was used), else ""
    participant_user_id: str
    name: str
    user_email: str
    join_time: datetime
    leave_time: datetime | None
    registrant_id: str
    customer_key: str = ""
    status: str = "in_meeting"

    def duration(self, now: datetime) -> int:
        return int(((self.leave_time or now) - self.join_time).total_seconds())

    def as_report(self, now: datetime, with_registrant_id: bool) -> dict[str, object]:
        row: dict[str, object] = {
            "id": self.zoom_id,
            "user_id": self.user_id,
            "participant_user_id": self.participant_user_id,
            "name": self.name,
            "user_email": self.user_email,
            "join_time": iso(self.join_time),
            "leave_time": iso(self.leave_time or now),
            "duration": self.duration(now),
            "status": self.status,
            "failover": False,
            "customer_key": self.customer_key,
            "bo_mtg_id": "",
        }
        if with_registrant_id:
            row["registrant_id"] = self.registrant_id
        return row


@dataclass(slots=True)
class Instance:
    uuid: str
    start_time: datetime
    end_time: datetime | None = None
    rows: list[ParticipantRow] = field(default_factory=list)


@dataclass(slots=True)
class Meeting:
    id: int
    uuid: str
    host_id: str
    topic: str
    type: int
    start_time: datetime | None
    duration: int
    timezone: str
    approval_type: int
    registrants: dict[str, Registrant] = field(default_factory=dict)  # by lower-cased email
    instances: list[Instance] = field(default_factory=list)

    @property
    def join_url(self) -> str:
        return f"https://zoom.example/j/{self.id}"

    @property
    def running(self) -> Instance | None:
        if self.instances and self.instances[-1].end_time is None:
            return self.instances[-1]
        return None

    def is_over(self, now: datetime) -> bool:
        if self.instances and self.instances[-1].end_time is not None and self.type in (1, 2):
            return True
        return (
            self.type == 2 and self.start_time is not None and self.start_time + timedelta(minutes=self.duration) < now
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "uuid": self.uuid,
            "host_id": self.host_id,
            "topic": self.topic,
            "type": self.type,
            "start_time": iso(self.start_time) if self.start_time else None,
            "duration": self.duration,
            "timezone": self.timezone,
            "join_url": self.join_url,
            "status": "started" if self.running else "waiting",
            "settings": {
                "approval_type": self.approval_type,
                "registration_type": 1,
                "registrants_confirmation_email": False,
            },
        }


@dataclass(slots=True)
class Store:
    """All state, with the counters the admin API reports."""

    meetings: dict[int, Meeting] = field(default_factory=dict)
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (emulator clock, unix s)
    page_tokens: dict[str, tuple[str, int, float]] = field(default_factory=dict)  # token -> (key, offset, expiry)
    daily: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (limit, key, day) -> uses
    calls: Counter[str] = field(default_factory=Counter)
    rate_limited: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    token_requests: int = 0
    started_at: float = field(default_factory=time.monotonic)

    def meeting_for_uuid(self, uuid: str) -> tuple[Meeting, Instance] | None:
        for meeting in self.meetings.values():
            for instance in meeting.instances:
                if instance.uuid == uuid:
                    return meeting, instance
        return None
