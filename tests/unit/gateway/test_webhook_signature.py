"""Zoom's webhook signature and URL validation, computed as /work/shared/zoom-api.md describes."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from gateway.errors import ApiError
from gateway.webhooks import sign, url_validation_answer, verify_signature

SECRET = "webhook-secret-token"
NOW = 1_795_478_400.0
BODY = b'{"event":"meeting.started","payload":{"object":{"id":1}}}'


def _zoom_signature(timestamp: str, body: bytes) -> str:
    message = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()


def test_a_signature_made_as_zoom_makes_it_verifies() -> None:
    timestamp = str(int(NOW) - 10)
    assert sign(SECRET, timestamp, BODY) == _zoom_signature(timestamp, BODY)
    assert verify_signature(SECRET, timestamp, _zoom_signature(timestamp, BODY), BODY, NOW) == int(NOW) - 10


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [
        (str(int(NOW)), _zoom_signature(str(int(NOW)), BODY + b" ")),  # body changed
        (str(int(NOW)), "v0=" + "0" * 64),
        (str(int(NOW)), ""),
        (None, _zoom_signature(str(int(NOW)), BODY)),
        ("not-a-number", _zoom_signature("not-a-number", BODY)),
        (str(int(NOW) - 301), _zoom_signature(str(int(NOW) - 301), BODY)),  # stale
        (str(int(NOW) + 301), _zoom_signature(str(int(NOW) + 301), BODY)),  # from the future
    ],
)
def test_a_bad_missing_or_stale_signature_is_401(timestamp: str | None, signature: str) -> None:
    with pytest.raises(ApiError) as raised:
        verify_signature(SECRET, timestamp, signature, BODY, NOW)
    assert raised.value.status == 401
    assert raised.value.code == "UNAUTHENTICATED"


def test_another_secret_does_not_verify() -> None:
    timestamp = str(int(NOW))
    with pytest.raises(ApiError):
        verify_signature("another-secret", timestamp, _zoom_signature(timestamp, BODY), BODY, NOW)


def test_url_validation_answers_the_hmac_of_the_plain_token() -> None:
    answer = url_validation_answer(SECRET, "qgg8vlvZRS6UYooatFL8Aw")
    expected = hmac.new(SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert answer == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected}
