"""The Zoom client's HTTP transport, on aiohttp.

Single adds cost one Zoom request per registrant, so the request's CPU counts: sending the same
JSON POST back to back to a local server, httpx (its client layers, URL model and httpcore on
anyio) cost about 0.9 ms of CPU per request on this project's machine, aiohttp about 0.2 ms.
aiohttp's failures become `WireError`s that say whether the request can have reached Zoom.
"""

from __future__ import annotations

import aiohttp

from common.zoom._wire import BadUrl, HttpRequest, HttpResponse, WireError

__all__ = ["AiohttpTransport"]

_HEADERS = {"User-Agent": "rollcall-zoom/1", "Accept": "application/json"}


class AiohttpTransport:
    """One keep-alive connection pool for a Zoom client's calls.

    The session is made on first use, inside the running event loop that aiohttp binds it to.
    """

    def __init__(self, *, max_connections: int = 100) -> None:
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                headers=_HEADERS,
                # No proxy variables or .netrc: aiohttp would look them up in a thread per request.
                trust_env=False,
            )
        return self._session

    async def send(self, request: HttpRequest) -> HttpResponse:
        timeout = aiohttp.ClientTimeout(sock_connect=request.timeout_seconds, sock_read=request.timeout_seconds)
        try:
            async with self._open().request(
                request.method,
                request.url,
                data=request.body,
                headers=request.headers,
                timeout=timeout,
                allow_redirects=False,
            ) as answer:
                body = await answer.read()
                return HttpResponse(answer.status, answer.headers, body, answer.reason or "")
        except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as exc:
            raise BadUrl(type(exc).__name__) from exc
        except aiohttp.ClientError as exc:
            raise _wire_error(exc) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _wire_error(exc: aiohttp.ClientError) -> WireError:
    """Order matters: the classes nest (a connect timeout is a server timeout)."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return WireError("ConnectTimeout", sent=False)
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return WireError("ReadTimeout", sent=True)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return WireError("ConnectError", sent=False)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return WireError("ServerDisconnected", sent=True)
    return WireError(type(exc).__name__, sent=True)
