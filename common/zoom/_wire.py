"""What the Zoom client sends and gets back over HTTP, as plain values.

The client's hot path is one request per registrant, so these are kept minimal: no URL object
(the URL is built once as text), no lazy body streams. `HttpTransport` carries them: aiohttp in
the services (common.zoom._aiohttp), a scripted Zoom in unit tests. A failed exchange is a
`WireError` that says whether the request can have reached Zoom, which decides whether a
non-idempotent call may be retried and whether a daily allowance was spent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode

__all__ = ["BadUrl", "HttpRequest", "HttpResponse", "HttpTransport", "WireError", "http_request"]


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    url: str
    headers: Mapping[str, str] = field(repr=False)  # carries the token
    body: bytes | None = field(default=None, repr=False)
    timeout_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]  # looked up case-insensitively
    body: bytes = field(default=b"", repr=False)
    reason: str = ""

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not."""
        return json.loads(self.body)


class WireError(Exception):
    """No answer. `sent` is False only when the request cannot have reached the server (the
    connection was never made), True when it may have (dropped, timed out, unreadable answer)."""

    def __init__(self, kind: str, *, sent: bool) -> None:
        super().__init__(kind)
        self.kind = kind
        self.sent = sent


class BadUrl(Exception):
    """The configured URL cannot be requested (unknown scheme, malformed)."""


class HttpTransport(Protocol):
    async def send(self, request: HttpRequest) -> HttpResponse: ...

    async def aclose(self) -> None: ...


def http_request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    params: Mapping[str, str | int] | None = None,
    json_body: object = None,
    form: Mapping[str, str] | None = None,
    timeout_seconds: float | None = None,
) -> HttpRequest:
    """A request with its query string and body encoded (JSON or form, at most one)."""
    all_headers = dict(headers)
    body: bytes | None = None
    if json_body is not None:
        body = json.dumps(json_body, separators=(",", ":"), ensure_ascii=False).encode()
        all_headers["Content-Type"] = "application/json"
    elif form is not None:
        body = urlencode(form).encode()
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
    if params:
        url = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
    return HttpRequest(method, url, all_headers, body, timeout_seconds)
