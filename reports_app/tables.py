"""A report table (Source, Rejections) as a file: CSV (UTF-8 with BOM) or XLSX, with the same
Excel safety as the lead export — in CSV, text cells that start with =, +, -, @ (or a tab / carriage
return) are neutralised so a spreadsheet never runs them as a formula; XLSX goes through the lead
export's writer (leadrelay.xlsx_sheet: text stored as text, frozen header, autofilter, widths).
Pure: rows in, bytes out."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any, Final

from leadrelay import lead_export, xlsx_sheet

BOM: Final = "\ufeff"


def neutralise(value: Any) -> Any:
    """Numbers stay numbers; text goes through the lead export's neutralisation."""
    if isinstance(value, int | float):
        return value
    return lead_export.neutralise(lead_export.format_value(value))


def to_csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in header])
    for row in rows:
        writer.writerow(["" if v is None else neutralise(v) for v in row])
    return out.getvalue().encode("utf-8")


def xlsx_cell(value: Any) -> Any:
    """Numbers stay numbers; text is stored as text (escaped like the lead export's XLSX cells)."""
    if value is None or isinstance(value, int | float):
        return value
    return lead_export.escape(lead_export.format_value(value)) or None


def to_xlsx(header: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "Report") -> bytes:
    out = io.BytesIO()
    xlsx_sheet.write(
        out,
        [lead_export.escape(h) for h in header],
        ([xlsx_cell(v) for v in row] for row in rows),
        sheet=title,
        text=False,
    )
    return out.getvalue()


def render(header: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str, title: str = "Report") -> bytes:
    return to_csv(header, rows) if fmt == "CSV" else to_xlsx(header, rows, title)
