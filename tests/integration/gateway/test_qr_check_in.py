"""QR check-ins through the gateway: the client IP, taken from the trusted proxy header only, reaches
the attendance service vouched for by the gateway's own service token; without it the check-in is
kept but flagged as unverified."""

from __future__ import annotations

from tests.integration.attendance.conftest import seed_school
from tests.integration.gateway.conftest import TRUSTED_PROXY_HEADER, Gateway
from tests.support.tokens import token_for


def test_a_check_in_behind_the_trusted_proxy_is_vouched_for_and_one_without_is_flagged(
    database_url: str, gateway: Gateway
) -> None:
    school = seed_school(database_url, ("Ana Cruz", "Ben Santos"))
    with gateway.client(token_for(school.teacher, "teacher")) as teacher:
        issued = teacher.post(f"/v1/classes/{school.class_id}/qr-codes", json={"request_id": "qr-1"})
    assert issued.status_code == 200, issued.text
    code = issued.json()["code"]
    assert issued.json()["check_in_url"].endswith(code)

    with gateway.client(token_for(school.student("Ana Cruz").id, "student")) as ana:
        behind_proxy = ana.post(
            "/v1/qr-check-ins", json={"code": code}, headers={TRUSTED_PROXY_HEADER: "198.51.100.4, 203.0.113.7"}
        )
    with gateway.client(token_for(school.student("Ben Santos").id, "student")) as ben:
        no_header = ben.post("/v1/qr-check-ins", json={"code": code})

    assert behind_proxy.status_code == 200, behind_proxy.text
    assert behind_proxy.json()["flagged"] is False
    assert behind_proxy.json()["record"]["source"] == "ATTENDANCE_SOURCE_QR"
    assert no_header.status_code == 200, no_header.text
    assert no_header.json()["flagged"] is True  # no IP the gateway could vouch for
