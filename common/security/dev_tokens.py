"""Development tokens: HS256 with a key generated on first `rollcall run` into the data directory.

Never used in production mode: the services then verify tokens from the school's identity
provider against its JWKS.
"""

from __future__ import annotations

import os
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt

__all__ = ["DEV_ALGORITHM", "load_or_create_dev_key", "mint_dev_token"]

DEV_ALGORITHM = "HS256"
_KEY_FILE = "dev-jwt.key"


def load_or_create_dev_key(data_dir: Path) -> str:
    """The development signing key, created once with 256 random bits and kept private (0600)."""
    path = data_dir / _KEY_FILE
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key + "\n")
    return key


def mint_dev_token(
    key: str,
    *,
    subject: uuid.UUID,
    role: str,
    issuer: str,
    audience: str,
    scopes: tuple[str, ...] = (),
    ttl: timedelta = timedelta(hours=8),
    now: datetime | None = None,
) -> str:
    """A signed token for `subject` acting as `role`; scopes matter for service identities."""
    issued = now or datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": str(subject),
        "role": role,
        "iss": issuer,
        "aud": audience,
        "iat": int(issued.timestamp()),
        "nbf": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    if scopes:
        claims["scope"] = " ".join(scopes)
    return jwt.encode(claims, key, algorithm=DEV_ALGORITHM)
