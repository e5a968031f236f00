"""ExportLeads end to end: filters, columns, formats, account scoping."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import grpc
from openpyxl import load_workbook

from leadrelay import lead_export
from leadrelay.lead_export import FIXED_COLUMNS
from leadrelay.v1 import common_pb2, ingest_pb2
from tests.harness import Api, rpc_error
from tests.ingest_service.file_support import csv_bytes, export, file_source, final, run

ROWS = [
    ["email", "phone", "first_name", "country"],
    ["ana@example.com", "+49 30 1234567", "Ana", "Germany"],
    ["bad", "-5", "Bo", "Germany"],
    ["cy@example.com", "", "Çy", "Narnia"],
]


async def _imported(api: Api, name: str = "Events") -> str:
    source_id = await file_source(api, name)
    final(await run(api.ingest.ImportLeads, ingest_pb2.ImportSpec(source_id=source_id), csv_bytes(ROWS)))
    return source_id


def _rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


async def test_csv_export_of_a_source(api: Api) -> None:
    source_id = await _imported(api)
    chunks = [c async for c in api.ingest.ExportLeads(ingest_pb2.ExportLeadsRequest(source_id=source_id))]
    assert chunks[0].file_name.startswith("leads-") and chunks[0].file_name.endswith(".csv")
    assert chunks[0].content_type == "text/csv; charset=utf-8"
    rows = _rows(b"".join(c.data for c in chunks))
    assert rows[0] == [*FIXED_COLUMNS, "email", "phone", "first_name", "country", "lead_source", "notes"]
    body = rows[1:]
    assert [r[13] for r in body] == ["Ana", "Bo", "Çy"]  # received order
    assert {r[1] for r in body} == {source_id}
    assert [r[3] for r in body] == ["CSV"] * 3
    assert [r[7] for r in body] == ["ACCEPTED", "REJECTED", "REJECTED"]
    assert [r[8] for r in body] == ["", "REJECT_LEAD_INVALID_EMAIL", "REJECT_LEAD_INVALID_LIST_VALUE"]
    assert [r[12] for r in body] == ["'+49 30 1234567", "'-5", ""]
    assert [r[15] for r in body] == ["Trade show"] * 3
    assert all(r[5].endswith("Z") and r[6].endswith("Z") for r in body)


async def test_filters_by_status_and_disposition(api: Api) -> None:
    source_id = await _imported(api)
    rejected = _rows(await export(api, source_id=source_id, status=common_pb2.LEAD_STATUS_REJECTED))
    assert [r[13] for r in rejected[1:]] == ["Bo", "Çy"]
    invalid_list = _rows(await export(api, source_id=source_id, disposition_code="REJECT_LEAD_INVALID_LIST_VALUE"))
    assert [r[13] for r in invalid_list[1:]] == ["Çy"]
    from google.protobuf.timestamp_pb2 import Timestamp

    future = Timestamp(seconds=4_000_000_000)
    assert _rows(await export(api, source_id=source_id, since=future)) == [rejected[0]]


async def test_export_of_all_sources_takes_the_union_of_their_columns(api: Api) -> None:
    from ingest_service.rpc import files  # noqa: F401  (the servicer module imports cleanly)

    first = await _imported(api, "A")
    second = await file_source(
        api,
        "B",
        rules=[],
        mapping=[
            common_pb2.FieldMapping(column="email", form_field="email"),
            common_pb2.FieldMapping(column="badge", form_field="badge"),
            common_pb2.FieldMapping(column="rest", unmapped_fields=True),
        ],
    )
    final(
        await run(
            api.ingest.ImportLeads,
            ingest_pb2.ImportSpec(source_id=second),
            csv_bytes([["email", "badge"], ["z@example.com", "77"]]),
        )
    )
    rows = _rows(await export(api))
    assert rows[0][11:] == ["email", "phone", "first_name", "country", "lead_source", "notes", "badge", "rest"]
    assert [r[1] for r in rows[1:]] == [first] * 3 + [second]
    assert rows[4][11:] == ["z@example.com", "", "", "", "", "", "77", ""]


async def test_xlsx_export_stores_text_as_text_with_frozen_header_filter_and_widths(api: Api) -> None:
    source_id = await _imported(api)
    chunks = [
        c
        async for c in api.ingest.ExportLeads(
            ingest_pb2.ExportLeadsRequest(source_id=source_id, format=common_pb2.FILE_FORMAT_XLSX)
        )
    ]
    assert chunks[0].file_name.endswith(".xlsx")
    assert chunks[0].content_type == lead_export.XLSX_CONTENT_TYPE
    data = b"".join(c.data for c in chunks)
    book = load_workbook(io.BytesIO(data))
    sheet = book.worksheets[0]
    assert sheet.title == "Leads"
    header = [*FIXED_COLUMNS, "email", "phone", "first_name", "country", "lead_source", "notes"]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == header
    assert [r[11:14] for r in values[1:]] == [
        ["ana@example.com", "+49 30 1234567", "Ana"],
        ["bad", "-5", "Bo"],
        ["cy@example.com", None, "Çy"],
    ]
    # Text cells: stored as strings with the hidden quote prefix, no visible apostrophe.
    phone = sheet.cell(3, 13)
    assert (phone.value, phone.data_type, phone.quotePrefix) == ("-5", "s", True)
    assert sheet.cell(1, 1).font.b
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:Q4"
    widths = column_widths(data)
    assert len(widths) == len(header) and all(8 <= w <= 51 for w in widths)
    assert widths[0] >= 36  # a LeadID (36 characters) is readable whole
    assert widths[11] >= len("ana@example.com") and widths[13] < 15


# stored value: the import file's cell for it (an imported cell is `restore`d on the way in)
def column_widths(xlsx: bytes) -> list[float]:
    """The sheet's column widths, one per column (openpyxl folds equal neighbours together)."""
    with zipfile.ZipFile(io.BytesIO(xlsx)) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
    widths: list[float] = []
    for low, high, width in re.findall(r'<col min="(\d+)" max="(\d+)" width="([\d.]+)"', xml):
        assert int(low) == len(widths) + 1
        widths += [float(width)] * (int(high) - int(low) + 1)
    return widths


