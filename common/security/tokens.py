"""Bearer token verification: production tokens against the identity provider's JWKS, development
tokens against the local HS256 key. Algorithms are pinned per mode, so `alg: none` and algorithm
confusion (an HS256 token signed with a public key) are refused.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import jwt

from common.config import ConfigError, Settings
from common.errors import Unauthenticated
from common.security.dev_tokens import DEV_ALGORITHM
from common.security.principal import ROLES, Principal

__all__ = ["MAX_TOKEN_BYTES", "DevTokenVerifier", "JwksTokenVerifier", "TokenVerifier", "verifier_from_settings"]

MAX_TOKEN_BYTES = 8192  # larger tokens are refused before parsing
_LEEWAY_SECONDS = 30
_PRODUCTION_ALGORITHMS = ("RS256", "ES256", "PS256")
_REQUIRED = ["exp", "iat", "sub", "iss", "aud"]


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> Principal: ...


def _principal(claims: dict[str, Any]) -> Principal:
    role = claims.get("role")
    if role not in ROLES:
        raise Unauthenticated("token has no valid role claim")
    try:
        user_id = uuid.UUID(str(claims["sub"]))
    except ValueError:
        raise Unauthenticated("token subject is not a user id") from None
    scope = claims.get("scope", "")
    scopes = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
    return Principal(user_id=user_id, role=role, scopes=scopes)


def _check_shape(token: str) -> None:
    if not token or len(token.encode()) > MAX_TOKEN_BYTES:
        raise Unauthenticated("bearer token missing or too large")
    if token.count(".") != 2:
        raise Unauthenticated("bearer token is not a JWT")


@dataclass(frozen=True, slots=True)
class DevTokenVerifier:
    """Development mode only: HS256 under the key in `.rollcall/dev-jwt.key`."""

    key: str
    issuer: str
    audience: str

    async def verify(self, token: str) -> Principal:
        _check_shape(token)
        try:
            claims = jwt.decode(
                token,
                self.key,
                algorithms=[DEV_ALGORITHM],
                issuer=self.issuer,
                audience=self.audience,
                leeway=_LEEWAY_SECONDS,
                options={"require": _REQUIRED},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid token: {type(exc).__name__}") from None
        return _principal(claims)


class JwksTokenVerifier:
    """Production: asymmetric tokens from the school's identity provider. Keys are cached and the
    key set is fetched again when a token names an unknown `kid` (key rotation)."""

    def __init__(self, jwks_url: str, *, issuer: str, audience: str) -> None:
        self._client = jwt.PyJWKClient(jwks_url, cache_jwk_set=True, lifespan=300, timeout=5)
        self._issuer = issuer
        self._audience = audience

    async def verify(self, token: str) -> Principal:
        _check_shape(token)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("invalid token header") from None
        if header.get("alg") not in _PRODUCTION_ALGORITHMS:
            raise Unauthenticated("token algorithm not accepted")
        try:
            signing_key = await asyncio.to_thread(self._client.get_signing_key_from_jwt, token)
            claims = jwt.decode(
                token,
                signing_key.key,
                algorithms=list(_PRODUCTION_ALGORITHMS),
                issuer=self._issuer,
                audience=self._audience,
                leeway=_LEEWAY_SECONDS,
                options={"require": _REQUIRED},
            )
        except jwt.PyJWKClientError:
            raise Unauthenticated("token signed by an unknown key") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid token: {type(exc).__name__}") from None
        return _principal(claims)


def verifier_from_settings(settings: Settings) -> TokenVerifier:
    """The verifier for the configured mode; development needs the key `rollcall run` generates."""
    auth = settings.auth
    if auth.mode == "production":
        assert auth.jwks_url is not None  # Settings refuses production mode without it
        return JwksTokenVerifier(auth.jwks_url, issuer=auth.issuer, audience=auth.audience)
    if not auth.dev_signing_key:
        raise ConfigError("ROLLCALL_DEV_JWT_KEY is required in development mode (`rollcall run` sets it)")
    if len(auth.dev_signing_key) < 32:
        raise ConfigError("ROLLCALL_DEV_JWT_KEY must be at least 32 characters")
    return DevTokenVerifier(auth.dev_signing_key, issuer=auth.issuer, audience=auth.audience)
