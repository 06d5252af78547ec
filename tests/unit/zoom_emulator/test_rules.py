"""The emulator's own rules, without a server: rate buckets and webhook signatures."""

from __future__ import annotations

import hashlib
import hmac

from zoom_emulator.ratelimit import TokenBuckets
from zoom_emulator.webhooks import sign


def test_a_client_pacing_exactly_at_the_limit_is_never_refused() -> None:
    buckets = TokenBuckets()
    decisions = [buckets.take("Light", 30, now=i / 30) for i in range(3000)]
    assert all(d.allowed for d in decisions)


def test_a_burst_beyond_one_seconds_worth_is_refused_and_says_when_to_retry() -> None:
    buckets = TokenBuckets()
    decisions = [buckets.take("Heavy", 10, now=0.0) for _ in range(11)]
    assert [d.allowed for d in decisions].count(True) == 10
    assert 0 < decisions[-1].reset_after_seconds <= 0.1


def test_signature_is_zooms_v0_hmac_over_timestamp_and_raw_body() -> None:
    body = b'{"event":"meeting.started"}'
    expected = hmac.new(b"secret", b"v0:1700000000:" + body, hashlib.sha256).hexdigest()
    assert sign("secret", "1700000000", body) == f"v0={expected}"
