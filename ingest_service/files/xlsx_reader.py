"""Rows of the first worksheet of an XLSX file, as text, streamed with openpyxl's read-only mode.

Cells become the text a person sees: whole numbers without ".0" (a phone typed as a number stays
"14155550100"), dates in ISO 8601, booleans "true"/"false". Trailing empty cells are dropped and an
all-empty row is the blank record `[""]`, as the CSV reader gives it, so the importer treats both
formats alike. Row numbers are the sheet's.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import IO, Any

from ingest_service.files.csv_reader import CsvError, Record

ZIP_MAGIC = b"PK\x03\x04"


def looks_like_xlsx(head: bytes) -> bool:
    return head.startswith(ZIP_MAGIC)


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def read_records(file: IO[bytes]) -> Iterator[Record]:
    from openpyxl import load_workbook

    file.seek(0)
    try:
        workbook = load_workbook(file, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise CsvError(1, None, f"the file is not a readable XLSX workbook ({exc})") from None
    try:
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            fields = [cell_text(v) for v in values]
            while fields and fields[-1] == "":
                fields.pop()
            yield Record(number, fields or [""])
    finally:
        workbook.close()
