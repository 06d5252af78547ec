"""Participant reports and past-meeting data: one row per join, paginated with expiring tokens."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from zoom_emulator.core import Emulator, ZoomFault
from zoom_emulator.gate import zoom_operation
from zoom_emulator.state import Instance, Meeting, iso

__all__ = ["routes"]


def _instance(emu: Emulator, request: Request) -> tuple[Meeting, Instance]:
    """A numeric id means the latest ended instance; anything else is an instance UUID. The server
    has decoded the path once; Zoom wants UUIDs with "/" double-encoded, so decode once more."""
    raw = request.path_params["meeting_id"]
    # One decoding has happened. A UUID that starts with "/" or contains "//" arrives intact only
    # when the client encoded it twice; sent encoded once, Zoom does not find it either.
    if raw.startswith("/") or "//" in raw:
        raise ZoomFault(404, 3001, f"Meeting {raw} is not found or has expired.")
    if raw.isdigit():
        meeting = emu.store.meetings.get(int(raw))
        ended = [i for i in meeting.instances if i.end_time is not None] if meeting else []
        if meeting is None or not ended:
            raise ZoomFault(404, 3001, f"Meeting {raw} is not found or has expired.")
        return meeting, ended[-1]
    found = emu.store.meeting_for_uuid(unquote(raw))
    if found is None or found[1].end_time is None:
        raise ZoomFault(404, 3001, f"Meeting {raw} is not found or has expired.")
    return found


def _rows(emu: Emulator, instance: Instance, with_registrant_id: bool) -> list[dict[str, object]]:
    # Zoom lists only meetings that had two or more participants.
    people = {row.zoom_id or row.name for row in instance.rows}
    if len(people) < 2:
        return []
    now = instance.end_time or emu.now()
    return [row.as_report(now, with_registrant_id) for row in sorted(instance.rows, key=lambda r: r.join_time)]


@zoom_operation("report_participants")
async def report_participants(emu: Emulator, request: Request) -> Response:
    _, instance = _instance(emu, request)
    fields = request.query_params.get("include_fields", "")
    rows = _rows(emu, instance, "registrant_id" in fields.split(","))
    return JSONResponse(emu.page(rows, f"report:{instance.uuid}", dict(request.query_params), 30, "participants"))


@zoom_operation("past_participants")
async def past_participants(emu: Emulator, request: Request) -> Response:
    _, instance = _instance(emu, request)
    # The same participant fields as the report (zoom-api.md lists them for both endpoints).
    rows = _rows(emu, instance, True)
    return JSONResponse(emu.page(rows, f"past:{instance.uuid}", dict(request.query_params), 30, "participants"))


@zoom_operation("past_instances")
async def past_instances(emu: Emulator, request: Request) -> Response:
    raw = request.path_params["meeting_id"]
    meeting = emu.store.meetings.get(int(raw)) if raw.isdigit() else None
    if meeting is None:
        raise ZoomFault(404, 3001, f"Meeting {raw} is not found or has expired.")
    ended = [i for i in meeting.instances if i.end_time is not None]
    return JSONResponse({"meetings": [{"uuid": i.uuid, "start_time": iso(i.start_time)} for i in ended]})


def routes() -> list[tuple[str, Callable[[Request], Awaitable[Response]], list[str]]]:
    return [
        # `path`: a UUID may hold a "/" that the server has already decoded from %2F.
        ("/v2/report/meetings/{meeting_id:path}/participants", report_participants, ["GET"]),
        ("/v2/past_meetings/{meeting_id:path}/participants", past_participants, ["GET"]),
        ("/v2/past_meetings/{meeting_id}/instances", past_instances, ["GET"]),
    ]
