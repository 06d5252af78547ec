"""Development sign-in: pick a demo user and get a token, so a person can try the pages without
an identity provider. Only when ROLLCALL_AUTH_MODE=development and a development key is set;
otherwise the routes answer 404, as if they did not exist."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from common.config import Settings
from common.demo_school import DemoUser, build_demo_school
from common.security.dev_tokens import mint_dev_token

__all__ = ["dev_sign_in_routes"]

_TOKEN_LIFETIME = timedelta(hours=8)
_STUDENTS_SHOWN_PER_CLASS = 2
_MAX_BODY_BYTES = 1024


def _offered(today: date) -> list[DemoUser]:
    """The admin, every teacher and a couple of students of each class: enough to try each role."""
    school = build_demo_school(today)
    people = [school.admin]
    for school_class in school.classes:
        people.append(school_class.teacher)
        people.extend(school_class.students[:_STUDENTS_SHOWN_PER_CLASS])
    return people


def dev_sign_in_routes(settings: Settings) -> list[Route]:
    key = settings.auth.dev_signing_key
    if settings.auth.mode != "development" or not key:
        return []

    def _directory() -> dict[str, DemoUser]:
        school = build_demo_school(datetime.now(UTC).date())
        return {user.email.lower(): user for user in school.users if user.role != "service"}

    async def demo_users(request: Request) -> Response:
        offered = _offered(datetime.now(UTC).date())
        body = {"users": [{"email": u.email, "display_name": u.display_name, "role": u.role} for u in offered]}
        return JSONResponse(body, headers={"cache-control": "no-store"})

    async def tokens(request: Request) -> Response:
        raw = await request.body()
        try:
            if len(raw) > _MAX_BODY_BYTES:
                raise ValueError
            email = json.loads(raw)["email"]
            if not isinstance(email, str):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return _bad_request('send {"email": "..."} of a demo user')
        user = _directory().get(email.strip().lower())
        if user is None:
            return _bad_request("no demo user has that email")
        token = mint_dev_token(
            key,
            subject=user.id,
            role=user.role,
            issuer=settings.auth.issuer,
            audience=settings.auth.audience,
            ttl=_TOKEN_LIFETIME,
        )
        expire = (datetime.now(UTC) + _TOKEN_LIFETIME).strftime("%Y-%m-%dT%H:%M:%SZ")
        return JSONResponse({"token": token, "expire_time": expire}, headers={"cache-control": "no-store"})

    return [Route("/dev/demo-users", demo_users, methods=["GET"]), Route("/dev/tokens", tokens, methods=["POST"])]


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse({"code": "INVALID_ARGUMENT", "message": message, "details": []}, status_code=400)
