"""segno's QR symbol of a text, as the reference the page's own encoder is held to, and the
modules read back from the SVG the page draws."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import segno
import segno.encoder
from segno import consts

__all__ = ["iso_padding", "reference_rows", "svg_rows"]


def _iso_padding_bits(buff: Any, version: int, length: int) -> None:
    """ISO/IEC 18004 7.4.10: zero bits up to the next codeword boundary, none when already on one."""
    if version not in (consts.VERSION_M1, consts.VERSION_M3):
        buff.extend([0] * ((8 - length % 8) % 8))


@contextmanager
def iso_padding() -> Iterator[None]:
    """segno 1.6.6 adds a whole zero codeword when the bit stream already ends on a codeword
    boundary (both symbols decode the same); comparing module for module needs the standard's."""
    original = segno.encoder.write_padding_bits
    segno.encoder.write_padding_bits = _iso_padding_bits
    try:
        yield
    finally:
        segno.encoder.write_padding_bits = original


def reference_rows(text: str, level: str, mask: int) -> tuple[int, list[str]]:
    """segno's version and rows ("1" dark) for `text` in byte mode at `level` with `mask`."""
    with iso_padding():
        symbol = segno.make(text, error=level.lower(), mode="byte", mask=mask, boost_error=False, micro=False)
    return int(symbol.version), ["".join("1" if module else "0" for module in row) for row in symbol.matrix]


def svg_rows(path_data: str, version: int, border: int = 4) -> list[str]:
    """The rows of a QR drawn as one path of unit squares ("M{x} {y}h1v1h-1z") inside `border`."""
    size = version * 4 + 17
    dark = [[False] * size for _ in range(size)]
    for x, y in re.findall(r"M(\d+) (\d+)h1v1h-1z", path_data):
        dark[int(y) - border][int(x) - border] = True
    return ["".join("1" if module else "0" for module in row) for row in dark]
