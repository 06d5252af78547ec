"""Idempotency keys: the first response to (caller, method, key) is kept; a repeat gets it back and
the same key with a different request is refused. Responses are opaque bytes (serialized messages).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from common.errors import AlreadyExists, FailedPrecondition, FieldViolation, InvalidArgument, NotFound, PermissionDenied

__all__ = ["MAX_KEY_LENGTH", "Idempotency", "request_fingerprint"]

MAX_KEY_LENGTH = 128

_CLAIM = text(
    "INSERT INTO idempotency_keys (principal_id, method, key, request_hash) "
    "VALUES (:principal_id, :method, :key, :request_hash) ON CONFLICT DO NOTHING RETURNING 1"
)
_EARLIER = text(
    "SELECT request_hash, response FROM idempotency_keys WHERE principal_id = :principal_id AND method = :method "
    "AND key = :key"
)
_REMEMBER = text(
    "UPDATE idempotency_keys SET response = :response WHERE principal_id = :principal_id AND method = :method "
    "AND key = :key"
)
_RELEASE = text(
    "DELETE FROM idempotency_keys WHERE principal_id = :principal_id AND method = :method AND key = :key "
    "AND response IS NULL"
)
# Refusals made before anything was done: the key stays free for the corrected request.
_REFUSALS = (InvalidArgument, PermissionDenied, NotFound, FailedPrecondition, AlreadyExists)
_FORGET_OLD = text("DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => :seconds)")


def request_fingerprint(serialized_request: bytes) -> bytes:
    return hashlib.sha256(serialized_request).digest()


class Idempotency:
    """Runs an operation at most once per key, as far as its response goes.

    The operation itself must be safe to repeat (a crash between it and remembering its response
    runs it again on the next call): rollcall's mutations are, since they skip what is stored.
    """

    def __init__(self, open_session: Callable[[], AbstractAsyncContextManager[AsyncSession]]) -> None:
        self._open = open_session

    async def run(
        self,
        principal_id: str,
        method: str,
        key: str,
        serialized_request: bytes,
        operation: Callable[[], Awaitable[bytes]],
    ) -> bytes:
        if not key:
            return await operation()
        if len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise InvalidArgument(FieldViolation("request_id", f"must be 1 to {MAX_KEY_LENGTH} printable characters"))
        ids = {"principal_id": principal_id, "method": method, "key": key}
        fingerprint = request_fingerprint(serialized_request)
        async with self._open() as session:
            claimed = (await session.execute(_CLAIM, {**ids, "request_hash": fingerprint})).first()
            if claimed is None:
                earlier = (await session.execute(_EARLIER, ids)).one()
                if bytes(earlier.request_hash) != fingerprint:
                    raise FailedPrecondition(
                        "this request_id was already used with a different request", reason="IDEMPOTENCY_KEY_REUSED"
                    )
                if earlier.response is not None:
                    return bytes(earlier.response)
        try:
            response = await operation()
        except _REFUSALS:
            # A refused request stores nothing, not even its key; a failure that may have done part
            # of the work (Zoom or the database down) keeps the claim, so another request cannot
            # take the key while a repeat of this one still runs it again.
            async with self._open() as session:
                await session.execute(_RELEASE, ids)
            raise
        async with self._open() as session:
            await session.execute(_REMEMBER, {**ids, "response": response})
        return response

    async def forget_older_than(self, seconds: float) -> int:
        """Drops keys past their retention; returns how many."""
        async with self._open() as session:
            result = await session.execute(_FORGET_OLD, {"seconds": seconds})
        return int(getattr(result, "rowcount", 0) or 0)
