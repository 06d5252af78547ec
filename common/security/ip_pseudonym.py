"""Keyed pseudonyms of client IP addresses: HMAC-SHA256 under a secret kept outside the database.

A salted SHA-256 with the salt stored beside the data gives an address back in seconds (IPv4 has
only 2^32 of them); without the key, an HMAC cannot be matched at all. Each pseudonym carries the
id of the key that made it, so keys rotate: the current key writes, every listed key verifies.
Pure: no I/O, and nothing here logs.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["MIN_KEY_BYTES", "IpPseudonym", "IpPseudonymKeys", "ip_digest", "normalise_ip"]

MIN_KEY_BYTES = 32  # 256 bits, HMAC-SHA256's block-independent strength
_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,32}")
# IPv6 hosts pick their own low 64 bits (privacy extensions rotate them daily): the /64 a
# household or device is given is what "the same network" means for IPv6.
_IPV6_GROUP_PREFIX = 64


def normalise_ip(text: str) -> str:
    """The canonical text that is hashed for an address, so one address has one pseudonym.

    IPv4 in dotted quad (also when written IPv4-mapped, `::ffff:1.2.3.4`); IPv6 as its /64 in
    compressed lowercase form, whatever the spelling (`2001:DB8:0:0::1`, `[2001:db8::1]`,
    `fe80::1%eth0`). Raises ValueError for anything that is not an address.
    """
    value = text.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    value = value.split("%", 1)[0]  # a zone (`%eth0`) names the host's interface, not the address
    address = ipaddress.ip_address(value)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    network = ipaddress.IPv6Network((address, _IPV6_GROUP_PREFIX), strict=False)
    return f"{network.network_address}/{_IPV6_GROUP_PREFIX}"


def ip_digest(key: bytes, ip: str) -> bytes:
    """HMAC-SHA256 of the normalised address under `key` (32 bytes)."""
    return hmac.new(key, normalise_ip(ip).encode(), hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class IpPseudonym:
    """What is stored instead of an address: the keyed hash and the id of its key."""

    key_id: str
    digest: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class IpPseudonymKeys:
    """The keys by id; `current_key_id` names the one that writes, the others only verify."""

    current_key_id: str
    keys: Mapping[str, bytes] = field(repr=False)

    def __post_init__(self) -> None:
        for key_id, key in self.keys.items():
            if not _KEY_ID.fullmatch(key_id):
                raise ValueError("an IP key id must be 1-32 letters, digits, '.', '_' or '-'")
            if len(key) < MIN_KEY_BYTES:
                raise ValueError(f"IP key {key_id!r} must be at least {MIN_KEY_BYTES} bytes")
        if self.current_key_id not in self.keys:
            raise ValueError(f"the current IP key {self.current_key_id!r} is not among the keys")
        object.__setattr__(self, "keys", MappingProxyType(dict(self.keys)))

    @classmethod
    def single(cls, key_id: str, key: bytes) -> IpPseudonymKeys:
        return cls(key_id, {key_id: key})

    def pseudonymise(self, ip: str) -> IpPseudonym:
        """The pseudonym to store, under the current key. Raises ValueError for a non-address."""
        return IpPseudonym(self.current_key_id, ip_digest(self.keys[self.current_key_id], ip))

    def candidates(self, ip: str) -> tuple[IpPseudonym, ...]:
        """The address's pseudonym under every key, the current one first: what to look for to find
        rows written before a rotation."""
        normal = normalise_ip(ip).encode()
        ordered = [self.current_key_id, *sorted(k for k in self.keys if k != self.current_key_id)]
        return tuple(IpPseudonym(k, hmac.new(self.keys[k], normal, hashlib.sha256).digest()) for k in ordered)

    def matches(self, ip: str, stored: IpPseudonym) -> bool:
        """Whether `stored` is the pseudonym of `ip`, under whichever known key made it (constant
        time). A retired key (no longer listed) verifies nothing."""
        key = self.keys.get(stored.key_id)
        if key is None:
            return False
        return hmac.compare_digest(ip_digest(key, ip), stored.digest)
