"""Development sign-in through the real gateway: pick a demo user, get a token that the services
accept. In production the routes do not exist."""

from __future__ import annotations

from common.config import AuthSettings, Settings
from gateway.dev_sign_in import dev_sign_in_routes
from tests.integration.gateway.conftest import Gateway


def test_a_demo_user_picked_on_the_sign_in_page_gets_a_token_the_services_accept(gateway: Gateway) -> None:
    with gateway.client() as http:
        offered = http.get("/dev/demo-users").json()["users"]
        admin = next(u for u in offered if u["role"] == "admin")
        minted = http.post("/dev/tokens", json={"email": admin["email"].upper()})
    with gateway.client(minted.json()["token"]) as http:
        classes = http.get("/v1/classes")

    assert {u["role"] for u in offered} == {"admin", "teacher", "student"}
    assert minted.status_code == 200
    assert minted.headers["cache-control"] == "no-store"
    assert classes.status_code == 200


def test_unknown_emails_and_malformed_bodies_are_400_json(gateway: Gateway) -> None:
    with gateway.client() as http:
        answers = [
            http.post("/dev/tokens", json={"email": "nobody@r1.deped.gov.ph"}),
            http.post("/dev/tokens", content=b"{not json"),
            http.post("/dev/tokens", json={"email": 7}),
            http.post("/dev/tokens", content=b"x" * 5000),
        ]

    assert [a.status_code for a in answers] == [400] * 4
    assert all(a.json()["code"] == "INVALID_ARGUMENT" for a in answers)


def test_production_mode_has_no_development_sign_in() -> None:
    production = Settings(auth=AuthSettings(mode="production", dev_signing_key="k" * 40))
    no_key = Settings(auth=AuthSettings(mode="development", dev_signing_key=None))

    assert dev_sign_in_routes(production) == []
    assert dev_sign_in_routes(no_key) == []
