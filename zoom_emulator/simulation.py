"""Meeting simulation: start, end, joins and leaves (rejoins, renamed people, guests, dial-ins,
second devices), each sending the webhook Zoom would send."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from zoom_emulator.core import Emulator, ZoomFault
from zoom_emulator.meetings import parse_time
from zoom_emulator.state import Instance, Meeting, ParticipantRow, iso, new_uuid

__all__ = ["end", "join", "leave", "load_report", "run_random", "run_script", "start"]


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _meeting_object(meeting: Meeting, instance: Instance, *, string_id: bool) -> dict[str, object]:
    obj: dict[str, object] = {
        "id": str(meeting.id) if string_id else meeting.id,
        "uuid": instance.uuid,
        "host_id": meeting.host_id,
        "topic": meeting.topic,
        "type": meeting.type,
        "start_time": iso(instance.start_time),
        "duration": meeting.duration,
        "timezone": meeting.timezone,
    }
    if instance.end_time is not None:
        obj["end_time"] = iso(instance.end_time)
    return obj


def start(emu: Emulator, meeting: Meeting, at: datetime | None = None) -> Instance:
    if meeting.running is not None:
        raise ZoomFault(400, 3000, "Meeting is already in progress.")
    first = not meeting.instances
    instance = Instance(uuid=meeting.uuid if first else new_uuid(), start_time=at or emu.now())
    meeting.instances.append(instance)
    emu.webhooks.emit("meeting.started", _meeting_object(meeting, instance, string_id=False), _ms(instance.start_time))
    return instance


def end(emu: Emulator, meeting: Meeting, at: datetime | None = None) -> Instance:
    instance = meeting.running
    if instance is None:
        raise ZoomFault(400, 3000, "Meeting is not in progress.")
    instance.end_time = at or emu.now()
    for row in instance.rows:
        if row.leave_time is None:
            leave(emu, meeting, row.user_id, instance.end_time, reason="left the meeting because the host ended it")
    emu.webhooks.emit("meeting.ended", _meeting_object(meeting, instance, string_id=False), _ms(instance.end_time))
    return instance


def _participant_object(row: ParticipantRow, *, leaving: bool, reason: str) -> dict[str, object]:
    participant: dict[str, object] = {
        "user_id": row.user_id,
        "user_name": row.name,
        "id": row.zoom_id,
        "participant_uuid": row.participant_user_id,
        "participant_user_id": row.participant_user_id,
        "email": row.user_email,
        "registrant_id": row.registrant_id,
        "customer_key": row.customer_key,
    }
    if leaving:
        participant["leave_time"] = iso(row.leave_time or row.join_time)
        participant["leave_reason"] = reason
    else:
        participant["join_time"] = iso(row.join_time)
    return participant


def join(emu: Emulator, meeting: Meeting, spec: dict[str, Any]) -> ParticipantRow:
    """`spec`: registrant_id | email | name, optional display_name (renamed), guest, phone, join_time."""
    instance = meeting.running
    if instance is None:
        raise ZoomFault(400, 3000, "Meeting is not in progress.")
    registrant = None
    if spec.get("registrant_id"):
        registrant = next((r for r in meeting.registrants.values() if r.id == spec["registrant_id"]), None)
    elif spec.get("email") and not spec.get("guest"):
        registrant = meeting.registrants.get(str(spec["email"]).lower())
    if registrant is not None:
        # A registration join link was used: Zoom reports the registrant id as the participant id (forum).
        name = f"{registrant.first_name} {registrant.last_name}".strip()
        zoom_id, email, registrant_id, person = registrant.id, registrant.email, registrant.id, registrant.id
    else:
        name = str(spec.get("name") or ("+63 9" + "".join(secrets.choice("0123456789") for _ in range(9))))
        phone_or_guest = bool(spec.get("guest") or spec.get("phone"))
        email = "" if phone_or_guest else str(spec.get("email") or "")
        zoom_id, registrant_id = "", ""
        person = str(spec.get("person") or secrets.token_hex(8))
    row = ParticipantRow(
        user_id=str(16_000_000 + secrets.randbelow(9_000_000)),
        zoom_id=zoom_id,
        participant_user_id=person,
        name=str(spec.get("display_name") or name),
        user_email=email,
        join_time=parse_time(spec["join_time"], "join_time") if spec.get("join_time") else emu.now(),
        leave_time=None,
        registrant_id=registrant_id,
    )
    instance.rows.append(row)
    obj = _meeting_object(meeting, instance, string_id=True)
    obj["participant"] = _participant_object(row, leaving=False, reason="")
    emu.webhooks.emit("meeting.participant_joined", obj, _ms(row.join_time))
    return row


def leave(
    emu: Emulator, meeting: Meeting, user_id: str, at: datetime | None = None, reason: str = "left the meeting"
) -> ParticipantRow:
    instance = meeting.instances[-1] if meeting.instances else None
    row = next((r for r in instance.rows if r.user_id == user_id and r.leave_time is None), None) if instance else None
    if instance is None or row is None:
        raise ZoomFault(404, 3001, f"Participant {user_id} is not in the meeting.")
    row.leave_time = max(at or emu.now(), row.join_time)
    obj = _meeting_object(meeting, instance, string_id=True)
    obj["participant"] = _participant_object(row, leaving=True, reason=reason)
    emu.webhooks.emit("meeting.participant_left", obj, _ms(row.leave_time))
    return row


def run_script(emu: Emulator, meeting: Meeting, body: dict[str, Any]) -> dict[str, object]:
    """Steps at explicit offsets from `start_time` (default now), so a past meeting builds at once.
    Steps: {"at_seconds", "action": start|join|leave|end, ...}; a join may carry "as": a label that
    later leave steps use instead of the user id."""
    base = parse_time(body["start_time"], "start_time") if body.get("start_time") else emu.now()
    labels: dict[str, str] = {}
    for step in sorted(body.get("script") or [], key=lambda s: float(s.get("at_seconds", 0))):
        moment = base + timedelta(seconds=float(step.get("at_seconds", 0)))
        action = step.get("action")
        if action == "start":
            start(emu, meeting, moment)
        elif action == "end":
            end(emu, meeting, moment)
        elif action == "join":
            row = join(emu, meeting, {**step, "join_time": iso(moment)})
            labels[str(step.get("as") or row.user_id)] = row.user_id
        elif action == "leave":
            label = str(step.get("as") or step.get("user_id"))
            leave(emu, meeting, labels.get(label, label), moment)
        else:
            raise ZoomFault(400, 300, "Validation Failed.", [{"field": "script.action", "message": "Invalid field."}])
    return {"user_ids": labels}


def run_random(emu: Emulator, meeting: Meeting, params: dict[str, Any]) -> dict[str, object]:
    """A whole meeting drawn from the registrants with a seeded generator, ended at once."""
    import random

    draw = random.Random(int(params.get("seed", 0)))
    minutes = meeting.duration
    base = (
        parse_time(params["start_time"], "start_time")
        if params.get("start_time")
        else emu.now() - timedelta(minutes=minutes)
    )
    start(emu, meeting, base)
    people = list(meeting.registrants.values())[: int(params.get("participants", len(meeting.registrants)))]
    for registrant in people:
        joined = draw.uniform(0, minutes * 0.3)
        stays = 2 if draw.random() < float(params.get("rejoin_probability", 0.1)) else 1
        for _ in range(stays):
            left = min(minutes, joined + draw.uniform(minutes * 0.2, minutes))
            row = join(
                emu, meeting, {"registrant_id": registrant.id, "join_time": iso(base + timedelta(minutes=joined))}
            )
            leave(emu, meeting, row.user_id, base + timedelta(minutes=left))
            joined = min(minutes, left + draw.uniform(0, 5))
    for index in range(int(params.get("guests", 0))):
        row = join(emu, meeting, {"name": f"Guest {index + 1}", "guest": True, "join_time": iso(base)})
        leave(emu, meeting, row.user_id, base + timedelta(minutes=minutes * draw.uniform(0.1, 1)))
    for _ in range(int(params.get("dial_ins", 0))):
        row = join(emu, meeting, {"phone": True, "join_time": iso(base)})
        leave(emu, meeting, row.user_id, base + timedelta(minutes=minutes * draw.uniform(0.1, 1)))
    end(emu, meeting, base + timedelta(minutes=minutes))
    return {"participants": len(meeting.instances[-1].rows)}


def load_report(emu: Emulator, meeting: Meeting, body: dict[str, Any]) -> Instance:
    """An ended instance with the given rows, without webhooks: for 1k/10k-row benchmarks."""
    started = parse_time(body["start_time"], "start_time") if body.get("start_time") else emu.now() - timedelta(hours=1)
    ended = (
        parse_time(body["end_time"], "end_time")
        if body.get("end_time")
        else started + timedelta(minutes=meeting.duration)
    )
    instance = Instance(
        uuid=str(body.get("uuid") or (meeting.uuid if not meeting.instances else new_uuid())),
        start_time=started,
        end_time=ended,
    )
    for raw in body.get("participants") or []:
        instance.rows.append(
            ParticipantRow(
                user_id=str(raw.get("user_id") or 16_000_000 + secrets.randbelow(9_000_000)),
                zoom_id=str(raw.get("id") or ""),
                participant_user_id=str(raw.get("participant_user_id") or ""),
                name=str(raw.get("name") or ""),
                user_email=str(raw.get("user_email") or ""),
                join_time=parse_time(raw["join_time"], "join_time"),
                leave_time=parse_time(raw["leave_time"], "leave_time") if raw.get("leave_time") else ended,
                registrant_id=str(raw.get("registrant_id") or ""),
                customer_key=str(raw.get("customer_key") or ""),
            )
        )
    meeting.instances.append(instance)
    return instance
