"""IP pseudonyms: HMAC-SHA256 of a normalised address with its key id, keys that rotate, and an
enumeration of a whole /16 that finds nothing without the key (while the seed's salted SHA-256 gives
the address back)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import random
import uuid
from datetime import timedelta

import pytest

from attendance_service.config import AttendanceSettings
from attendance_service.domain import ExpectedStudent
from attendance_service.qr import QrCheckIns, QrKeys
from common.config import ConfigError, Settings
from common.security.ip_pseudonym import IpPseudonym, IpPseudonymKeys, ip_digest, normalise_ip
from common.security.principal import Principal
from tests.unit.attendance.fakes import CLASS_ID, START, TEACHER, FakeAttendanceStore, FakeDb

OLD_KEY = b"o" * 32
NEW_KEY = b"n" * 32
WRONG_KEY = b"w" * 32


@pytest.mark.parametrize(
    ("spellings", "normal"),
    [
        (
            ("203.0.113.9", " 203.0.113.9\n", "::ffff:203.0.113.9", "::FFFF:cb00:7109", "[::ffff:203.0.113.9]"),
            "203.0.113.9",
        ),
        (
            (
                "2001:db8::1",
                "2001:0db8:0000:0000:0000:0000:0000:0001",
                "2001:DB8:0:0::1",
                "[2001:db8::1]",
                "2001:db8::1%eth0",
                "2001:db8:0:0:ffff:ffff:ffff:ffff",  # another host of the same /64
            ),
            "2001:db8::/64",
        ),
    ],
)
def test_every_spelling_of_an_address_normalises_to_one_text(spellings: tuple[str, ...], normal: str) -> None:
    assert {normalise_ip(spelling) for spelling in spellings} == {normal}
    assert len({ip_digest(NEW_KEY, spelling) for spelling in spellings}) == 1


def test_different_networks_get_different_pseudonyms() -> None:
    keys = IpPseudonymKeys.single("k1", NEW_KEY)
    addresses = ("203.0.113.9", "203.0.113.10", "2001:db8:0:1::1", "2001:db8::1", "::1", "192.0.2.1")
    assert len({keys.pseudonymise(a).digest for a in addresses}) == len(addresses)


@pytest.mark.parametrize("text", ["", "localhost", "203.0.113.256", "203.0.113", "203.0.113.9:443", "01.2.3.4", "::g"])
def test_anything_but_an_address_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address"):
        normalise_ip(text)


def test_the_pseudonym_is_hmac_sha256_of_the_normal_form_with_its_key_id_beside_it() -> None:
    stored = IpPseudonymKeys.single("k1", NEW_KEY).pseudonymise("::ffff:198.51.100.4")
    assert stored.key_id == "k1"
    assert stored.digest == hmac.new(NEW_KEY, b"198.51.100.4", hashlib.sha256).digest()
    assert b"198.51.100.4" not in stored.digest
    assert "198.51.100.4" not in repr(stored)
    assert NEW_KEY.decode() not in repr(IpPseudonymKeys.single("k1", NEW_KEY))


def test_after_a_rotation_the_new_key_writes_and_the_old_key_still_verifies() -> None:
    before = IpPseudonymKeys.single("k1", OLD_KEY)
    after = IpPseudonymKeys("k2", {"k1": OLD_KEY, "k2": NEW_KEY})
    written_before = before.pseudonymise("203.0.113.9")
    written_after = after.pseudonymise("203.0.113.9")
    assert (written_before.key_id, written_after.key_id) == ("k1", "k2")
    assert written_before.digest != written_after.digest
    assert after.matches("203.0.113.9", written_before)
    assert after.matches("::ffff:203.0.113.9", written_after)
    assert not after.matches("203.0.113.10", written_before)
    assert [p.key_id for p in after.candidates("203.0.113.9")] == ["k2", "k1"]
    assert after.candidates("203.0.113.9") == (written_after, written_before)
    retired = IpPseudonymKeys.single("k2", NEW_KEY)
    assert not retired.matches("203.0.113.9", written_before)  # a key removed from the list verifies nothing


def test_a_pseudonym_does_not_verify_under_another_key_with_its_id() -> None:
    forged = IpPseudonym("k1", ip_digest(WRONG_KEY, "203.0.113.9"))
    assert not IpPseudonymKeys.single("k1", NEW_KEY).matches("203.0.113.9", forged)


@pytest.mark.parametrize(
    ("current", "keys", "problem"),
    [
        ("k1", {"k1": b"short"}, "at least 32 bytes"),
        ("k1", {"k1": NEW_KEY, "bad id!": OLD_KEY}, "key id must be"),
        ("k3", {"k1": NEW_KEY}, "not among the keys"),
    ],
)
def test_weak_keys_bad_ids_and_a_missing_current_key_are_refused(
    current: str, keys: dict[str, bytes], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        IpPseudonymKeys(current, keys)


# ---- enumeration resistance ----------------------------------------------------------------


def _slash16(network: str) -> list[str]:
    return [str(address) for address in ipaddress.ip_network(network)]  # 65,536 addresses, ends included


def test_enumerating_a_slash_16_finds_the_address_under_salted_sha256_but_nothing_without_the_hmac_key() -> None:
    """An attacker with the database (hash, key id, and the seed's salt beside the data) but without
    the HMAC key tries every address of the /16 that holds the stored one."""
    chosen = random.Random(7).randrange(65_536)
    candidates = _slash16("100.64.0.0/16")
    assert len(candidates) == 65_536
    secret = IpPseudonymKeys.single("k1", NEW_KEY)
    stored_ip = candidates[chosen]
    stored = secret.pseudonymise(stored_ip)

    # The seed's scheme: SHA-256 over salt + address, the salt stored beside the hash.
    salt = uuid.uuid4().hex
    seed_hash = hashlib.sha256((salt + stored_ip).encode()).hexdigest()
    recovered = [ip for ip in candidates if hashlib.sha256((salt + ip).encode()).hexdigest() == seed_hash]
    assert recovered == [stored_ip]

    # HMAC under any key but the secret one: no address of the /16 matches.
    guessed = IpPseudonymKeys.single("k1", WRONG_KEY)
    assert [ip for ip in candidates if hmac.compare_digest(guessed.pseudonymise(ip).digest, stored.digest)] == []
    # Teeth: the same search with the real key finds exactly the stored address.
    assert [ip for ip in candidates if secret.matches(ip, stored)] == [stored_ip]


# ---- QR check-in across a rotation -----------------------------------------------------------


async def test_check_ins_before_and_after_a_key_rotation_count_as_one_network() -> None:
    students = tuple(ExpectedStudent(str(uuid.uuid4()), f"S{i}", f"s{i}@x") for i in range(3))
    store = FakeAttendanceStore(students=students)  # the class allows two students per network

    async def vouch(token: str) -> Principal:
        return Principal(uuid.uuid4(), "service", frozenset({"gateway"}))

    def check_ins(keys: QrKeys) -> QrCheckIns:
        return QrCheckIns(FakeDb(store), keys, vouch, clock=lambda: START)

    base = QrKeys(signing_key=b"s" * 32, ip_hash_key=OLD_KEY, ip_key_id="k1", validity=timedelta(minutes=5))
    rotated = QrKeys(
        signing_key=b"s" * 32,
        ip_hash_key=NEW_KEY,
        ip_key_id="k2",
        validity=timedelta(minutes=5),
        ip_previous_keys={"k1": OLD_KEY},
    )
    code = (await check_ins(base).create_code(Principal(TEACHER, "teacher"), CLASS_ID, 0)).code
    flags = []
    for student, keys, ip in zip(
        students, (base, rotated, rotated), ("203.0.113.9", "::ffff:203.0.113.9", "203.0.113.9"), strict=True
    ):
        _, flagged = await check_ins(keys).check_in(
            Principal(uuid.UUID(student.student_id), "student"), code, client_ip=ip, gateway_token="gateway"
        )
        flags.append(flagged)
    assert flags == [False, False, True]
    assert [key_id for _, key_id, _ in store.check_ins.values()] == ["k1", "k2", "k2"]
    assert all(flagged for _, _, flagged in store.check_ins.values())  # the first, under k1, too


# ---- configuration of a rotation --------------------------------------------------------------


def _attendance_settings(**env: str) -> AttendanceSettings:
    base = {"ROLLCALL_IP_HASH_KEY": "n" * 32, "ROLLCALL_IP_HASH_KEY_ID": "k2", "ROLLCALL_QR_SIGNING_KEY": "q" * 32}
    return AttendanceSettings.from_env({**base, **env}, Settings.from_env({"ROLLCALL_DEV_JWT_KEY": "d" * 32}))


def test_rotated_out_keys_come_from_the_environment_and_still_verify() -> None:
    keys = _attendance_settings(ROLLCALL_IP_HASH_PREVIOUS_KEYS=f"k1:{OLD_KEY.decode()}, k0:{'z' * 32}").qr.ip_keys()
    assert keys.current_key_id == "k2"
    assert set(keys.keys) == {"k0", "k1", "k2"}
    assert keys.matches("203.0.113.9", IpPseudonymKeys.single("k1", OLD_KEY).pseudonymise("203.0.113.9"))


@pytest.mark.parametrize(
    ("previous", "problem"),
    [("k1", "id:key"), (f"k2:{'o' * 32}", "other than the current"), ("k1:short", "at least 32 bytes")],
)
def test_a_bad_rotation_setting_stops_start_up_without_echoing_a_key(previous: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as refused:
        _attendance_settings(ROLLCALL_IP_HASH_PREVIOUS_KEYS=previous)
    assert "o" * 32 not in str(refused.value)
    assert "short" not in str(refused.value)
