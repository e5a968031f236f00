"""The lead export file format, shared by ExportLeads (ingest) and the reports app's downloads, so both
give the same file. Pure: rows in, bytes out.

Columns A-K are fixed (LeadID ... PostOutStatus), then the mapped columns in the source's order. A
re-upload reads LeadID and the mapped columns and leaves A-K alone.

Cells that a spreadsheet would run as a formula (starting with = + - @, tab or carriage return) are
neutralised with a leading apostrophe (OWASP's advice); `restore` removes it again when a file
comes back, so a phone number "+1 415..." survives the round trip. Times are UTC ISO 8601 with a Z.

CSV is UTF-8 with a BOM (Excel then shows non-English characters), CRLF line ends, quoted only where
needed. XLSX is written with openpyxl's write-only mode: rows go to a temporary file as they come,
so neither format holds the whole export in memory.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

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
_BOM = "\ufeff".encode()
# Control characters XML 1.0 cannot carry (openpyxl refuses them).
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def header(columns: Sequence[str]) -> list[str]:
    return [neutralise(c) for c in (*FIXED_COLUMNS, *columns)]


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
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def restore(text: str) -> str:
    """The cell's value before `neutralise` (for re-uploads and imports of exported files)."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text


def row_values(lead: Mapping[str, Any] | Record, columns: Sequence[str]) -> list[str]:
    """One export row: A-K from the lead record, then its mapped `fields` in `columns` order."""
    fields = lead["fields"] or {}
    values = [format_value(lead[key]) for key in FIXED_KEYS]
    values.extend(format_value(fields.get(column)) for column in columns)
    return [neutralise(v) for v in values]


class CsvEncoder:
    """Encodes rows to CSV bytes piece by piece: the first piece starts with the BOM."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")
        self._started = False

    def encode(self, rows: Iterable[Sequence[str]]) -> bytes:
        self._writer.writerows(rows)
        data = self._buffer.getvalue().encode("utf-8")
        self._buffer.seek(0)
        self._buffer.truncate()
        if not self._started:
            self._started = True
            return _BOM + data
        return data


class XlsxEncoder:
    """An openpyxl write-only workbook with one "Leads" sheet; `append` rows, then `chunks()` streams
    the finished file and deletes its temporary copy."""

    def __init__(self) -> None:
        from openpyxl import Workbook

        self._workbook = Workbook(write_only=True)
        self._sheet = self._workbook.create_sheet("Leads")

    def append(self, rows: Iterable[Sequence[str]]) -> None:
        # neutralise again (it is idempotent): openpyxl writes any string starting with "=" as a formula.
        sub = _XML_ILLEGAL.sub
        for row in rows:
            self._sheet.append([neutralise(sub("", v)) for v in row])

    def chunks(self, chunk_bytes: int = 1 << 16) -> Iterator[bytes]:
        fd, path = tempfile.mkstemp(prefix="leadrelay-export-", suffix=".xlsx")
        os.close(fd)
        try:
            self._workbook.save(path)
            with open(path, "rb") as file:
                while data := file.read(chunk_bytes):
                    yield data
        finally:
            os.unlink(path)


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


def iter_xlsx(rows: Iterable[Sequence[str]], chunk_bytes: int = 1 << 16) -> Iterator[bytes]:
    """The XLSX file of `rows` (the header row first), streamed once written."""
    encoder = XlsxEncoder()
    encoder.append(rows)
    yield from encoder.chunks(chunk_bytes)


def file_name(stem: str, xlsx: bool, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"{stem}-{stamp}.{'xlsx' if xlsx else 'csv'}"
