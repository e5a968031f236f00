"""The lead export file format, shared by ExportLeads (ingest) and the reports app's downloads, so both
give the same file. Pure: rows in, bytes out.

Columns A-K are fixed (LeadID ... PostOutStatus), then the mapped columns in the source's order. A
re-upload reads LeadID and the mapped columns and leaves A-K alone. Times are UTC ISO 8601 with a Z.

CSV: cells that a spreadsheet would run as a formula (starting with = + - @, tab or carriage return)
are neutralised with a leading apostrophe (OWASP's advice). UTF-8 with a BOM (Excel then shows
non-English characters), quoted only where needed. The rows of a large export are rendered by
PostgreSQL's COPY (leads_store.copy_export_csv, the same rules); `CsvEncoder` writes the header and
small files. Lines end with LF, as COPY writes them (every spreadsheet and our reader take it).

XLSX (leadrelay.xlsx_sheet): text is stored as text with Excel's hidden quote prefix, so no visible
apostrophe is needed; frozen header, autofilter, readable widths.

Both formats: a value that really starts with an apostrophe followed by a formula character or by
another apostrophe gets one more apostrophe (`escape`), so `restore`, which takes one away when a
file comes back, gives every value back as it was: "=1+1" -> CSV "'=1+1" -> "=1+1", "'+tag" ->
"''+tag" -> "'+tag", while "'quoted" (nothing to mistake) is written and read as it is.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO, Final

from leadrelay import xlsx_sheet

if TYPE_CHECKING:
    from asyncpg import Record

FIXED_COLUMNS: Final = (
    "LeadID",
    "SourceID",
    "FormID",
    "Platform",
    "PlatformLeadID",
    "CapturedAt",
    "ReceivedAt",
    "Status",
    "DispositionCode",
    "CustomReason",
    "PostOutStatus",
)
# The lead record's keys behind columns A-K (a dict, an asyncpg Record, anything with [key]).
FIXED_KEYS: Final = (
    "lead_id",
    "source_id",
    "form_id",
    "platform",
    "platform_lead_id",
    "captured_at",
    "received_at",
    "status",
    "disposition_code",
    "custom_reason",
    "post_out_status",
)
CSV_CONTENT_TYPE: Final = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
# What may follow the apostrophe that `restore` removes.
ESCAPED_STARTS: Final = (*FORMULA_STARTS, "'")
BOM: Final = "\ufeff".encode()
SHEET: Final = "Leads"


def header(columns: Sequence[str]) -> list[str]:
    """The CSV header row."""
    return [neutralise(c) for c in (*FIXED_COLUMNS, *columns)]


def xlsx_header(columns: Sequence[str]) -> list[str]:
    return [escape(c) for c in (*FIXED_COLUMNS, *columns)]


def format_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def neutralise(text: str) -> str:
    """A CSV cell: a formula start gets the apostrophe; so does a value `restore` would change."""
    return "'" + text if text.startswith(FORMULA_STARTS) else escape(text)


def escape(text: str) -> str:
    """An XLSX cell (and part of `neutralise`): one more apostrophe only where `restore` would
    otherwise take the value's own away."""
    return "'" + text if text.startswith("'") and text[1:].startswith(ESCAPED_STARTS) else text


def restore(text: str) -> str:
    """The cell's value before `neutralise` or `escape` (for re-uploads and imports)."""
    return text[1:] if text.startswith("'") and text[1:].startswith(ESCAPED_STARTS) else text


def row_values(lead: Mapping[str, Any] | Record, columns: Sequence[str], *, xlsx: bool = False) -> list[str]:
    """One export row: A-K from the lead record, then its mapped `fields` in `columns` order (the
    rules leads_store's export query applies in SQL, for small files and tests)."""
    fields = lead["fields"] or {}
    values = [format_value(lead[key]) for key in FIXED_KEYS]
    values.extend(format_value(fields.get(column)) for column in columns)
    cell = escape if xlsx else neutralise
    return [cell(v) for v in values]


class CsvEncoder:
    """Encodes rows to CSV bytes piece by piece: the first piece starts with the BOM."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\n")
        self._started = False

    def encode(self, rows: Iterable[Sequence[str]]) -> bytes:
        self._writer.writerows(rows)
        data = self._buffer.getvalue().encode("utf-8")
        self._buffer.seek(0)
        self._buffer.truncate()
        if not self._started:
            self._started = True
            return BOM + data
        return data


def iter_csv(rows: Iterable[Sequence[str]], chunk_rows: int = 2000) -> Iterator[bytes]:
    """The CSV file of `rows` (the header row first), in pieces of about `chunk_rows` rows."""
    encoder = CsvEncoder()
    batch: list[Sequence[str]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= chunk_rows:
            yield encoder.encode(batch)
            batch = []
    yield encoder.encode(batch)


def write_xlsx(target: str | BinaryIO, columns: Sequence[str], rows: Iterable[Sequence[str | None]]) -> int:
    """The XLSX export of `rows` (values already `escape`d, None or "" for an empty cell) to
    `target`; returns the number of rows."""
    return xlsx_sheet.write(target, xlsx_header(columns), rows, sheet=SHEET)


def iter_xlsx(
    columns: Sequence[str], rows: Iterable[Sequence[str | None]], chunk_bytes: int = 1 << 16
) -> Iterator[bytes]:
    """The XLSX export, written to a temporary file and streamed from it (the file is deleted)."""
    fd, path = tempfile.mkstemp(prefix="leadrelay-export-", suffix=".xlsx")
    os.close(fd)
    try:
        write_xlsx(path, columns, rows)
        with open(path, "rb") as file:
            while data := file.read(chunk_bytes):
                yield data
    finally:
        os.unlink(path)


def file_name(stem: str, xlsx: bool, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"{stem}-{stamp}.{'xlsx' if xlsx else 'csv'}"
