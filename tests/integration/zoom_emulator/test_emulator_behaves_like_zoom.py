"""The emulator answers as zoom-api.md says Zoom does, over real HTTP."""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar
from urllib.parse import quote

import httpx
import pytest

from tests.support.emulator import EmulatorProcess, running_emulator
from tests.support.polling import eventually_sync

MEETING = 81_234_567_890


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorProcess]:
    with running_emulator("--plan", "pro") as process:
        yield process


@pytest.fixture
def zoom(emulator: EmulatorProcess) -> Iterator[httpx.Client]:
    admin = emulator.admin()
    admin.post("/_emulator/reset").raise_for_status()
    admin.put(
        f"/_emulator/meetings/{MEETING}",
        json={
            "type": 2,
            "start_time": "2030-01-01T00:00:00Z",
            "duration": 60,
            "approval_type": 0,
            "host_id": "host-1",
            "uuid": "/ab//cd==",
        },
    ).raise_for_status()
    with httpx.Client(base_url=emulator.api_base, headers={"Authorization": f"Bearer {emulator.token()}"}) as client:
        yield client


def test_bad_credentials_are_refused_in_zooms_token_error_shape(emulator: EmulatorProcess) -> None:
    basic = base64.b64encode(f"{emulator.client_id}:wrong".encode()).decode()
    response = httpx.post(
        f"{emulator.root}/oauth/token",
        headers={"Authorization": f"Basic {basic}"},
        data={"grant_type": "account_credentials", "account_id": emulator.account_id},
    )
    assert (response.status_code, response.json()) == (
        400,
        {"reason": "Invalid client_id or client_secret", "error": "invalid_client"},
    )


def test_calls_without_a_valid_token_get_code_124(emulator: EmulatorProcess) -> None:
    response = httpx.get(f"{emulator.api_base}/meetings/{MEETING}", headers={"Authorization": "Bearer nope"})
    assert (response.status_code, response.json()["code"]) == (401, 124)


def test_same_email_twice_gives_the_same_registrant(zoom: httpx.Client) -> None:
    first = zoom.post(f"/meetings/{MEETING}/registrants", json={"email": "a@r1.deped.gov.ph", "first_name": "A"})
    again = zoom.post(f"/meetings/{MEETING}/registrants", json={"email": "A@R1.deped.gov.ph", "first_name": "A"})
    assert first.status_code == again.status_code == 201
    assert first.json()["registrant_id"] == again.json()["registrant_id"]
    assert first.json()["join_url"] == again.json()["join_url"]


def test_a_fourth_add_of_one_registrant_in_a_day_is_refused(zoom: httpx.Client) -> None:
    codes = [
        zoom.post(f"/meetings/{MEETING}/registrants", json={"email": "b@x.ph", "first_name": "B"}).status_code
        for _ in range(4)
    ]
    assert codes == [201, 201, 201, 429]


def test_manual_approval_gives_no_join_url(emulator: EmulatorProcess, zoom: httpx.Client) -> None:
    emulator.admin().put(
        "/_emulator/meetings/81000000001", json={"type": 2, "start_time": "2030-01-01T00:00:00Z", "approval_type": 1}
    )
    answer = zoom.post("/meetings/81000000001/registrants", json={"email": "c@x.ph", "first_name": "C"}).json()
    assert "join_url" not in answer


@pytest.mark.parametrize(
    ("meeting", "body", "expected"),
    [
        ({"type": 8, "approval_type": 0}, {"registrants": [{"email": "d@x.ph", "first_name": "D"}]}, (400, 303)),
        ({"type": 2, "approval_type": 2}, {"registrants": [{"email": "d@x.ph", "first_name": "D"}]}, (404, 404)),
        (
            {"type": 2, "approval_type": 0, "start_time": "2020-01-01T00:00:00Z"},
            {"registrants": [{"email": "d@x.ph", "first_name": "D"}]},
            (400, 3038),
        ),
        (
            {"type": 2, "approval_type": 0},
            {"registrants": [{"email": f"{i}@x.ph", "first_name": "D"} for i in range(31)]},
            (400, 300),
        ),
    ],
)
def test_batch_registration_refusals(
    emulator: EmulatorProcess,
    zoom: httpx.Client,
    meeting: dict[str, object],
    body: dict[str, object],
    expected: tuple[int, int],
) -> None:
    emulator.admin().put("/_emulator/meetings/81000000002", json={"start_time": "2030-01-01T00:00:00Z", **meeting})
    response = zoom.post("/meetings/81000000002/batch_registrants", json=body)
    assert (response.status_code, response.json()["code"]) == expected


def test_registrant_pages_follow_tokens_that_expire(emulator: EmulatorProcess, zoom: httpx.Client) -> None:
    zoom.post(
        f"/meetings/{MEETING}/batch_registrants",
        json={"registrants": [{"email": f"p{i}@x.ph", "first_name": "P"} for i in range(25)]},
    )
    first = zoom.get(f"/meetings/{MEETING}/registrants", params={"page_size": 10}).json()
    assert (first["total_records"], len(first["registrants"])) == (25, 10)
    emulator.admin().put("/_emulator/config", json={"clock_offset_seconds": 16 * 60})
    expired = zoom.get(f"/meetings/{MEETING}/registrants", params={"next_page_token": first["next_page_token"]})
    assert (expired.status_code, expired.json()["code"]) == (400, 300)


