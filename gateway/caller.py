"""What the gateway tells a service about each call: the caller's token, the request id, and, for
the attendance service, the client IP vouched for by the gateway's own service token.

The client IP comes from the socket peer, or only from the configured trusted proxy header when one
is set (a client can write any header; only the proxy in front of the gateway is trusted).
"""

from __future__ import annotations

import ipaddress
import re
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from starlette.requests import Request

from common.config import ConfigError, Settings
from common.security.dev_tokens import mint_dev_token
from gateway.config import GatewaySettings
from gateway.errors import ApiError

__all__ = [
    "CLIENT_IP_HEADER",
    "GATEWAY_SCOPES",
    "GATEWAY_SUBJECT",
    "GATEWAY_TOKEN_HEADER",
    "REQUEST_ID_HEADER",
    "ServiceToken",
    "authorization_of",
    "client_ip",
    "request_id_of",
]

REQUEST_ID_HEADER = "x-request-id"
CLIENT_IP_HEADER = "x-rollcall-client-ip"
GATEWAY_TOKEN_HEADER = "x-rollcall-gateway-authorization"  # noqa: S105 -- a header name
# The gateway's service identity: it vouches for client IPs and forwards Zoom's webhooks.
GATEWAY_SCOPES = ("gateway", "zoom.webhooks")
GATEWAY_SUBJECT = uuid.uuid5(uuid.NAMESPACE_URL, "urn:rollcall:service:gateway")
_DEV_TOKEN_TTL = timedelta(hours=1)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_MAX_AUTHORIZATION_BYTES = 8300  # the services refuse tokens over 8 KiB anyway


class ServiceToken:
    """The gateway's own bearer token: from the environment in production; in development minted
    with the shared development key and minted again when half its life has passed."""

    def __init__(
        self, settings: Settings, gateway: GatewaySettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._static = gateway.service_token
        self._settings = settings
        self._clock = clock
        self._minted_at = 0.0
        self._token = ""
        if self._static is None and not settings.auth.dev_signing_key:
            raise ConfigError("ROLLCALL_DEV_JWT_KEY is required in development mode (`rollcall run` sets it)")

    def bearer(self) -> str:
        if self._static is not None:
            return f"Bearer {self._static}"
        now = self._clock()
        if not self._token or now - self._minted_at > _DEV_TOKEN_TTL.total_seconds() / 2:
            key = self._settings.auth.dev_signing_key
            assert key is not None  # checked in __init__
            self._token = mint_dev_token(
                key,
                subject=GATEWAY_SUBJECT,
                role="service",
                issuer=self._settings.auth.issuer,
                audience=self._settings.auth.audience,
                scopes=GATEWAY_SCOPES,
                ttl=_DEV_TOKEN_TTL,
            )
            self._minted_at = now
        return f"Bearer {self._token}"


def request_id_of(header: str | None) -> str:
    """The caller's request id when it is a sane token, else a new one."""
    if header and _REQUEST_ID.match(header):
        return header
    return uuid.uuid4().hex


def authorization_of(request: Request) -> str | None:
    """The caller's authorization header, passed on as it is; None when absent."""
    values = request.headers.getlist("authorization")
    if not values:
        return None
    value = values[0]
    if len(values) > 1 or len(value) > _MAX_AUTHORIZATION_BYTES or not (value.isascii() and value.isprintable()):
        raise ApiError(401, "UNAUTHENTICATED", "send one `authorization: Bearer <token>` header")
    return value


def client_ip(request: Request, trusted_header: str | None) -> str | None:
    """The client's IP address, or None when it cannot be trusted or read."""
    if trusted_header is None:
        candidate = request.client.host if request.client else None
    else:
        values = request.headers.getlist(trusted_header)
        # X-Forwarded-For grows to the right: the last entry is what the trusted proxy saw.
        candidate = values[-1].split(",")[-1].strip() if values else None
    if not candidate:
        return None
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None
