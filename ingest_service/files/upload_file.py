"""An uploaded file (import or re-upload) as a table: its format, header and data rows. Pure over a
seekable binary file (the servicer spools the upload to a temporary file, never to memory).

`scan` reads the whole file once before anything is stored and refuses it at the first structural
problem -- an unreadable encoding, an unclosed quote, a ragged row, too many rows, no rows -- with
an error naming the row and column. So a bad file is refused whole, with nothing stored (a crash
half-way through a good one is the importer's to resume: import_claim).
`rows` then reads it again for the real work. Both look at the call's budget between rows
(file_budget): the scan has a wall-time deadline, and both end when the call does.

Width rule: every data row must have the header's number of fields (the first row's without a
header). Extra fields that are all empty (trailing delimiters) are ignored; a missing field or an
extra value is refused. XLSX rows are padded instead: a spreadsheet does not store trailing empty
cells. Rows whose fields are all empty (a blank line, or ",,," from a cleared spreadsheet row) are
skipped, but keep their number.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ingest_service.files import csv_reader, xlsx_reader
from ingest_service.files.csv_reader import CsvError, Dialect, Record, column_letter
from ingest_service.files.file_budget import Budget
from leadrelay.errors import InvalidArgument
from leadrelay.lead_export import restore

CSV = "csv"
XLSX = "xlsx"
# Rows between two looks at the budget: a look costs little, a CSV row less.
CHECK_EVERY = 256
FOOTER_START = re.compile(
    r"\s*(grand\s+totals?|totals?\b|sub-?totals?|copyright|\(c\)|©|generated\s+(by|on|at)|report\s+generated"
    r"|confidential|record\s+count|\d+\s+records?\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Table:
    format: str
    dialect: Dialect | None
    # The header's row number, 0 without a header row.
    header_row: int
    # The header texts (blank strings without a header row).
    headers: list[str]
    data_rows: int
    # Trailing footer lines of a report export, skipped (row numbers, ascending).
    footer_rows: tuple[int, ...] = ()

    @property
    def width(self) -> int:
        return len(self.headers)


def detect_format(file: BinaryIO, declared: str = "") -> str:
    file.seek(0)
    head = file.read(4)
    file.seek(0)
    if declared:
        return declared
    return XLSX if xlsx_reader.looks_like_xlsx(head) else CSV


def _records(
    file: BinaryIO, fmt: str, dialect: Dialect | None, budget: Budget, deadline: float | None
) -> Iterator[Record]:
    """The file's records, the budget checked every CHECK_EVERY rows (and before the first)."""
    records = xlsx_reader.read_records(file, budget.xlsx) if fmt == XLSX else csv_reader.read_records(file, dialect)
    try:
        budget.check(0, deadline)
        for n, record in enumerate(records, 1):
            yield record
            if not n % CHECK_EVERY:
                budget.check(record.row, deadline)
    finally:
        close = getattr(records, "close", None)
        if close:
            close()


def scan(
    file: BinaryIO,
    *,
    fmt: str = "",
    has_header: bool = True,
    max_rows: int,
    visit: Callable[[Record], None] | None = None,
    budget: Budget | None = None,
) -> Table:
    """Reads the whole file, checking its structure, within the budget's wall time; `visit` sees every
    data row (already width-checked) so callers can collect what they need (LeadIDs, source ids)."""
    budget = budget or Budget()
    fmt = detect_format(file, fmt)
    dialect = csv_reader.sniff(file) if fmt == CSV else None
    header_row = 0
    headers: list[str] | None = None
    count = 0
    footer: list[int] = []
    refusal: CsvError | None = None  # the first footer-like row's, raised if data follows it
    for record in _records(file, fmt, dialect, budget, budget.deadline()):
        if not any(record.fields):
            continue
        if headers is None:
            if has_header:
                header_row = record.row
                headers = [h.strip() for h in record.fields]
                continue
            headers = [""] * len(record.fields)
        try:
            fields = _fit(record, len(headers), fmt)
        except CsvError as short:
            texts = [f for f in record.fields if f.strip()]
            if not texts:
                continue
            if len(record.fields) >= len(headers) or len(texts) > 1 or not (footer or FOOTER_START.match(texts[0])):
                raise
            footer.append(record.row)
            refusal = refusal or short
            continue
        if refusal is not None:
            raise refusal
        count += 1
        if count > max_rows:
            raise CsvError(record.row, None, f"the file has more than {max_rows} rows (LEADRELAY_IMPORT_MAX_ROWS)")
        if visit is not None:
            visit(Record(record.row, fields))
    if headers is None:
        raise CsvError(1, None, "the file is empty")
    if count == 0:
        raise CsvError(header_row + 1, None, "the file has a header row but no data rows")
    return Table(fmt, dialect, header_row, headers, count, tuple(footer))


def rows(file: BinaryIO, table: Table, budget: Budget | None = None) -> Iterator[Record]:
    """The data rows of a scanned file, fitted to the header's width, exported-cell apostrophes
    removed (see lead_export.restore). No deadline: the scan read the same rows within it."""
    first = table.header_row + 1 if table.header_row else 1
    end = table.footer_rows[0] if table.footer_rows else None
    width = table.width
    for record in _records(file, table.format, table.dialect, budget or Budget(), None):
        if end is not None and record.row >= end:
            return
        if record.row < first or not any(record.fields):
            continue
        fields = _fit(record, width, table.format)
        if "'" in "".join(fields):  # one C-level check; most rows have no apostrophe at all
            fields = [restore(v) if v[:1] == "'" else v for v in fields]
        yield record if fields is record.fields else Record(record.row, fields)


def _fit(record: Record, width: int, fmt: str) -> list[str]:
    fields = record.fields
    n = len(fields)
    if n == width:
        return fields
    if n < width:
        if fmt == XLSX:
            return fields + [""] * (width - n)
        raise CsvError(
            record.row,
            n + 1,
            f"the row has {n} fields but the header has {width} (columns {column_letter(n + 1)}"
            f"-{column_letter(width)} are missing)"
            if width - n > 1
            else f"the row has {n} fields but the header has {width} (column {column_letter(width)} is missing)",
        )
    for i in range(width, n):
        if fields[i].strip():
            raise CsvError(record.row, i + 1, f"a value beyond the last of the {width} header columns")
    return fields[:width]


def read_header(file: BinaryIO, fmt: str, budget: Budget | None = None) -> Table:
    """The header of a file (the first non-blank row), read without scanning the rest."""
    budget = budget or Budget()
    fmt = detect_format(file, fmt)
    dialect = csv_reader.sniff(file) if fmt == CSV else None
    records = _records(file, fmt, dialect, budget, budget.deadline())
    try:
        for record in records:
            if not record.blank:
                return Table(fmt, dialect, record.row, [h.strip() for h in record.fields], 0)
    except CsvError as exc:
        raise InvalidArgument("file", str(exc)) from None
    finally:
        close = getattr(records, "close", None)
        if close:
            close()
    raise InvalidArgument("file", "row 1: the file is empty")
