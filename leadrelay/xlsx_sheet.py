"""One worksheet written as an XLSX file, streamed: the one XLSX writer of the lead export and the
console's report tables, so every XLSX we hand out looks and behaves the same.

- The header row is bold and frozen, and an autofilter covers the table.
- Column widths come from the header and the first rows (clamped: a long note does not make a
  column a screen wide).
- Text is stored as text (an inline string) with Excel's hidden quote prefix on the data columns:
  "=1+2", "+49 30 …" and "01234" show as they are, are never run or turned into numbers, and stay
  text when a person edits the cell; no visible apostrophe is needed (CSV keeps one: lead_export).
  Excel's "number stored as text" warnings are switched off for those columns.
- Numbers stay numbers (the report tables' counts).

rust_xlsxwriter (through rustpy-xlsxwriter) writes in constant-memory mode: each row goes to a
temporary file as it comes, so memory holds a row, not the sheet (bench/README.md compares it with
openpyxl, XlsxWriter and PyExcelerate). Pure apart from writing `target`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any, BinaryIO, Final

import rustpy_xlsxwriter

# Rows whose text sizes the columns; the rest of the file follows them unseen.
WIDTH_SAMPLE_ROWS: Final = 200
MIN_WIDTH: Final = 8.0
MAX_WIDTH: Final = 50.0
# Excel's limit for a sheet's name.
MAX_SHEET_NAME: Final = 31


def column_widths(header: Sequence[str], sample: Iterable[Sequence[Any]]) -> list[float]:
    """A width per column (in characters): the longest of the header and the sample's cells (a
    multi-line cell by its longest line), plus room for the filter button, within MIN..MAX."""
    longest = [len(h) + 3 for h in header]  # the filter's drop-down button sits over the header
    for row in sample:
        for i, value in zip(range(len(longest)), row, strict=False):
            if value is None or value == "":
                continue
            text = str(value)
            size = max(map(len, text.splitlines())) if "\n" in text else len(text)
            if size > longest[i]:
                longest[i] = size
    return [min(MAX_WIDTH, max(MIN_WIDTH, float(n + 1))) for n in longest]


def unique_keys(header: Sequence[str]) -> list[str]:
    """The header as distinct names (the writer takes each row as a dict): a repeated name gets
    " (2)", " (3)"…"""
    seen: set[str] = set()
    keys = []
    for name in header:
        key, n = name, 1
        while key in seen:
            n += 1
            key = f"{name} ({n})"
        seen.add(key)
        keys.append(key)
    return keys


def write(
    target: str | BinaryIO,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    sheet: str = "Sheet1",
    text: bool = True,
) -> int:
    """Writes the sheet (header, then `rows`, each a sequence of str / number / None, None for an
    empty cell) to `target`, a path or a binary file; returns the number of data rows. `text` puts
    the quote prefix on every data column (the lead export: every value is text)."""
    keys = unique_keys(header)
    stream = iter(rows)
    first = list(itertools.islice(stream, WIDTH_SAMPLE_ROWS))
    count = 0

    def records() -> Iterable[dict[str, Any]]:
        nonlocal count
        for row in itertools.chain(first, stream):
            count += 1
            if count == 1:  # the writer takes the header from the first record's keys: all of them
                record = dict.fromkeys(keys)
                record.update(zip(keys, row, strict=False))
                yield record
            else:
                yield dict(zip(keys, row, strict=False))
        if not count:  # the writer takes its header from the first record: an empty one keeps it
            yield dict.fromkeys(keys)

    quoted = rustpy_xlsxwriter.Format().set_quote_prefix()
    rustpy_xlsxwriter.write_worksheet(
        records(),
        target,
        sheet_name=sheet[:MAX_SHEET_NAME],
        freeze_row=1,
        autofilter=True,
        bold_headers=True,
        column_widths=column_widths(header, first),
        column_formats=[quoted] * len(keys) if text else None,
        ignore_errors=list(keys) if text else None,
    )
    return count
