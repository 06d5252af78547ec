"""Only exact allowed domains pass; look-alikes never do."""

from __future__ import annotations

import pytest

from registration_service.domain import EmailDomainPolicy

POLICY = EmailDomainPolicy(("r1.deped.gov.ph",))


@pytest.mark.parametrize(
    "email",
    [
        "juan.delacruz@r1.deped.gov.ph",
        "Juan.DelaCruz@R1.DEPED.GOV.PH",
        "a+tag@r1.deped.gov.ph",
        "o'neil@r1.deped.gov.ph",
    ],
)
def test_addresses_in_the_allowed_domain_pass(email: str) -> None:
    assert POLICY.allows(email)


@pytest.mark.parametrize(
    "email",
    [
        "x@r1.deped.gov.ph.evil.com",  # allowed domain as a prefix of another
        "x@evil.r1.deped.gov.ph",  # a subdomain is another domain
        "x@deped.gov.ph",  # the parent domain
        "x@r1-deped.gov.ph",
        "x@evil.com@r1.deped.gov.ph",  # a second @
        '"x@evil.com"@r1.deped.gov.ph',  # quoted local part hiding an @
        "x@r1.deped.gov.ph.",  # trailing dot
        " x@r1.deped.gov.ph",
        "x@r1.dеped.gov.ph",  # Cyrillic small ie
        "x@ｒ1.deped.gov.ph",  # full-width "r" that IDNA would fold to ASCII
        "@r1.deped.gov.ph",
        "x.@r1.deped.gov.ph",
        "x..y@r1.deped.gov.ph",
        "x@",
        "",
        "a" * 120 + "@r1.deped.gov.ph",  # longer than Zoom's 128
    ],
)
def test_look_alikes_and_malformed_addresses_are_refused(email: str) -> None:
    assert not POLICY.allows(email)


def test_unicode_allowed_domain_matches_its_punycode_form() -> None:
    policy = EmailDomainPolicy(("paaralan.example", "bücher.example"))
    assert policy.allows("guro@xn--bcher-kva.example")
    assert policy.allows("guro@bücher.example")


def test_a_policy_without_a_valid_domain_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="allowed domain"):
        EmailDomainPolicy(("",))
