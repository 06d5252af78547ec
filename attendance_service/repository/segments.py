"""Join segments, meeting instances, the durable sync queue, webhook events and roster notifications.

Written by the services' own work (`system`): syncs and webhook processing. Bulk writes go as one
`unnest` statement each, so a 10,000-row report costs a handful of round trips, not 10,000.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from attendance_service.domain import ExpectedStudent, Segment
from attendance_service.reconcile import SegmentPlan, StoredSegment
from attendance_service.repository._rows import SEGMENT_JSON, STUDENT_JSON, segment_of_json, student_of_json

__all__ = ["ROSTER_CHANNEL", "DueSync", "Instance", "SegmentQueries"]

ROSTER_CHANNEL = "rollcall_roster"

_UPSERT_SEGMENTS = text(
    """INSERT INTO zoom_participants AS p (meeting_id, meeting_uuid, zoom_user_id, zoom_participant_id, registrant_id,
        name, email, join_time, leave_time, duration_seconds, source, student_id, match_method, updated_at)
    SELECT :meeting_id, :uuid, s.zoom_user_id, s.zoom_id, s.registrant_id, s.name, s.email, s.join_time, s.leave_time,
           s.duration, :source, s.student_id, s.match_method, now()
    FROM unnest(CAST(:zoom_user_ids AS text[]), CAST(:zoom_ids AS text[]), CAST(:registrant_ids AS text[]),
                CAST(:names AS text[]), CAST(:emails AS text[]), CAST(:joins AS timestamptz[]),
                CAST(:leaves AS timestamptz[]), CAST(:durations AS int[]), CAST(:students AS uuid[]),
                CAST(:methods AS text[]))
         AS s(zoom_user_id, zoom_id, registrant_id, name, email, join_time, leave_time, duration, student_id,
              match_method)
    ON CONFLICT (meeting_uuid, zoom_user_id, join_time) DO UPDATE SET
        zoom_participant_id = EXCLUDED.zoom_participant_id, registrant_id = EXCLUDED.registrant_id,
        name = EXCLUDED.name, email = EXCLUDED.email, leave_time = EXCLUDED.leave_time,
        duration_seconds = EXCLUDED.duration_seconds, source = EXCLUDED.source, student_id = EXCLUDED.student_id,
        match_method = EXCLUDED.match_method, updated_at = now()"""
)
_DELETE_SEGMENTS = text(
    """DELETE FROM zoom_participants WHERE meeting_uuid = :uuid AND (zoom_user_id, join_time) IN (
        SELECT * FROM unnest(CAST(:zoom_user_ids AS text[]), CAST(:joins AS timestamptz[])))"""
)
_ROSTER = text(
    f"""SELECT m.class_id,
        (SELECT coalesce(json_agg({STUDENT_JSON} ORDER BY u.id), '[]'::json)
           FROM enrollments e JOIN users u ON u.id = e.student_id WHERE e.class_id = m.class_id) AS students,
        (SELECT coalesce(json_object_agg(r.zoom_registrant_id, r.student_id), '{{}}'::json)
           FROM meeting_registrants r WHERE r.meeting_id = m.id) AS registrants
    FROM zoom_meetings m WHERE m.id = :meeting_id"""
)
_CLOSE = text(
    """UPDATE zoom_participants SET leave_time = :leave_time, updated_at = now(),
        duration_seconds = floor(extract(epoch FROM :leave_time - join_time))::int
    WHERE meeting_uuid = :uuid AND zoom_user_id = :zoom_user_id AND source = 'webhook'
      AND join_time <= :leave_time AND leave_time IS DISTINCT FROM :leave_time
    RETURNING id"""
)
_CLOSE_OPEN = text(_CLOSE.text.replace("RETURNING id", "AND leave_time IS NULL RETURNING id"))
_CLAIM_DUE = text(
    """UPDATE meeting_instances SET next_sync_at = :lease_until, sync_attempts = sync_attempts + 1, updated_at = now()
    WHERE meeting_uuid = (
        SELECT meeting_uuid FROM meeting_instances WHERE sync_state = 'pending' AND next_sync_at <= :now
        ORDER BY next_sync_at LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING meeting_uuid, meeting_id, sync_attempts"""
)
# A claim is still held while the row is pending with the attempt number the claim gave it: a
# later claim (the lease ran out) or a new `meeting.ended` (schedule_sync resets it) moves it on.
_OWN_CLAIM = "sync_state = 'pending' AND sync_attempts = :attempt"


@dataclass(frozen=True, slots=True)
class Instance:
    """One occurrence of a meeting, named by Zoom's instance UUID."""

    uuid: str
    meeting_id: int
    start_time: datetime | None
    end_time: datetime | None


@dataclass(frozen=True, slots=True)
class DueSync:
    """A claimed automatic sync: `attempt` counts from 1."""

    uuid: str
    meeting_id: int
    attempt: int


class SegmentQueries:
    """Queries of segments, instances, the sync queue and webhook events in one transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_meeting(self, meeting_id: int) -> None:
        """Serialises syncs and webhook writes of one meeting across every replica."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"meeting:{meeting_id}"}
        )

    async def roster_inputs(self, meeting_id: int) -> tuple[Any, tuple[ExpectedStudent, ...], dict[str, str]] | None:
        """(class id, enrolled students, registrant id -> student id) of a meeting; None if unknown."""
        row = (await self.session.execute(_ROSTER, {"meeting_id": meeting_id})).one_or_none()
        if row is None:
            return None
        students = tuple(student_of_json(s) for s in row.students)
        return row.class_id, students, {str(k): str(v) for k, v in row.registrants.items()}

    async def stored_segments(self, uuid: str) -> list[StoredSegment]:
        rows = await self.session.execute(
            text(f"SELECT {SEGMENT_JSON} AS segment, p.source FROM zoom_participants p WHERE p.meeting_uuid = :uuid"),
            {"uuid": uuid},
        )
        return [StoredSegment(segment_of_json(row.segment), row.source) for row in rows]

    async def apply_segment_plan(self, meeting_id: int, uuid: str, plan: SegmentPlan) -> None:
        if plan.deletes:
            await self.session.execute(
                _DELETE_SEGMENTS,
                {"uuid": uuid, "zoom_user_ids": [k[0] for k in plan.deletes], "joins": [k[1] for k in plan.deletes]},
            )
        if plan.upserts:
            await self.upsert_segments(meeting_id, uuid, plan.upserts, source="report")

    async def upsert_segments(self, meeting_id: int, uuid: str, segments: Sequence[Segment], *, source: str) -> None:
        await self.session.execute(
            _UPSERT_SEGMENTS,
            {
                "meeting_id": meeting_id,
                "uuid": uuid,
                "source": source,
                "zoom_user_ids": [s.zoom_user_id for s in segments],
                "zoom_ids": [s.zoom_id for s in segments],
                "registrant_ids": [s.registrant_id for s in segments],
                "names": [s.display_name for s in segments],
                "emails": [s.email for s in segments],
                "joins": [s.join_time for s in segments],
                "leaves": [s.leave_time for s in segments],
                "durations": [s.duration_seconds for s in segments],
                "students": [s.student_id for s in segments],
                "methods": [s.match_method.value for s in segments],
            },
        )

    async def open_live_segment(self, meeting_id: int, uuid: str, segment: Segment) -> bool:
        """Stores a live join; False when it changed nothing. Zoom gives each join its own user
        id, so (instance, user id) is one segment: a join arriving after its own leave (webhooks
        race) moves that segment's start back instead of adding a second one."""
        params = {
            "meeting_id": meeting_id,
            "uuid": uuid,
            "zoom_user_id": segment.zoom_user_id,
            "zoom_id": segment.zoom_id,
            "registrant_id": segment.registrant_id,
            "name": segment.display_name,
            "email": segment.email,
            "join_time": segment.join_time,
            "student_id": segment.student_id,
            "method": segment.match_method.value,
        }
        existing = (
            await self.session.execute(
                text(
                    "SELECT join_time FROM zoom_participants "
                    "WHERE meeting_uuid = :uuid AND zoom_user_id = :zoom_user_id ORDER BY join_time LIMIT 1 FOR UPDATE"
                ),
                params,
            )
        ).first()
        if existing is not None:
            if existing.join_time <= segment.join_time:
                return False
            await self.session.execute(
                text(
                    "UPDATE zoom_participants SET join_time = :join_time, updated_at = now(), "
                    "duration_seconds = floor(extract(epoch FROM leave_time - :join_time))::int "
                    "WHERE meeting_uuid = :uuid AND zoom_user_id = :zoom_user_id"
                ),
                params,
            )
            return True
        await self.session.execute(
            text(
                "INSERT INTO zoom_participants (meeting_id, meeting_uuid, zoom_user_id, zoom_participant_id, "
                "registrant_id, name, email, join_time, source, student_id, match_method) VALUES (:meeting_id, :uuid, "
                ":zoom_user_id, :zoom_id, :registrant_id, :name, :email, :join_time, 'webhook', :student_id, :method) "
                "ON CONFLICT (meeting_uuid, zoom_user_id, join_time) DO NOTHING"
            ),
            params,
        )
        return True

    async def close_live_segment(self, uuid: str, zoom_user_id: str, leave_time: datetime, *, only_open: bool) -> bool:
        """Sets when that join left; False when nothing changed. A leave event is the word on its
        own join (Zoom's user id is per join), so it also corrects a segment that the meeting's end
        closed first because the webhooks raced. Report rows are final and left alone."""
        query = _CLOSE_OPEN if only_open else _CLOSE
        closed = await self.session.execute(
            query, {"uuid": uuid, "zoom_user_id": zoom_user_id, "leave_time": leave_time}
        )
        return closed.first() is not None

    async def close_open_segments(self, uuid: str, leave_time: datetime) -> None:
        """At the meeting's end nobody is still in it, whether or not each leave event arrived."""
        await self.session.execute(
            text(
                "UPDATE zoom_participants SET leave_time = greatest(join_time, :leave_time), updated_at = now(), "
                "duration_seconds = floor(extract(epoch FROM greatest(join_time, :leave_time) - join_time))::int "
                "WHERE meeting_uuid = :uuid AND leave_time IS NULL"
            ),
            {"uuid": uuid, "leave_time": leave_time},
        )

    async def live_segment_count(self, uuid: str) -> int:
        count = await self.session.execute(
            text("SELECT count(*) FROM zoom_participants WHERE meeting_uuid = :uuid AND source = 'webhook'"),
            {"uuid": uuid},
        )
        return int(count.scalar_one())

    # ---- meetings and instances --------------------------------------------------------------

    async def set_meeting_status(
        self, meeting_id: int, status: str, *, uuid: str | None, ended_at: datetime | None
    ) -> None:
        await self.session.execute(
            text(
                "UPDATE zoom_meetings SET status = :status, uuid = coalesce(:uuid, uuid), ended_at = :ended_at, "
                "updated_at = now() WHERE id = :meeting_id"
            ),
            {"meeting_id": meeting_id, "status": status, "uuid": uuid, "ended_at": ended_at},
        )

    async def set_current_instance(self, meeting_id: int, uuid: str) -> None:
        """Points the meeting at the instance whose data reads show (the latest synced or started)."""
        await self.session.execute(
            text(
                "UPDATE zoom_meetings SET uuid = :uuid, updated_at = now() "
                "WHERE id = :meeting_id AND uuid IS DISTINCT FROM :uuid"
            ),
            {"meeting_id": meeting_id, "uuid": uuid},
        )

    async def note_instance(
        self, uuid: str, meeting_id: int, *, start_time: datetime | None = None, end_time: datetime | None = None
    ) -> Instance:
        """Records what is known of an instance (times are kept once known) and returns it."""
        row = (
            await self.session.execute(
                text(
                    "INSERT INTO meeting_instances AS i (meeting_uuid, meeting_id, start_time, end_time) "
                    "VALUES (:uuid, :meeting_id, :start_time, :end_time) ON CONFLICT (meeting_uuid) DO UPDATE SET "
                    "start_time = coalesce(i.start_time, EXCLUDED.start_time), "
                    "end_time = coalesce(EXCLUDED.end_time, i.end_time), updated_at = now() "
                    "RETURNING meeting_uuid, meeting_id, start_time, end_time"
                ),
                {"uuid": uuid, "meeting_id": meeting_id, "start_time": start_time, "end_time": end_time},
            )
        ).one()
        return Instance(row.meeting_uuid, row.meeting_id, row.start_time, row.end_time)

    async def instance(self, uuid: str) -> Instance | None:
        row = (
            await self.session.execute(
                text(
                    "SELECT meeting_uuid, meeting_id, start_time, end_time FROM meeting_instances "
                    "WHERE meeting_uuid = :uuid"
                ),
                {"uuid": uuid},
            )
        ).one_or_none()
        return None if row is None else Instance(row.meeting_uuid, row.meeting_id, row.start_time, row.end_time)

    # ---- the durable sync queue --------------------------------------------------------------

    async def schedule_sync(self, uuid: str, at: datetime) -> None:
        await self.session.execute(
            text(
                "UPDATE meeting_instances SET sync_state = 'pending', sync_attempts = 0, next_sync_at = :at, "
                "updated_at = now() WHERE meeting_uuid = :uuid"
            ),
            {"uuid": uuid, "at": at},
        )

    async def claim_due_sync(self, now: datetime, lease_until: datetime) -> DueSync | None:
        """Takes the most overdue pending sync for `lease_until` (another replica takes it over
        if this one dies before finishing)."""
        row = (await self.session.execute(_CLAIM_DUE, {"now": now, "lease_until": lease_until})).one_or_none()
        return None if row is None else DueSync(row.meeting_uuid, row.meeting_id, row.sync_attempts)

    async def next_sync_due(self) -> datetime | None:
        due = await self.session.execute(
            text("SELECT min(next_sync_at) FROM meeting_instances WHERE sync_state = 'pending'")
        )
        value: datetime | None = due.scalar()
        return value

    async def retry_sync_at(self, uuid: str, at: datetime, *, attempt: int) -> bool:
        """Puts a claimed sync back for `at`; False when the claim was lost (see `_OWN_CLAIM`)."""
        moved = await self.session.execute(
            text(
                "UPDATE meeting_instances SET next_sync_at = :at, updated_at = now() "
                f"WHERE meeting_uuid = :uuid AND {_OWN_CLAIM} RETURNING meeting_uuid"
            ),
            {"uuid": uuid, "at": at, "attempt": attempt},
        )
        return moved.first() is not None

    async def finish_sync(self, uuid: str, *, attempt: int, state: str, report_row_count: int | None) -> bool:
        """Marks a claimed sync done (or given up); False when the claim was lost."""
        finished = await self.session.execute(
            text(
                "UPDATE meeting_instances SET sync_state = :state, next_sync_at = NULL, synced_at = now(), "
                "report_row_count = coalesce(:rows, report_row_count), updated_at = now() "
                f"WHERE meeting_uuid = :uuid AND {_OWN_CLAIM} RETURNING meeting_uuid"
            ),
            {"uuid": uuid, "state": state, "rows": report_row_count, "attempt": attempt},
        )
        return finished.first() is not None

    # ---- webhook events and notifications ----------------------------------------------------

    async def remember_event(
        self, key: str, event: str, meeting_id: int | None, event_ts: int, payload: dict[str, Any]
    ) -> bool:
        """Stores the event once; False when it was seen before (Zoom retries, replays)."""
        inserted = await self.session.execute(
            text(
                "INSERT INTO webhook_events (id, event, meeting_id, event_ts, payload) "
                "VALUES (:key, :event, :meeting_id, :event_ts, CAST(:payload AS jsonb)) "
                "ON CONFLICT (id) DO NOTHING RETURNING id"
            ),
            {
                "key": key,
                "event": event,
                "meeting_id": meeting_id,
                "event_ts": event_ts,
                "payload": json.dumps(payload),
            },
        )
        return inserted.first() is not None

    async def forget_events_older_than(self, age: timedelta) -> int:
        """Drops webhook events received longer than `age` ago (their payloads name people);
        returns how many."""
        dropped = await self.session.execute(
            text("DELETE FROM webhook_events WHERE received_at < now() - make_interval(secs => :seconds)"),
            {"seconds": age.total_seconds()},
        )
        return int(getattr(dropped, "rowcount", 0) or 0)

    async def notify_roster(self, payload: dict[str, Any]) -> None:
        """Tells every replica's listener; PostgreSQL delivers it only if this transaction commits."""
        await self.session.execute(
            text("SELECT pg_notify(:channel, :payload)"), {"channel": ROSTER_CHANNEL, "payload": json.dumps(payload)}
        )
