"""Opaque page tokens for keyset pagination: the last row's key, tied to the listing's filters so a
token reused with other filters is refused rather than silently skipping rows."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence

from common.errors import FieldViolation, InvalidArgument

__all__ = ["decode_page_token", "encode_page_token", "page_size_of"]


def _fingerprint(filters: Sequence[object]) -> str:
    return hashlib.sha256(repr(tuple(filters)).encode()).hexdigest()[:12]


def encode_page_token(key: Sequence[str], filters: Sequence[object]) -> str:
    raw = json.dumps([*key, _fingerprint(filters)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_page_token(token: str, filters: Sequence[object], size: int) -> tuple[str, ...]:
    """The key of `size` strings inside `token`; INVALID_ARGUMENT for anything else."""
    problem = InvalidArgument(FieldViolation("page_token", "not a token from a previous page of this listing"))
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError):
        raise problem from None
    if (
        not isinstance(values, list)
        or len(values) != size + 1
        or not all(isinstance(v, str) and "\x00" not in v for v in values)
        or values[-1] != _fingerprint(filters)
    ):
        raise problem
    return tuple(values[:-1])


def page_size_of(value: int, *, default: int, maximum: int) -> int:
    if value < 0 or value > maximum:
        raise InvalidArgument(FieldViolation("page_size", f"must be within 0 and {maximum} (0 means {default})"))
    return value or default
