"""Development tokens for tests, signed with the key the test processes are given."""

from __future__ import annotations

import uuid

from common.security.dev_tokens import mint_dev_token

__all__ = ["TEST_JWT_KEY", "bearer", "token_for"]

TEST_JWT_KEY = "test-signing-key-" + uuid.uuid4().hex  # a new key per test run


def token_for(user_id: uuid.UUID, role: str, *scopes: str) -> str:
    return mint_dev_token(
        TEST_JWT_KEY, subject=user_id, role=role, issuer="rollcall-dev", audience="rollcall", scopes=scopes
    )


def bearer(user_id: uuid.UUID, role: str, *scopes: str) -> tuple[tuple[str, str]]:
    """gRPC metadata carrying a token for `user_id` acting as `role`."""
    return (("authorization", f"Bearer {token_for(user_id, role, *scopes)}"),)
