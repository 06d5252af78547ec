"""CSV that spreadsheets cannot be tricked into running: the one writer both exports use.

A cell starting with `=`, `+`, `-`, `@`, tab, carriage return or line feed is prefixed with an
apostrophe (OWASP's advice for CSV injection), and every field is quoted. Rows are written in
chunks so an export of a million events runs in bounded memory.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence

__all__ = ["csv_chunks", "neutralise_cell"]

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
_CHUNK_BYTES = 64 * 1024


def neutralise_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


async def csv_chunks(
    header: Sequence[str], rows: AsyncIterable[Iterable[object]] | Iterable[Iterable[object]]
) -> AsyncIterator[bytes]:
    """UTF-8 CSV (with a BOM so spreadsheets read accents right), in chunks of about 64 KiB."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow([neutralise_cell(cell) for cell in header])

    def flush() -> bytes:
        data = buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
        return data

    if isinstance(rows, AsyncIterable):
        async for row in rows:
            writer.writerow([neutralise_cell(cell) for cell in row])
            if buffer.tell() >= _CHUNK_BYTES:
                yield flush()
    else:
        for row in rows:
            writer.writerow([neutralise_cell(cell) for cell in row])
            if buffer.tell() >= _CHUNK_BYTES:
                yield flush()
    if buffer.tell():
        yield flush()
