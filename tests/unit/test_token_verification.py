"""Forged, stale and malformed tokens are refused with UNAUTHENTICATED; good ones name a Principal."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from common.errors import Unauthenticated
from common.grpc.auth import BearerAuthenticator
from common.security.dev_tokens import mint_dev_token
from common.security.tokens import DevTokenVerifier, JwksTokenVerifier

KEY = "k" * 40
VERIFIER = DevTokenVerifier(KEY, issuer="rollcall-dev", audience="rollcall")
USER = uuid.uuid4()


def _now() -> datetime:
    """Read when a token is made: a time fixed at import goes stale in a long test run."""
    return datetime.now(UTC)


def claims(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "sub": str(USER),
        "role": "teacher",
        "iss": "rollcall-dev",
        "aud": "rollcall",
        "iat": int(_now().timestamp()),
        "nbf": int(_now().timestamp()),
        "exp": int((_now() + timedelta(hours=1)).timestamp()),
    }
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


def signed(payload: dict[str, object], key: str = KEY, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, key, algorithm=algorithm)


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unsigned(payload: dict[str, object]) -> str:
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(payload)}."


def tampered() -> str:
    header, _, signature = signed(claims()).split(".")
    return f"{header}.{_b64(claims(role='admin'))}.{signature}"


FORGERIES: dict[str, Callable[[], str]] = {
    "alg none": lambda: unsigned(claims(role="admin")),
    "wrong key": lambda: signed(claims(), key="x" * 40),
    "other HMAC algorithm": lambda: signed(claims(), key=KEY * 2, algorithm="HS512"),
    "tampered payload": tampered,
    "expired": lambda: signed(claims(exp=int((_now() - timedelta(minutes=5)).timestamp()))),
    "not yet valid": lambda: signed(claims(nbf=int((_now() + timedelta(minutes=5)).timestamp()))),
    "wrong issuer": lambda: signed(claims(iss="https://evil.example")),
    "wrong audience": lambda: signed(claims(aud="another-app")),
    "no expiry": lambda: signed(claims(exp=None)),
    "no subject": lambda: signed(claims(sub=None)),
    "subject not a user id": lambda: signed(claims(sub="admin")),
    "unknown role": lambda: signed(claims(role="superuser")),
    "oversized": lambda: signed(claims(padding="x" * 9000)),
    "not a JWT": lambda: "definitely-not-a-token",
    "empty": lambda: "",
}


@pytest.mark.parametrize("forgery", FORGERIES.values(), ids=FORGERIES.keys())
async def test_forged_or_stale_tokens_are_refused(forgery: Callable[[], str]) -> None:
    with pytest.raises(Unauthenticated):
        await VERIFIER.verify(forgery())


async def test_a_minted_development_token_names_the_user_role_and_scopes() -> None:
    token = mint_dev_token(
        KEY, subject=USER, role="service", issuer="rollcall-dev", audience="rollcall", scopes=("attendance.read",)
    )
    principal = await VERIFIER.verify(token)
    assert (principal.user_id, principal.role, principal.scopes) == (USER, "service", frozenset({"attendance.read"}))


async def test_production_refuses_hmac_tokens_signed_with_the_public_key() -> None:
    """Algorithm confusion: an HS256 token whose secret is the identity provider's public key."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # PyJWT itself refuses to sign this way, so the token is put together by hand.
    header = _b64({"alg": "HS256", "typ": "JWT"})
    body = _b64(claims(iss="https://idp.example", role="admin"))
    mac = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    verifier = JwksTokenVerifier(
        "https://idp.example/.well-known/jwks.json", issuer="https://idp.example", audience="rollcall"
    )
    with pytest.raises(Unauthenticated, match="algorithm"):
        await verifier.verify(forged)


@pytest.mark.parametrize(
    "metadata",
    [
        [],
        [("authorization", "Basic dXNlcjpwYXNz")],
        [("authorization", "Bearer ")],
        [("authorization", "Bearer a.b.c"), ("authorization", "Bearer d.e.f")],
    ],
)
async def test_calls_without_exactly_one_bearer_token_are_refused(metadata: list[tuple[str, str | bytes]]) -> None:
    with pytest.raises(Unauthenticated):
        await BearerAuthenticator(VERIFIER)("/rollcall.attendance.v1.AttendanceService/GetMeetingAttendance", metadata)


async def test_health_and_reflection_need_no_token() -> None:
    authenticate = BearerAuthenticator(VERIFIER)
    assert await authenticate("/grpc.health.v1.Health/Check", []) is None
    assert await authenticate("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", []) is None
