"""The admin API under /_emulator: set faults and switches, seed meetings, simulate meetings, and
read back exactly what the emulator holds so tests can check exactly-once effects from outside."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from zoom_emulator import simulation
from zoom_emulator.core import Emulator, ZoomFault, zoom_error
from zoom_emulator.meetings import find_meeting, parse_time
from zoom_emulator.state import Meeting, new_uuid

__all__ = ["routes"]


def _emu(request: Request) -> Emulator:
    emulator: Emulator = request.app.state.emulator
    return emulator


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise ZoomFault(400, 300, "Request Body should be a valid JSON object.") from None
    if not isinstance(body, dict):
        raise ZoomFault(400, 300, "Request Body should be a valid JSON object.")
    return body


AdminHandler = Callable[[Emulator, Request], Awaitable[Response]]


def _admin(handler: AdminHandler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(_emu(request), request)
        except ZoomFault as refused:
            return zoom_error(refused)
        except (KeyError, TypeError, ValueError) as exc:
            return JSONResponse({"code": 300, "message": f"bad admin request: {exc}"}, status_code=400)

    return endpoint


async def health(emu: Emulator, request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def reset(emu: Emulator, request: Request) -> Response:
    webhooks = emu.webhooks
    emu.reset()
    webhooks.sent.clear()
    webhooks.url, webhooks.secret = emu.config.webhook_url, emu.config.webhook_secret
    return JSONResponse({"status": "reset"})


async def get_config(emu: Emulator, request: Request) -> Response:
    return JSONResponse(emu.config.as_dict())


async def put_config(emu: Emulator, request: Request) -> Response:
    body = await _body(request)
    config = emu.config
    faults = body.pop("faults", None)
    if isinstance(faults, dict):
        config.faults = dataclasses.replace(config.faults, **{k: float(v) for k, v in faults.items()})
        if not 0 <= config.faults.total() <= 1:
            raise ValueError("fault shares must add up to at most 1")
    for key, value in body.items():
        if key == "seed":
            config.seed = int(value)
            emu.rng.seed(config.seed)
        elif key == "webhook_retry_delays_seconds":
            config.webhook_retry_delays_seconds = tuple(float(v) for v in value)
            emu.webhooks.retry_delays = config.webhook_retry_delays_seconds
        elif key in config.as_dict() or key == "webhook_secret":
            setattr(config, key, value)
        else:
            raise KeyError(key)
    if config.plan not in ("pro", "business"):
        raise ValueError("plan must be pro or business")
    emu.webhooks.url, emu.webhooks.secret = config.webhook_url, config.webhook_secret
    emu.buckets.clear()
    return JSONResponse(config.as_dict())


async def put_meeting(emu: Emulator, request: Request) -> Response:
    meeting_id = int(request.path_params["meeting_id"])
    body = await _body(request)
    existing = emu.store.meetings.get(meeting_id)
    meeting = Meeting(
        id=meeting_id,
        uuid=str(body.get("uuid") or (existing.uuid if existing else new_uuid())),
        host_id=str(body.get("host_id") or "me"),
        topic=str(body.get("topic") or "Zoom Meeting"),
        type=int(body.get("type", 2)),
        start_time=parse_time(body["start_time"], "start_time") if body.get("start_time") else None,
        duration=int(body.get("duration", 60)),
        timezone=str(body.get("timezone") or "UTC"),
        approval_type=int(body.get("approval_type", 0)),
    )
    if existing is not None:
        meeting.registrants, meeting.instances = existing.registrants, existing.instances
    emu.store.meetings[meeting_id] = meeting
    return JSONResponse(meeting.as_dict(), status_code=200 if existing else 201)


def _meeting_state(meeting: Meeting) -> dict[str, object]:
    return {
        **meeting.as_dict(),
        "registrants": [
            {**r.as_dict(), "add_calls": r.add_calls, "status_updates": r.status_updates}
            for r in meeting.registrants.values()
        ],
        "instances": [
            {
                "uuid": i.uuid,
                "start_time": i.start_time.isoformat(),
                "end_time": i.end_time.isoformat() if i.end_time else None,
                "participants": [
                    {"user_id": r.user_id, "name": r.name, "in_meeting": r.leave_time is None} for r in i.rows
                ],
            }
            for i in meeting.instances
        ],
    }


async def get_meeting(emu: Emulator, request: Request) -> Response:
    return JSONResponse(_meeting_state(find_meeting(emu, int(request.path_params["meeting_id"]))))


async def state(emu: Emulator, request: Request) -> Response:
    store = emu.store
    return JSONResponse(
        {
            "token_requests": store.token_requests,
            "calls": dict(store.calls),
            "rate_limited": {"QPS": store.rate_limited["QPS"], "Daily-limit": store.rate_limited["Daily-limit"]},
            "faults": dict(store.faults),
            "webhooks": [event.as_dict(i) for i, event in enumerate(emu.webhooks.sent)],
            "meetings": {str(m.id): {"registrants": _meeting_state(m)["registrants"]} for m in store.meetings.values()},
        }
    )


async def start(emu: Emulator, request: Request) -> Response:
    body = await _body(request)
    meeting = find_meeting(emu, int(request.path_params["meeting_id"]))
    instance = simulation.start(
        emu, meeting, parse_time(body["start_time"], "start_time") if body.get("start_time") else None
    )
    return JSONResponse({"uuid": instance.uuid})


async def end(emu: Emulator, request: Request) -> Response:
    body = await _body(request)
    meeting = find_meeting(emu, int(request.path_params["meeting_id"]))
    instance = simulation.end(emu, meeting, parse_time(body["end_time"], "end_time") if body.get("end_time") else None)
    return JSONResponse({"uuid": instance.uuid})


async def join(emu: Emulator, request: Request) -> Response:
    meeting = find_meeting(emu, int(request.path_params["meeting_id"]))
    row = simulation.join(emu, meeting, await _body(request))
    return JSONResponse({"user_id": row.user_id, "name": row.name})


async def leave(emu: Emulator, request: Request) -> Response:
    body = await _body(request)
    meeting = find_meeting(emu, int(request.path_params["meeting_id"]))
    at = parse_time(body["leave_time"], "leave_time") if body.get("leave_time") else None
    row = simulation.leave(emu, meeting, str(body["user_id"]), at)
    return JSONResponse({"user_id": row.user_id})


async def simulate(emu: Emulator, request: Request) -> Response:
    body = await _body(request)
    meeting = find_meeting(emu, int(request.path_params["meeting_id"]))
    if "random" in body:
        return JSONResponse(simulation.run_random(emu, meeting, body["random"]))
    return JSONResponse(simulation.run_script(emu, meeting, body))


async def put_report(emu: Emulator, request: Request) -> Response:
    meeting = find_meeting(emu, int(request.path_params["meeting_id"]))
    instance = simulation.load_report(emu, meeting, await _body(request))
    return JSONResponse({"uuid": instance.uuid, "rows": len(instance.rows)})


async def validate_webhook(emu: Emulator, request: Request) -> Response:
    return JSONResponse(await emu.webhooks.validate())


async def replay_webhook(emu: Emulator, request: Request) -> Response:
    index = int((await _body(request))["index"])
    if not 0 <= index < len(emu.webhooks.sent):
        raise ValueError("no such event")
    emu.webhooks.replay(index)
    return JSONResponse({"replayed": index})


def routes() -> list[tuple[str, Callable[[Request], Awaitable[Response]], list[str]]]:
    table: list[tuple[str, AdminHandler, list[str]]] = [
        ("/_emulator/health", health, ["GET"]),
        ("/_emulator/reset", reset, ["POST"]),
        ("/_emulator/config", get_config, ["GET"]),
        ("/_emulator/config", put_config, ["PUT"]),
        ("/_emulator/state", state, ["GET"]),
        ("/_emulator/meetings/{meeting_id:int}", put_meeting, ["PUT"]),
        ("/_emulator/meetings/{meeting_id:int}", get_meeting, ["GET"]),
        ("/_emulator/meetings/{meeting_id:int}/start", start, ["POST"]),
        ("/_emulator/meetings/{meeting_id:int}/end", end, ["POST"]),
        ("/_emulator/meetings/{meeting_id:int}/participants/join", join, ["POST"]),
        ("/_emulator/meetings/{meeting_id:int}/participants/leave", leave, ["POST"]),
        ("/_emulator/meetings/{meeting_id:int}/simulate", simulate, ["POST"]),
        ("/_emulator/meetings/{meeting_id:int}/report", put_report, ["PUT"]),
        ("/_emulator/webhooks/validate", validate_webhook, ["POST"]),
        ("/_emulator/webhooks/replay", replay_webhook, ["POST"]),
    ]
    return [(path, _admin(handler), methods) for path, handler, methods in table]
