"""The page's own QR encoder (gateway/web/js/qrcode.js), run in Chromium and compared module for
module with segno's symbol of the same text, level and mask."""

from __future__ import annotations

import random
import string

from tests.e2e.browsing import Browsing
from tests.e2e.qr_reference import reference_rows

CAPACITY = {"L": 2953, "M": 2331, "Q": 1663, "H": 1273}  # bytes at version 40


def _texts() -> list[tuple[str, str]]:
    draw = random.Random(18004)
    alphabet = string.ascii_letters + string.digits + "/:?=.-_~"
    cases = [("https://rollcall.example/check-in/?code=" + "x" * 120, "M"), ("Iñigo Dela Peña · 日本", "M")]
    for length in (1, 14, 17, 42, 100, 110, 134, 171, 230, 400, 700, 1200, 2300):
        for level in "LMQH":
            if length <= CAPACITY[level]:
                cases.append(("".join(draw.choice(alphabet) for _ in range(length)), level))
    return cases


def test_the_qr_encoder_draws_the_same_symbol_as_segno_for_every_size_and_level(browsing: Browsing) -> None:
    page = browsing.open("/sign-in/")
    cases = _texts()
    symbols = page.evaluate(
        """async (cases) => {
            const { encode } = await import("/js/qrcode.js");
            return cases.map(([text, level]) => {
                const symbol = encode(text, level);
                return { version: symbol.version, mask: symbol.mask,
                         rows: symbol.modules.map((row) => row.map((dark) => (dark ? "1" : "0")).join("")) };
            });
        }""",
        cases,
    )
    versions = set()
    for (text, level), symbol in zip(cases, symbols, strict=True):
        version, rows = reference_rows(text, level, symbol["mask"])
        assert symbol["version"] == version, (len(text), level)
        assert symbol["rows"] == rows, (len(text), level)
        versions.add(version)
    assert {1, 7, 10, 40} <= versions  # small, with version information, 16-bit counts, the largest
