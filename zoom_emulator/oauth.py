"""Server-to-Server OAuth: `POST /oauth/token` with Basic credentials and the account id."""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from zoom_emulator.core import Emulator

__all__ = ["token"]

_SCOPES = "meeting:read:admin meeting:write:admin report:read:admin"


def _credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return client_id, secret


async def token(request: Request) -> Response:
    emu: Emulator = request.app.state.emulator
    emu.store.token_requests += 1
    # A form body; parsed by hand because Starlette's form parser needs python-multipart.
    form = {key: values[0] for key, values in parse_qs((await request.body()).decode(errors="replace")).items()}
    given = _credentials(request)
    expected = emu.credentials
    if given is None or not (
        hmac.compare_digest(given[0], expected.client_id) and hmac.compare_digest(given[1], expected.client_secret)
    ):
        # Zoom answers token errors in its own {reason, error} shape, not {code, message}.
        return JSONResponse(
            {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}, status_code=400
        )
    if form.get("grant_type") != "account_credentials":
        return JSONResponse({"reason": "Unsupported grant type", "error": "unsupported_grant_type"}, status_code=400)
    if form.get("account_id") != expected.account_id:
        return JSONResponse({"reason": "Account does not exist", "error": "invalid_request"}, status_code=400)
    value = secrets.token_urlsafe(32)
    emu.store.tokens[value] = emu.now().timestamp() + emu.config.token_ttl_seconds
    return JSONResponse(
        {"access_token": value, "token_type": "bearer", "expires_in": emu.config.token_ttl_seconds, "scope": _SCOPES}
    )
