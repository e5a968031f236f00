"""The uploaded file as the console reads it (plain functions over bytes): a few sample values per
column for the import's review, and the rows still to fix -- the file's own rows that were refused
or are still rejected, in the file's own format with the new reason, ready to fix and upload again.

Row numbers are the ingest service's: 1-based records, the header being row 1 (a CSV record with
a line break inside quotes is one row; an XLSX row is the sheet's row)."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from charset_normalizer import from_bytes
from python_calamine import CalamineWorkbook

from leadrelay import xlsx_sheet
from leadrelay.lead_export import neutralise

# Where the new disposition and reason go in a file exported by LeadRelay (columns I and J).
CODE_HEADER: Final = "DispositionCode"
REASON_HEADER: Final = "CustomReason"
_DELIMITERS: Final = ",;\t|"
XLSX_MIME: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Table:
    """A file's header (empty strings without one) and its records, numbered as the service numbers them."""

    headers: list[str]
    # (row number, cells): the raw cells, str for a CSV, typed values for an XLSX.
    rows: list[tuple[int, list[Any]]]
    xlsx: bool


def is_xlsx(data: bytes) -> bool:
    return data[:2] == b"PK"


def decode(data: bytes) -> str:
    """The text of a CSV: by its byte-order mark, else UTF-8, else the best guess."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        best = from_bytes(data[: 1 << 20]).best()
        return data.decode(best.encoding if best else "cp1252", errors="replace")


def _delimiter(text: str) -> str:
    sample = text[: 64 << 10]
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","


def read(data: bytes, *, has_header: bool = True, max_rows: int | None = None) -> Table:
    """The file as a table (at most `max_rows` records after the header)."""
    if is_xlsx(data):
        return _read_xlsx(data, has_header, max_rows)
    text = decode(data)
    records = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    rows: list[tuple[int, list[Any]]] = []
    headers: list[str] = []
    for n, record in enumerate(records, start=1):
        if n == 1 and has_header:
            headers = list(record)
            continue
        rows.append((n, list(record)))
        if max_rows is not None and len(rows) >= max_rows:
            break
    return Table(headers or _letters(rows), rows, False)


def _read_xlsx(data: bytes, has_header: bool, max_rows: int | None) -> Table:
    # calamine, as the ingest service reads it; the service applies its size limits to the same file.
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    try:
        rows: list[tuple[int, list[Any]]] = []
        headers: list[str] = []
        for n, values in enumerate(book.get_sheet_by_index(0).iter_rows(), start=1):
            cells = [None if v == "" else v for v in values]
            if n == 1 and has_header:
                headers = ["" if v is None else str(v) for v in cells]
                continue
            rows.append((n, cells))
            if max_rows is not None and len(rows) >= max_rows:
                break
    finally:
        book.close()
    return Table(headers or _letters(rows), rows, True)


def _letters(rows: Sequence[tuple[int, list[Any]]]) -> list[str]:
    width = max((len(r) for _, r in rows), default=0)
    return ["" for _ in range(width)]


def text(value: Any) -> str:
    """A cell as text (an XLSX number or date as the sheet holds it)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def samples(table: Table, index: int, n: int = 3) -> list[str]:
    """Up to `n` distinct non-empty values of a column, in file order."""
    out: list[str] = []
    for _, cells in table.rows:
        value = text(cells[index]).strip() if index < len(cells) else ""
        if value and value not in out:
            out.append(value)
            if len(out) >= n:
                break
    return out


def letter(index: int) -> str:
    """The spreadsheet letter of a 0-based column index (A, ..., Z, AA, ...)."""
    out = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


def still_to_fix(data: bytes, reasons: Mapping[int, tuple[str, str]], file_name: str) -> tuple[bytes, str]:
    """The file's rows named in `reasons` (row -> (disposition code, reason)), in the file's format,
    the header first, with the new code and reason in DispositionCode / CustomReason where the file
    has them. Returns the bytes and a file name."""
    table = read(data)
    keep = [(n, cells) for n, cells in table.rows if n in reasons]
    code_at = _index(table.headers, CODE_HEADER)
    reason_at = _index(table.headers, REASON_HEADER)

    def fixed(n: int, cells: list[Any]) -> list[Any]:
        out = list(cells) + [""] * (len(table.headers) - len(cells))
        code, reason = reasons[n]
        if code_at is not None:
            out[code_at] = code
        if reason_at is not None:
            out[reason_at] = reason
        return out

    stem = file_name.rsplit(".", 1)[0] if "." in file_name else file_name or "leads"
    if table.xlsx:
        return _xlsx(table.headers, (fixed(n, c) for n, c in keep)), f"{stem}-to-fix.xlsx"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(table.headers)
    writer.writerows(fixed(n, c) for n, c in keep)
    return codecs.BOM_UTF8 + buffer.getvalue().encode(), f"{stem}-to-fix.csv"


def _index(headers: Sequence[str], name: str) -> int | None:
    wanted = name.lower()
    return next((i for i, h in enumerate(headers) if h.strip().lower() == wanted), None)


def _xlsx(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.BytesIO()
    xlsx_sheet.write(buffer, headers, ([None if c == "" else c for c in row] for row in rows))
    return buffer.getvalue()


def rows_file(header: Sequence[str], rows: Iterable[Sequence[Any]], xlsx: bool) -> bytes:
    """A plain report (e.g. the failing rows of an import) as CSV (UTF-8 with BOM, for Excel) or XLSX."""
    if xlsx:
        return _xlsx(header, rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    # A cell starting with = + - @ would run as a formula in a spreadsheet: the apostrophe keeps it text.
    writer.writerows([neutralise(c) if isinstance(c, str) else c for c in row] for row in rows)
    return codecs.BOM_UTF8 + buffer.getvalue().encode()
