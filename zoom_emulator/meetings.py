"""Meetings and registrants, as Zoom answers them (codes and messages from zoom-api.md)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from zoom_emulator.core import Emulator, ZoomFault
from zoom_emulator.gate import read_json, zoom_operation
from zoom_emulator.state import Meeting, Registrant, iso

__all__ = ["MAX_REGISTRANTS", "find_meeting", "parse_time", "routes"]

MAX_REGISTRANTS = 4999
_HOST_DAILY_LIMIT = 100
_REGISTRANT_DAILY_ADDS = 3
_REGISTRANT_DAILY_STATUS = 10


def parse_time(value: object, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ZoomFault(400, 300, "Validation Failed.", [{"field": field, "message": "Invalid field."}]) from None
    if moment.tzinfo is None:
        raise ZoomFault(400, 300, "Validation Failed.", [{"field": field, "message": "Invalid field."}])
    return moment


def _meeting_id(request: Request) -> int:
    raw = request.path_params["meeting_id"]
    if not raw.isdigit():
        raise ZoomFault(404, 3001, f"Meeting {raw} is not found or has expired.")
    return int(raw)


def find_meeting(emu: Emulator, meeting_id: int, message: str | None = None) -> Meeting:
    meeting = emu.store.meetings.get(meeting_id)
    if meeting is None:
        raise ZoomFault(404, 3001, message or f"Meeting {meeting_id} is not found or has expired.")
    return meeting


def _host_quota(emu: Emulator, host: str) -> None:
    if not emu.spend_daily("meeting-write", host, _HOST_DAILY_LIMIT):
        raise ZoomFault(
            429,
            429,
            "You have exceeded the daily rate limit (100) of Meeting Create/Update API requests permitted for "
            "this particular user. You can resume these API requests at GMT 00:00:00.",
        )


@zoom_operation("get_meeting")
async def get_meeting(emu: Emulator, request: Request) -> Response:
    return JSONResponse(find_meeting(emu, _meeting_id(request)).as_dict())


@zoom_operation("update_meeting")
async def update_meeting(emu: Emulator, request: Request) -> Response:
    meeting = find_meeting(emu, _meeting_id(request))
    body = await read_json(request)
    _host_quota(emu, meeting.host_id)
    if "topic" in body:
        meeting.topic = str(body["topic"])[:200]
    if "start_time" in body:
        meeting.start_time = parse_time(body["start_time"], "start_time")
    if "duration" in body:
        meeting.duration = int(body["duration"])
    settings = body.get("settings")
    if isinstance(settings, dict) and settings.get("approval_type") in (0, 1, 2):
        meeting.approval_type = int(settings["approval_type"])
    return Response(status_code=204)


@zoom_operation("create_meeting")
async def create_meeting(emu: Emulator, request: Request) -> Response:
    body = await read_json(request)
    host = request.path_params["user_id"]
    meeting_type = body.get("type", 2)
    errors = []
    if not isinstance(body.get("topic", ""), str) or len(body.get("topic", "")) > 200:
        errors.append({"field": "topic", "message": "Invalid field."})
    if meeting_type not in (1, 2, 3, 8):
        errors.append({"field": "type", "message": "Invalid field."})
    if errors:
        raise ZoomFault(400, 300, "Validation Failed.", errors)
    _host_quota(emu, host)
    settings = body.get("settings") if isinstance(body.get("settings"), dict) else {}
    meeting_id = 80_000_000_000 + secrets.randbelow(9_999_999_999)
    from zoom_emulator.state import new_uuid

    meeting = Meeting(
        id=meeting_id,
        uuid=new_uuid(),
        host_id="me" if host == "me" else host,
        topic=str(body.get("topic") or "Zoom Meeting"),
        type=int(meeting_type),
        start_time=parse_time(body["start_time"], "start_time") if body.get("start_time") else emu.now(),
        duration=int(body.get("duration") or 60),
        timezone=str(body.get("timezone") or "UTC"),
        approval_type=int(settings.get("approval_type", 2)) if settings else 2,
    )
    emu.store.meetings[meeting_id] = meeting
    return JSONResponse(meeting.as_dict(), status_code=201)


def _check_registrant(body: dict[str, object], index: str = "") -> tuple[str, str, str]:
    email = body.get("email")
    first = body.get("first_name")
    last = body.get("last_name") or ""
    errors = []
    if not isinstance(email, str) or "@" not in email or len(email) > 128:
        errors.append({"field": f"{index}email", "message": "Invalid field."})
    if not isinstance(first, str) or not first or len(first) > 64:
        errors.append({"field": f"{index}first_name", "message": "Invalid field."})
    if not isinstance(last, str) or len(last) > 64:
        errors.append({"field": f"{index}last_name", "message": "Invalid field."})
    if errors:
        raise ZoomFault(400, 300, "Validation Failed.", errors)
    return str(email), str(first), str(last)


def _registrable(meeting: Meeting) -> None:
    if meeting.type not in (2, 8) or meeting.approval_type == 2:
        raise ZoomFault(404, 404, f"Registration has not been enabled for this meeting: {meeting.id}.")


def _limit_key(emu: Emulator, meeting: Meeting, email: str) -> str:
    return email.lower() if emu.config.registrant_limit_scope == "email" else f"{meeting.id}:{email.lower()}"


def _daily_add_refusal(email: str) -> ZoomFault:
    return ZoomFault(
        429,
        429,
        "You have exceeded the daily rate limit of (3) for Add a meeting registrant API requests for the "
        f"registrant ({email}). You can resume these API requests at GMT 00:00:00.",
    )


def _register(emu: Emulator, meeting: Meeting, email: str, first: str, last: str) -> Registrant:
    """Same email, same registrant: Zoom answers the existing registration again (forum)."""
    existing = meeting.registrants.get(email.lower())
    if existing is not None:
        existing.add_calls += 1
        return existing
    if len(meeting.registrants) >= MAX_REGISTRANTS:
        raise ZoomFault(400, 3043, "Meeting has reached maximum attendee capacity.")
    registrant_id = secrets.token_urlsafe(16)
    automatic = meeting.approval_type == 0
    registrant = Registrant(
        id=registrant_id,
        email=email,
        first_name=first,
        last_name=last,
        status="approved" if automatic else "pending",
        join_url=f"{emu.base_url}/w/{meeting.id}?tk={secrets.token_urlsafe(12)}" if automatic else None,
        create_time=emu.now(),
        add_calls=1,
    )
    meeting.registrants[email.lower()] = registrant
    return registrant


@zoom_operation("add_registrant")
async def add_registrant(emu: Emulator, request: Request) -> Response:
    meeting_id = _meeting_id(request)
    body = await read_json(request)
    email, first, last = _check_registrant(body)
    meeting = find_meeting(emu, meeting_id, f"Meeting does not exist: {meeting_id}.")
    _registrable(meeting)
    if not emu.spend_daily("registrant-add", _limit_key(emu, meeting, email), _REGISTRANT_DAILY_ADDS):
        raise _daily_add_refusal(email)
    registrant = _register(emu, meeting, email, first, last)
    answer: dict[str, object] = {
        "id": meeting.id,
        "registrant_id": registrant.id,
        "topic": meeting.topic,
        "start_time": iso(meeting.start_time) if meeting.start_time else "",
        "occurrences": [],
        "participant_pin_code": 100000 + secrets.randbelow(900000),
    }
    if registrant.join_url:
        answer["join_url"] = registrant.join_url
    return JSONResponse(answer, status_code=201)


@zoom_operation("batch_registrants")
async def batch_registrants(emu: Emulator, request: Request) -> Response:
    meeting_id = _meeting_id(request)
    body = await read_json(request)
    people = body.get("registrants")
    if not isinstance(people, list) or not people or len(people) > 30:
        raise ZoomFault(400, 300, "Validation Failed.", [{"field": "registrants", "message": "Invalid field."}])
    checked = [
        _check_registrant(person if isinstance(person, dict) else {}, f"registrants[{i}].")
        for i, person in enumerate(people)
    ]
    meeting = find_meeting(emu, meeting_id, f"Meeting does not exist: {meeting_id}.")
    if meeting.type != 2:
        raise ZoomFault(
            400,
            303,
            "This API can only be used for scheduled meeting(meeting type: 2). Batch "
            "registration is not supported for other meeting types.",
        )
    _registrable(meeting)
    if meeting.is_over(emu.now()):
        raise ZoomFault(
            400,
            3038,
            "Meeting is over, you can not register now. If you have any questions, please contact the Meeting host.",
        )
    new = {email.lower() for email, _, _ in checked} - set(meeting.registrants)
    if len(meeting.registrants) + len(new) > MAX_REGISTRANTS:
        raise ZoomFault(404, 3043, "Meeting has reached maximum attendee capacity.")
    for email, _, _ in checked:
        if not emu.spend_daily("registrant-add", _limit_key(emu, meeting, email), _REGISTRANT_DAILY_ADDS):
            raise _daily_add_refusal(email)
    answers = []
    for email, first, last in checked:
        registrant = _register(emu, meeting, email, first, last)
        answers.append(
            {
                "email": registrant.email,
                "join_url": registrant.join_url or "",
                "registrant_id": registrant.id,
                "participant_pin_code": 100000 + secrets.randbelow(900000),
            }
        )
    return JSONResponse({"registrants": answers}, status_code=201)


@zoom_operation("list_registrants")
async def list_registrants(emu: Emulator, request: Request) -> Response:
    meeting = find_meeting(emu, _meeting_id(request))
    status = request.query_params.get("status", "approved")
    if status not in ("pending", "approved", "denied"):
        raise ZoomFault(400, 300, "Validation Failed.", [{"field": "status", "message": "Invalid field."}])
    items = [r.as_dict() for r in meeting.registrants.values() if r.status == status]
    key = f"registrants:{meeting.id}:{status}"
    return JSONResponse(emu.page(items, key, dict(request.query_params), 30, "registrants"))


@zoom_operation("registrant_status")
async def registrant_status(emu: Emulator, request: Request) -> Response:
    meeting = find_meeting(emu, _meeting_id(request))
    body = await read_json(request)
    action = body.get("action")
    targets = body.get("registrants")
    if action not in ("approve", "cancel", "deny") or not isinstance(targets, list):
        raise ZoomFault(400, 300, "Validation Failed.", [{"field": "action", "message": "Invalid field."}])
    by_id = {r.id: r for r in meeting.registrants.values()}
    for target in targets:
        target = target if isinstance(target, dict) else {}
        registrant = by_id.get(str(target.get("id", ""))) or meeting.registrants.get(
            str(target.get("email", "")).lower()
        )
        if registrant is None:
            continue
        if not emu.spend_daily("registrant-status", f"{meeting.id}:{registrant.id}", _REGISTRANT_DAILY_STATUS):
            raise ZoomFault(
                429,
                429,
                "You have exceeded the daily rate limit of (10) for Update registrant's status "
                "API requests for this registrant. You can resume at GMT 00:00:00.",
            )
        registrant.status_updates += 1
        registrant.status = {"approve": "approved", "cancel": "cancelled", "deny": "denied"}[str(action)]
        if registrant.status == "approved" and not registrant.join_url:
            registrant.join_url = f"{emu.base_url}/w/{meeting.id}?tk={secrets.token_urlsafe(12)}"
    return Response(status_code=204)


@zoom_operation("delete_registrant")
async def delete_registrant(emu: Emulator, request: Request) -> Response:
    meeting = find_meeting(emu, _meeting_id(request))
    wanted = request.path_params["registrant_id"]
    for email, registrant in list(meeting.registrants.items()):
        if registrant.id == wanted:
            del meeting.registrants[email]
            return Response(status_code=204)
    raise ZoomFault(404, 3001, f"Registrant {wanted} does not exist.")


def routes() -> list[tuple[str, Callable[[Request], Awaitable[Response]], list[str]]]:
    return [
        ("/v2/meetings/{meeting_id}", get_meeting, ["GET"]),
        ("/v2/meetings/{meeting_id}", update_meeting, ["PATCH"]),
        ("/v2/users/{user_id}/meetings", create_meeting, ["POST"]),
        ("/v2/meetings/{meeting_id}/registrants", add_registrant, ["POST"]),
        ("/v2/meetings/{meeting_id}/registrants", list_registrants, ["GET"]),
        ("/v2/meetings/{meeting_id}/batch_registrants", batch_registrants, ["POST"]),
        ("/v2/meetings/{meeting_id}/registrants/status", registrant_status, ["PUT"]),
        ("/v2/meetings/{meeting_id}/registrants/{registrant_id}", delete_registrant, ["DELETE"]),
    ]