ROUND_TRIP = {
    "'+tag": "''+tag",
    "=1+2": "=1+2",
    "-5": "-5",
    "@home": "@home",
    "'quoted": "'quoted",
    "''twice": "'''twice",
    "01234": "01234",
    "1234567890123456": "1234567890123456",
}


async def test_apostrophes_and_formula_starts_round_trip_through_export_and_re_upload(api: Api) -> None:
    source_id = await file_source(api)
    rows = [["email", "first_name", "country"]]
    rows += [[f"p{i}@example.com", cell, "Narnia"] for i, cell in enumerate(ROUND_TRIP.values())]
    final(await run(api.ingest.ImportLeads, ingest_pb2.ImportSpec(source_id=source_id), csv_bytes(rows)))
    csv_file = await export(api, source_id=source_id)
    by_email = {r[11]: r for r in _rows(csv_file)[1:]}
    # CSV: the neutralising apostrophe before a formula start, one more before a value's own.
    assert [by_email[f"p{i}@example.com"][13] for i in range(len(ROUND_TRIP))] == [
        "''+tag",
        "'=1+2",
        "'-5",
        "'@home",
        "'quoted",
        "'''twice",
        "01234",
        "1234567890123456",
    ]
    xlsx_file = await export(api, source_id=source_id, format=common_pb2.FILE_FORMAT_XLSX)
    sheet = load_workbook(io.BytesIO(xlsx_file)).worksheets[0]
    # XLSX: no apostrophe but the escape of a value's own.
    assert [r[13] for r in sheet.iter_rows(min_row=2, values_only=True)] == [
        "''+tag",
        "=1+2",
        "-5",
        "@home",
        "'quoted",
        "'''twice",
        "01234",
        "1234567890123456",
    ]
    assert {sheet.cell(r, 14).data_type for r in range(2, 2 + len(ROUND_TRIP))} == {"s"}
    leads = {r[11]: r[0] for r in _rows(csv_file)[1:]}
    for data in (csv_file, xlsx_file):
        done, failed = final(await run(api.ingest.ReuploadLeads, ingest_pb2.ImportSpec(), data))
        assert (done.rows_read, done.rows_errored) == (len(ROUND_TRIP), 0)
        assert {f[4] for f in failed} == {'country: "Narnia" is not on the picklist'}
        for i, stored in enumerate(ROUND_TRIP):
            lead = await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=leads[f"p{i}@example.com"]))
            assert lead.fields["first_name"] == stored


async def test_another_accounts_source_is_refused(api: Api, pool, servers) -> None:
    from tests.harness import new_account

    other = await new_account(pool)
    other_api = Api(other, servers.ingest_target, servers.validation_target, servers.feedback_target)
    try:
        theirs = await _imported(other_api)
    finally:
        await other_api.close()
    err = await rpc_error(export(api, source_id=theirs))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    # Without a source filter, nothing of theirs shows.
    assert _rows(await export(api)) == [list(FIXED_COLUMNS)]
