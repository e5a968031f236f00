"""The export file format: fixed columns, neutralised cells, CSV with BOM, XLSX, round trips."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

from openpyxl import load_workbook

from leadrelay import lead_export
from leadrelay.lead_export import (
    FIXED_COLUMNS,
    escape,
    header,
    iter_csv,
    iter_xlsx,
    neutralise,
    restore,
    row_values,
)

LEAD = {
    "lead_id": UUID("01900000-0000-7000-8000-000000000001"),
    "source_id": UUID("01900000-0000-7000-8000-000000000002"),
    "form_id": None,
    "platform": "CSV",
    "platform_lead_id": "import:x:2",
    "captured_at": datetime(2026, 1, 31, 9, 30, 5, 123456, tzinfo=UTC),
    "received_at": datetime(2026, 1, 31, 11, 30, tzinfo=timezone(timedelta(hours=2))),
    "status": "REJECTED",
    "disposition_code": "REJECT_LEAD_INVALID_EMAIL",
    "custom_reason": 'email: "x" is not a valid email address',
    "post_out_status": "",
    "fields": {"email": "x", "phone": "+1 415 555 0100", "name": 'Zoë, "Z"\nline 2', "extra": "ignored"},
}
COLUMNS = ["email", "phone", "name", "missing"]


def test_header_is_a_to_k_then_the_mapped_columns() -> None:
    assert header(COLUMNS) == [*FIXED_COLUMNS, *COLUMNS]
    assert len(FIXED_COLUMNS) == 11 and FIXED_COLUMNS[0] == "LeadID" and FIXED_COLUMNS[10] == "PostOutStatus"
    assert header(["=evil"])[-1] == "'=evil"


def test_row_values() -> None:
    assert row_values(LEAD, COLUMNS) == [
        "01900000-0000-7000-8000-000000000001",
        "01900000-0000-7000-8000-000000000002",
        "",
        "CSV",
        "import:x:2",
        "2026-01-31T09:30:05Z",
        "2026-01-31T09:30:00Z",
        "REJECTED",
        "REJECT_LEAD_INVALID_EMAIL",
        'email: "x" is not a valid email address',
        "",
        "x",
        "'+1 415 555 0100",
        'Zoë, "Z"\nline 2',
        "",
    ]


def test_neutralise_every_formula_start_and_restore_undoes_it() -> None:
    for start in ("=", "+", "-", "@", "\t", "\r"):
        value = f"{start}1+1"
        assert neutralise(value) == "'" + value
        assert restore(neutralise(value)) == value
    assert neutralise("plain") == "plain" and neutralise("") == ""
    assert restore("'quoted by the user") == "'quoted by the user"


def test_a_value_s_own_apostrophe_round_trips_in_both_formats() -> None:
    for value in ("'+tag", "'=x", "''", "'''x", "'quoted", "'", "+tag", "=x", "plain", ""):
        assert restore(neutralise(value)) == value
        assert restore(escape(value)) == value
    assert (neutralise("'+tag"), escape("'+tag")) == ("''+tag", "''+tag")
    assert (neutralise("+tag"), escape("+tag")) == ("'+tag", "+tag")
    assert (neutralise("'quoted"), escape("'quoted")) == ("'quoted", "'quoted")


def test_csv_has_bom_crlf_and_quotes_only_where_needed() -> None:
    rows = [header(COLUMNS), row_values(LEAD, COLUMNS)]
    data = b"".join(iter_csv(rows, chunk_rows=1))
    assert data.startswith(b"\xef\xbb\xbfLeadID,SourceID,FormID,")
    assert data.count(b"\xef\xbb\xbf") == 1
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0].endswith("PostOutStatus,email,phone,name,missing")
    assert '"Zoë, ""Z""\nline 2"' in text
    assert list(csv.reader(io.StringIO(text))) == rows


def test_csv_reads_back_through_our_reader_with_values_restored() -> None:
    from ingest_service.files.csv_reader import read_records

    rows = [header(COLUMNS), row_values(LEAD, COLUMNS)]
    records = [r.fields for r in read_records(io.BytesIO(b"".join(iter_csv(rows)))) if not r.blank]
    assert records == rows
    assert restore(records[1][12]) == "+1 415 555 0100"


def test_xlsx_cells_are_text_with_no_visible_apostrophe() -> None:
    rows = [row_values(LEAD, COLUMNS, xlsx=True), ["a\x00b", "=1+1", escape("'+tag"), None]]
    data = b"".join(iter_xlsx(COLUMNS, rows, chunk_bytes=100))
    assert data.startswith(b"PK\x03\x04")
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    assert sheet.title == "Leads"
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == [*FIXED_COLUMNS, *COLUMNS]
    assert values[1][12] == "+1 415 555 0100"
    assert values[1][13] == 'Zoë, "Z"\nline 2'
    # A control character XML cannot carry is kept (escaped as _x0000_); "=1+1" is text, not a formula;
    # a value's own apostrophe before a formula start is escaped so that `restore` gives it back.
    assert values[2][:4] == ["a_x0000_b", "=1+1", "''+tag", None]
    assert [sheet.cell(3, c).data_type for c in (1, 2, 3)] == ["s", "s", "s"]
    assert sheet.cell(3, 2).quotePrefix and not sheet.cell(1, 2).quotePrefix
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:O3"


def test_xlsx_reads_back_through_our_reader_with_values_restored() -> None:
    from ingest_service.files.file_budget import XlsxLimits
    from ingest_service.files.xlsx_reader import read_records

    values = ["=1+1", "'+tag", "'quoted", "01234", "Łódź 東京", "a\x01b"]
    data = b"".join(iter_xlsx(["v"], [[*[None] * 11, lead_export.escape(v)] for v in values]))
    records = [r.fields for r in read_records(io.BytesIO(data), XlsxLimits())]
    assert [restore(r[11]) for r in records[1:]] == values


def test_encoders_stream_piece_by_piece() -> None:
    encoder = lead_export.CsvEncoder()
    first = encoder.encode([["a", "b"]])
    second = encoder.encode([["c", "d"]])
    assert (first, second) == (b"\xef\xbb\xbfa,b\n", b"c,d\n")


def test_file_name() -> None:
    assert (
        lead_export.file_name("leads", True, datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)) == "leads-20260203-040506.xlsx"
    )
