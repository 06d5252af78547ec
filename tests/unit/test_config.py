"""Settings come from the environment; every mistake names its variable."""

from __future__ import annotations

import pytest

from common.config import ConfigError, Settings, whole_within


def test_defaults_need_nothing_but_give_region_1_domain_and_standard_ports() -> None:
    settings = Settings.from_env({})
    assert settings.allowed_email_domains == ("r1.deped.gov.ph",)
    assert (settings.registration_port, settings.attendance_port, settings.gateway_port, settings.emulator_port) == (
        50051,
        50052,
        8080,
        9090,
    )
    assert settings.database_url is None
    assert settings.db_pool_size == 10
    assert not settings.zoom.has_credentials


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"ROLLCALL_GATEWAY_PORT": "eighty"}, "ROLLCALL_GATEWAY_PORT"),
        ({"ROLLCALL_REGISTRATION_PORT": "70000"}, "ROLLCALL_REGISTRATION_PORT"),
        ({"DATABASE_URL": "sqlite:///x.db"}, "DATABASE_URL"),
        ({"ZOOM_API_BASE_URL": "ftp://zoom"}, "ZOOM_API_BASE_URL"),
        ({"ZOOM_CLIENT_ID": "abc"}, "ZOOM_ACCOUNT_ID"),
        ({"ZOOM_PLAN": "free"}, "ZOOM_PLAN"),
        ({"ZOOM_RESERVED_SHARE": "1.5"}, "ZOOM_RESERVED_SHARE"),
        ({"ROLLCALL_ALLOWED_EMAIL_DOMAINS": "not a domain"}, "ROLLCALL_ALLOWED_EMAIL_DOMAINS"),
        ({"ROLLCALL_AUTH_MODE": "production"}, "ROLLCALL_JWT_JWKS_URL"),
        ({"ROLLCALL_SHUTDOWN_GRACE_SECONDS": "-1"}, "ROLLCALL_SHUTDOWN_GRACE_SECONDS"),
        ({"ROLLCALL_DB_POOL_SIZE": "0"}, "ROLLCALL_DB_POOL_SIZE"),
        ({"ROLLCALL_DB_POOL_SIZE": "ten"}, "ROLLCALL_DB_POOL_SIZE"),
    ],
)
def test_bad_value_is_refused_naming_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env(env)


def test_allowed_domains_are_lower_cased_and_split_on_commas() -> None:
    settings = Settings.from_env({"ROLLCALL_ALLOWED_EMAIL_DOMAINS": "R1.DepEd.gov.ph, r2.deped.gov.ph"})
    assert settings.allowed_email_domains == ("r1.deped.gov.ph", "r2.deped.gov.ph")


def test_zoom_credentials_switch_off_the_emulator_and_stay_out_of_repr() -> None:
    settings = Settings.from_env({"ZOOM_ACCOUNT_ID": "a", "ZOOM_CLIENT_ID": "b", "ZOOM_CLIENT_SECRET": "s3cr3t"})
    assert settings.zoom.has_credentials
    assert "s3cr3t" not in repr(settings)


def test_services_need_a_database_url() -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        Settings.from_env({}).require_database_url()


@pytest.mark.parametrize("raw", ["0", "101", "8.0", "-1", "eight"])
def test_whole_numbers_outside_their_range_or_not_whole_are_refused_naming_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match="ROLLCALL_X must be a whole number from 1 to 100"):
        whole_within({"ROLLCALL_X": raw}, "ROLLCALL_X", 8, 1, 100)


def test_whole_numbers_default_when_unset_and_read_when_set() -> None:
    assert whole_within({}, "ROLLCALL_X", 8, 1, 100) == 8
    assert whole_within({"ROLLCALL_X": " 12 "}, "ROLLCALL_X", 8, 1, 100) == 12
