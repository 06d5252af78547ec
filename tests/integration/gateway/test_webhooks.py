"""Zoom's webhooks at the gateway: URL validation as the emulator checks it, signatures refused
when wrong or stale, events forwarded to the attendance service once."""

from __future__ import annotations

import json
import time

import httpx

from gateway.webhooks import sign
from tests.integration.gateway.conftest import Gateway, PastMeeting


def test_the_emulator_validates_the_gateways_webhook_url(gateway: Gateway) -> None:
    answer = gateway.emulator.admin().post("/_emulator/webhooks/validate").json()
    assert answer == {"ok": True, "status": 200}


def _post(gateway: Gateway, body: bytes, timestamp: str, signature: str) -> httpx.Response:
    headers = {"content-type": "application/json", "x-zm-request-timestamp": timestamp, "x-zm-signature": signature}
    return httpx.post(f"{gateway.url}/api/zoom/webhooks", content=body, headers=headers, timeout=10)


def test_a_wrong_or_stale_signature_is_401_json(gateway: Gateway) -> None:
    body = json.dumps({"event": "meeting.started", "payload": {"object": {"id": 1}}}).encode()
    now = str(int(time.time()))
    stale = str(int(time.time()) - 600)
    wrong = _post(gateway, body, now, sign("not-the-secret", now, body))
    old = _post(gateway, body, stale, sign(gateway.emulator.webhook_secret, stale, body))
    missing = httpx.post(f"{gateway.url}/api/zoom/webhooks", content=body, timeout=10)
    for response in (wrong, old, missing):
        assert response.status_code == 401
        assert response.json()["code"] == "UNAUTHENTICATED"


def test_a_signed_event_is_forwarded_once_and_a_repeat_is_a_duplicate(
    gateway: Gateway, past_meeting: PastMeeting
) -> None:
    event = {
        "event": "meeting.participant_joined",
        "event_ts": int(time.time() * 1000),
        "payload": {
            "account_id": gateway.emulator.account_id,
            "object": {
                "id": str(past_meeting.meeting_id),
                "uuid": "gateway-test-instance==",
                "host_id": past_meeting.school.host_zoom_id,
                "participant": {"user_id": "16000001", "user_name": "Someone", "join_time": "2026-11-24T00:00:00Z"},
            },
        },
    }
    body = json.dumps(event).encode()
    timestamp = str(int(time.time()))
    first = _post(gateway, body, timestamp, sign(gateway.emulator.webhook_secret, timestamp, body))
    again = _post(gateway, body, timestamp, sign(gateway.emulator.webhook_secret, timestamp, body))
    assert first.status_code == 200, first.text
    assert first.json() == {"event": "meeting.participant_joined", "duplicate": False}
    assert again.json() == {"event": "meeting.participant_joined", "duplicate": True}


def test_a_signed_body_that_is_no_zoom_event_is_400(gateway: Gateway) -> None:
    body = b'["not", "an", "event"]'
    timestamp = str(int(time.time()))
    response = _post(gateway, body, timestamp, sign(gateway.emulator.webhook_secret, timestamp, body))
    assert response.status_code == 400
    assert response.json()["details"][0]["field_violations"][0]["field"] == "body"