def _simulate(emulator: EmulatorProcess) -> dict[str, str]:
    script = [
        {"at_seconds": 0, "action": "start"},
        {"at_seconds": 60, "action": "join", "email": "a@r1.deped.gov.ph", "as": "a1"},
        {"at_seconds": 120, "action": "join", "name": "Lola (guest)", "guest": True, "as": "guest"},
        {"at_seconds": 600, "action": "leave", "as": "a1"},
        {"at_seconds": 660, "action": "join", "email": "a@r1.deped.gov.ph", "as": "a2"},
        {"at_seconds": 3600, "action": "end"},
    ]
    answer = emulator.admin().post(
        f"/_emulator/meetings/{MEETING}/simulate", json={"start_time": "2026-11-24T23:30:00Z", "script": script}
    )
    answer.raise_for_status()
    return dict(answer.json()["user_ids"])


def test_a_rejoin_is_a_new_row_and_registrant_ids_come_only_when_asked(
    emulator: EmulatorProcess, zoom: httpx.Client
) -> None:
    zoom.post(f"/meetings/{MEETING}/registrants", json={"email": "a@r1.deped.gov.ph", "first_name": "A"})
    _simulate(emulator)
    plain = zoom.get(f"/report/meetings/{MEETING}/participants").json()["participants"]
    asked = zoom.get(f"/report/meetings/{MEETING}/participants", params={"include_fields": "registrant_id"}).json()
    assert len(plain) == 3
    assert len({row["user_id"] for row in plain}) == 3
    assert "registrant_id" not in plain[0]
    assert sum(1 for row in asked["participants"] if row["registrant_id"]) == 2
    assert [row["duration"] for row in plain if row["name"] == "A"] == [540, 2940]


def test_instance_uuids_with_slashes_must_be_encoded_twice(emulator: EmulatorProcess, zoom: httpx.Client) -> None:
    zoom.post(f"/meetings/{MEETING}/registrants", json={"email": "a@r1.deped.gov.ph", "first_name": "A"})
    _simulate(emulator)
    twice = quote(quote("/ab//cd==", safe=""), safe="")
    once = quote("/ab//cd==", safe="")
    assert zoom.get(f"/report/meetings/{twice}/participants").status_code == 200
    assert zoom.get(f"/report/meetings/{once}/participants").json()["code"] == 3001


def test_an_instance_uuid_with_one_inner_slash_needs_one_encoding(
    emulator: EmulatorProcess, zoom: httpx.Client
) -> None:
    emulator.admin().put(f"/_emulator/meetings/{MEETING}", json={"type": 2, "approval_type": 0, "uuid": "ab/cd=="})
    zoom.post(f"/meetings/{MEETING}/registrants", json={"email": "a@r1.deped.gov.ph", "first_name": "A"})
    _simulate(emulator)
    assert zoom.get(f"/report/meetings/{quote('ab/cd==', safe='')}/participants").status_code == 200


def test_a_meeting_with_one_person_has_an_empty_report(emulator: EmulatorProcess, zoom: httpx.Client) -> None:
    emulator.admin().post(
        f"/_emulator/meetings/{MEETING}/simulate",
        json={
            "script": [
                {"at_seconds": 0, "action": "start"},
                {"at_seconds": 1, "action": "join", "name": "Alone"},
                {"at_seconds": 60, "action": "end"},
            ]
        },
    )
    assert zoom.get(f"/report/meetings/{MEETING}/participants").json()["total_records"] == 0


@pytest.mark.parametrize("omit", [False, True])
def test_bursts_get_per_second_429s_with_or_without_headers(
    emulator: EmulatorProcess, zoom: httpx.Client, omit: bool
) -> None:
    emulator.admin().put("/_emulator/config", json={"omit_rate_limit_headers": omit})
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: zoom.get(f"/report/meetings/{MEETING}/participants"), range(40)))
    refused = [a for a in answers if a.status_code == 429]
    assert refused
    assert refused[0].json()["code"] == 429
    assert ("X-RateLimit-Type" in refused[0].headers) is not omit


def test_a_lost_response_applies_the_change_and_drops_the_connection(
    emulator: EmulatorProcess, zoom: httpx.Client
) -> None:
    emulator.admin().put("/_emulator/config", json={"faults": {"lost_response": 1.0}})
    with pytest.raises(httpx.TransportError):
        zoom.post(f"/meetings/{MEETING}/registrants", json={"email": "lost@x.ph", "first_name": "L"})
    emulator.admin().put("/_emulator/config", json={"faults": {"lost_response": 0.0}})
    state = emulator.admin().get("/_emulator/state").json()
    assert [r["email"] for r in state["meetings"][str(MEETING)]["registrants"]] == ["lost@x.ph"]
    assert state["faults"] == {"lost_response": 1}


def test_faults_are_replayable_from_the_seed(emulator: EmulatorProcess, zoom: httpx.Client) -> None:
    def run() -> list[int]:
        emulator.admin().put("/_emulator/config", json={"seed": 7, "faults": {"server_error": 0.5}})
        return [zoom.get(f"/meetings/{MEETING}").status_code for _ in range(20)]

    assert run() == run()


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.received.append((dict(self.headers), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


def test_webhooks_are_signed_as_zoom_signs_them() -> None:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with running_emulator(webhook_url=f"http://127.0.0.1:{server.server_port}/hook") as emulator:
            emulator.admin().put(f"/_emulator/meetings/{MEETING}", json={"type": 2, "approval_type": 0})
            emulator.admin().post(f"/_emulator/meetings/{MEETING}/start").raise_for_status()
            eventually_sync(lambda: bool(_Receiver.received), within=5, what="webhook delivery")
    finally:
        server.shutdown()
        server.server_close()
    headers, body = _Receiver.received[0]
    timestamp = headers["x-zm-request-timestamp"]
    expected = hmac.new(emulator.webhook_secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256)
    assert headers["x-zm-signature"] == f"v0={expected.hexdigest()}"
    assert json.loads(body)["event"] == "meeting.started"
