"""Rows of the first worksheet of an XLSX file, as text, read with calamine (python-calamine, Rust):
several times faster than openpyxl's read-only mode (bench/README.md, bench/xlsx_read.py).

Cells become the text a person sees: whole numbers without ".0" (a phone typed as a number stays
"14155550100"), dates in ISO 8601, booleans "true"/"false". Trailing empty cells are dropped and an
all-empty row is the blank record `[""]`, as the CSV reader gives it, so the importer treats both
formats alike. Row numbers are the sheet's.

A workbook is a zip of XML, so a small file can ask for a great deal: before calamine reads
anything, the zip's directory is checked (entries, unzipped size, compression ratio, the shared
strings table, which the reader holds whole in memory) and so are the sheet's declared size and,
in one streaming pass over the sheet's XML, the cells' own addresses: calamine holds the sheet as
one dense rectangle from its first to its last cell (about 90 bytes a cell), so a far cell
(XFD1048576) or more than `max_cells` cells is refused before it is read. Each row is then checked
for cell size as it is handed out. Each refusal names its limit and its row.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
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
WORKBOOK = "xl/workbook.xml"
WORKBOOK_RELS = "xl/_rels/workbook.xml.rels"
FIRST_SHEET = "xl/worksheets/sheet1.xml"
_SCAN_BYTES = 1 << 20
# A cell's address, wherever its `r` attribute stands (a row's `r` has no letters).
_CELL_COLUMN = re.compile(rb'\sr="([A-Z]{1,4})[0-9]')
_CELL_ROW = re.compile(rb'\sr="[A-Z]{1,4}([0-9]{1,9})"')
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="(?:[A-Z]+[0-9]+:)?([A-Z]+)([0-9]+)"')
_FIRST_SHEET_ID = re.compile(rb'<(?:\w+:)?sheet\s[^>]*?\bid="([^"]+)"')


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
    if isinstance(value, timedelta):
        return str(value)
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
    from python_calamine import CalamineError, CalamineWorkbook

    check_archive(file, limits)
    check_extent(file, limits)
    file.seek(0)
    try:
        workbook = CalamineWorkbook.from_filelike(file)
        sheet = workbook.get_sheet_by_index(0)
    except (CalamineError, ValueError, OSError, IndexError) as exc:
        raise CsvError(1, None, f"the file is not a readable XLSX workbook ({exc})") from None
    try:
        start = sheet.start
        if start is None:
            return
        # iter_rows (python-calamine 0.9) starts at the sheet's first row but at the data's first
        # column: the columns before it are put back, so errors name the sheet's own column.
        left = start[1]
        pad = [""] * left
        for number, values in enumerate(sheet.iter_rows(), start=1):
            fields = [*pad, *map(cell_text, values)] if left else [cell_text(v) for v in values]
            while fields and fields[-1] == "":
                fields.pop()
            _check_sizes(number, fields)
            yield Record(number, fields or [""])
    finally:
        workbook.close()


def check_extent(file: IO[bytes], limits: XlsxLimits) -> None:
    """Refuses a first sheet whose declared size or whose cells' addresses reach beyond the limits,
    reading its XML once, a piece at a time (nothing is held)."""
    file.seek(0)
    try:
        with zipfile.ZipFile(file) as archive:
            part = _first_sheet_part(archive)
            if part is None:
                return
            with archive.open(part) as xml:
                head = xml.read(_SCAN_BYTES)
                declared = _DIMENSION.search(head)
                if declared:
                    _check_declared(_column_number(declared.group(1)), int(declared.group(2)), limits)
                _check_cells(xml, head, limits)
    except CsvError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, KeyError) as exc:
        raise CsvError(1, None, f"the file is not a readable XLSX workbook ({exc})") from None


def _check_cells(xml: IO[bytes], head: bytes, limits: XlsxLimits) -> None:
    widest, last_row = 0, 0
    tail, data = b"", head
    while data:
        text = tail + data
        rows = _CELL_ROW.findall(text)
        if rows:
            last_row = max(last_row, *map(int, rows))
        for column in set(_CELL_COLUMN.findall(text)):
            width = _column_number(column)
            if width > limits.max_columns:
                row = re.search(rb'\sr="' + column + rb'([0-9]{1,9})"', text)
                raise CsvError(
                    int(row.group(1)) if row else 1,
                    width,
                    f"a value beyond column {column_letter(limits.max_columns)} "
                    f"(at most {limits.max_columns} columns, LEADRELAY_XLSX_MAX_COLUMNS)",
                )
            widest = max(widest, width)
        if last_row > limits.max_rows + 1:
            raise CsvError(
                last_row,
                None,
                f"the sheet reaches row {last_row}; at most {limits.max_rows} rows (LEADRELAY_IMPORT_MAX_ROWS)",
            )
        if last_row * widest > limits.max_cells:
            raise CsvError(
                last_row,
                None,
                f"the sheet spans {last_row} rows by {widest} columns; at most {limits.max_cells} cells "
                "(LEADRELAY_XLSX_MAX_CELLS)",
            )
        tail = text[-64:]
        data = xml.read(_SCAN_BYTES)


def _first_sheet_part(archive: zipfile.ZipFile) -> str | None:
    """The zip path of the workbook's first sheet (the one calamine reads), from the workbook's parts."""
    names = set(archive.namelist())
    if WORKBOOK in names and WORKBOOK_RELS in names:
        found = _FIRST_SHEET_ID.search(archive.read(WORKBOOK))
        if found:
            rel = re.search(
                rb'<(?:\w+:)?Relationship\s[^>]*?Id="' + re.escape(found.group(1)) + rb'"[^>]*?Target="([^"]+)"',
                archive.read(WORKBOOK_RELS),
            ) or re.search(
                rb'<(?:\w+:)?Relationship\s[^>]*?Target="([^"]+)"[^>]*?Id="' + re.escape(found.group(1)) + rb'"',
                archive.read(WORKBOOK_RELS),
            )
            if rel:
                target = rel.group(1).decode()
                part = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
                if part in names:
                    return part
    return FIRST_SHEET if FIRST_SHEET in names else None


def _column_number(letters: bytes) -> int:
    number = 0
    for byte in letters:
        number = number * 26 + byte - 64
    return number


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
