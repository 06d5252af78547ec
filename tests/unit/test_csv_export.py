"""Exported CSV never starts a cell with something a spreadsheet would run, and streams in chunks."""

from __future__ import annotations

import csv
import io
import random
import string

from common.audit import csv_chunks, neutralise_cell

_DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "\n")


async def _export(rows: list[list[object]]) -> str:
    return b"".join([chunk async for chunk in csv_chunks(["a", "b"], rows)]).decode("utf-8-sig")


async def test_ten_thousand_fuzzed_cells_have_no_formula_start() -> None:
    generator = random.Random(20261125)
    alphabet = string.printable + "=+-@\t\r\néñ"
    cells = ["".join(generator.choice(alphabet) for _ in range(generator.randint(0, 12))) for _ in range(10_000)]
    cells[:7] = ['=HYPERLINK("http://evil")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "\nx"]
    parsed = list(csv.reader(io.StringIO(await _export([[cell, "ok"] for cell in cells]), newline="")))
    values = [row[0] for row in parsed[1:]]
    assert len(values) == 10_000
    assert not [value for value in values if value.startswith(_DANGEROUS)]
    assert values[0] == '\'=HYPERLINK("http://evil")'


def test_safe_values_are_unchanged() -> None:
    assert neutralise_cell("Juan Dela Cruz") == "Juan Dela Cruz"
    assert neutralise_cell(None) == ""
    assert neutralise_cell(42) == "42"


async def test_every_field_is_quoted() -> None:
    text = await _export([["x", 1]])
    assert text.splitlines()[1] == '"x","1"'


async def test_large_exports_arrive_in_bounded_chunks() -> None:
    rows = [[f"row {i}", "x" * 100] for i in range(20_000)]
    sizes = [len(chunk) async for chunk in csv_chunks(["a", "b"], rows)]
    assert len(sizes) > 10
    assert max(sizes) < 70 * 1024
