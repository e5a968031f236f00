"""Rows of the first worksheet of an XLSX file, as text, streamed with openpyxl's read-only mode.

Cells become the text a person sees: whole numbers without ".0" (a phone typed as a number stays
"14155550100"), dates in ISO 8601, booleans "true"/"false". Trailing empty cells are dropped and an
all-empty row is the blank record `[""]`, as the CSV reader gives it, so the importer treats both
formats alike. Row numbers are the sheet's.

A workbook is a zip of XML, so a small file can ask for a great deal: before openpyxl reads
anything, the zip's directory is checked (entries, unzipped size, compression ratio, the shared
strings table, which openpyxl holds whole in memory) and so is the sheet's declared size; the
declared size is then ignored (openpyxl would pad every row to it), and each row is checked for
width and cell size as it is read. Each refusal names its limit.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import IO, Any

from ingest_service.files.csv_reader import CsvError, Record, column_letter
from ingest_service.files.file_budget import (
    MAX_CELL_CHARS,
    MAX_ROW_CHARS,
    MAX_ZIP_ENTRIES,
    RATIO_FLOOR_BYTES,
    XlsxLimits,
)

ZIP_MAGIC = b"PK\x03\x04"
SHARED_STRINGS = "xl/sharedStrings.xml"


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


def check_archive(file: IO[bytes], limits: XlsxLimits) -> None:
    """Refuses a zip whose directory promises more than the limits allow (nothing is unzipped)."""
    file.seek(0)
    try:
        with zipfile.ZipFile(file) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CsvError(1, None, f"the file is not a readable XLSX workbook ({exc})") from None
    if len(entries) > MAX_ZIP_ENTRIES:
        raise CsvError(1, None, f"the workbook has more than {MAX_ZIP_ENTRIES} parts")
    total = 0
    for entry in entries:
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size > RATIO_FLOOR_BYTES and ratio > limits.max_ratio:
            raise CsvError(
                1,
                None,
                f"the workbook part {entry.filename} unzips {ratio:.0f} times larger than it is stored; "
                f"at most {limits.max_ratio} (LEADRELAY_XLSX_MAX_RATIO)",
            )
        if entry.filename == SHARED_STRINGS and entry.file_size > limits.max_shared_strings_bytes:
            raise CsvError(
                1,
                None,
                f"the workbook's shared strings take {entry.file_size} bytes; at most "
                f"{limits.max_shared_strings_bytes} (LEADRELAY_XLSX_MAX_SHARED_STRINGS_BYTES)",
            )
        total += entry.file_size
    if total > limits.max_unzipped_bytes:
        raise CsvError(
            1,
            None,
            f"the workbook unzips to {total} bytes; at most {limits.max_unzipped_bytes} "
            "(LEADRELAY_XLSX_MAX_UNZIPPED_BYTES)",
        )


def read_records(file: IO[bytes], limits: XlsxLimits) -> Iterator[Record]:
    from openpyxl import load_workbook

    check_archive(file, limits)
    file.seek(0)
    try:
        workbook = load_workbook(file, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise CsvError(1, None, f"the file is not a readable XLSX workbook ({exc})") from None
    try:
        sheet = workbook.worksheets[0]
        _check_declared(sheet.max_column, sheet.max_row, limits)
        sheet.reset_dimensions()
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            if len(values) > limits.max_columns:
                raise CsvError(
                    number,
                    len(values),
                    f"a value beyond column {column_letter(limits.max_columns)} "
                    f"(at most {limits.max_columns} columns, LEADRELAY_XLSX_MAX_COLUMNS)",
                )
            fields = [cell_text(v) for v in values]
            while fields and fields[-1] == "":
                fields.pop()
            _check_sizes(number, fields)
            yield Record(number, fields or [""])
    finally:
        workbook.close()


def _check_declared(columns: int | None, rows: int | None, limits: XlsxLimits) -> None:
    if columns and columns > limits.max_columns:
        raise CsvError(
            1,
            None,
            f"the sheet declares {columns} columns (up to column {column_letter(columns)}); "
            f"at most {limits.max_columns} (LEADRELAY_XLSX_MAX_COLUMNS)",
        )
    if rows and rows > limits.max_rows + 1:
        raise CsvError(
            1, None, f"the sheet declares {rows} rows; at most {limits.max_rows} (LEADRELAY_IMPORT_MAX_ROWS)"
        )


def _check_sizes(number: int, fields: list[str]) -> None:
    total = 0
    for i, text in enumerate(fields):
        if len(text) > MAX_CELL_CHARS:
            raise CsvError(number, i + 1, f"a cell of more than {MAX_CELL_CHARS} characters")
        total += len(text)
    if total > MAX_ROW_CHARS:
        raise CsvError(number, None, f"a row of more than {MAX_ROW_CHARS} characters")
