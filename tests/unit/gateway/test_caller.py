"""What the gateway passes on: the client IP only from the trusted proxy header when one is set,
request ids, the caller's authorization header, and its own service token."""

from __future__ import annotations

import jwt
import pytest
from starlette.requests import Request

from common.config import AuthSettings, Settings
from gateway.caller import GATEWAY_SUBJECT, ServiceToken, authorization_of, client_ip, request_id_of
from gateway.config import GatewaySettings
from gateway.errors import ApiError

KEY = "k" * 40


def _request(headers: dict[str, str], peer: str = "10.1.2.3") -> Request:
    raw = [(name.encode(), value.encode("latin-1")) for name, value in headers.items()]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": raw, "client": (peer, 5555)})


def test_without_a_trusted_header_the_socket_peer_is_the_client() -> None:
    request = _request({"x-forwarded-for": "203.0.113.9"})
    assert client_ip(request, None) == "10.1.2.3"


def test_with_a_trusted_header_its_last_entry_is_the_client() -> None:
    request = _request({"x-forwarded-for": "198.51.100.1, 203.0.113.9"})
    assert client_ip(request, "x-forwarded-for") == "203.0.113.9"


def test_a_missing_or_bad_trusted_header_gives_no_ip() -> None:
    assert client_ip(_request({}), "x-forwarded-for") is None
    assert client_ip(_request({"x-forwarded-for": "not-an-ip"}), "x-forwarded-for") is None


def test_request_ids_are_kept_when_sane_and_made_otherwise() -> None:
    assert request_id_of("abc-123") == "abc-123"
    assert len(request_id_of(None)) == 32
    assert request_id_of("bad id with spaces") != "bad id with spaces"
    assert len(request_id_of("x" * 200)) == 32


def test_the_authorization_header_passes_as_it_is_or_is_refused_when_garbled() -> None:
    assert authorization_of(_request({"authorization": "Bearer a.b.c"})) == "Bearer a.b.c"
    assert authorization_of(_request({})) is None
    with pytest.raises(ApiError) as raised:
        authorization_of(_request({"authorization": "Bearer \u00e9"}))
    assert raised.value.status == 401


def test_development_mints_a_gateway_service_token_and_renews_it() -> None:
    settings = Settings(auth=AuthSettings(dev_signing_key=KEY))
    now = [0.0]
    token = ServiceToken(settings, GatewaySettings(), clock=lambda: now[0])
    first = token.bearer()
    claims = jwt.decode(first.removeprefix("Bearer "), KEY, algorithms=["HS256"], audience="rollcall")
    assert claims["sub"] == str(GATEWAY_SUBJECT)
    assert claims["role"] == "service"
    assert set(claims["scope"].split()) == {"gateway", "zoom.webhooks"}
    assert token.bearer() == first
    now[0] = 31 * 60.0
    assert token.bearer() != first


def test_a_configured_service_token_is_used_as_it_is() -> None:
    token = ServiceToken(Settings(), GatewaySettings(service_token="h.p.s"))
    assert token.bearer() == "Bearer h.p.s"
