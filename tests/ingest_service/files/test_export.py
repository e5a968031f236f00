"""ExportLeads end to end: filters, columns, formats, account scoping."""

from __future__ import annotations

import csv
import io

import grpc
from openpyxl import load_workbook

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


async def test_xlsx_export(api: Api) -> None:
    source_id = await _imported(api)
    chunks = [
        c
        async for c in api.ingest.ExportLeads(
            ingest_pb2.ExportLeadsRequest(source_id=source_id, format=common_pb2.FILE_FORMAT_XLSX)
        )
    ]
    assert chunks[0].file_name.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(b"".join(c.data for c in chunks)), read_only=True).worksheets[0]
    values = [[c if c is not None else "" for c in row] for row in sheet.iter_rows(values_only=True)]
    assert values[0][:11] == list(FIXED_COLUMNS)
    assert [r[13] for r in values[1:]] == ["Ana", "Bo", "Çy"]
    assert values[2][12] == "'-5"


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


def test_xlsx_is_written_through_lxml() -> None:
    # Without lxml openpyxl silently falls back to its pure-Python XML writer (~2.5x slower exports).
    from openpyxl.cell import _writer as cell_writer
    from openpyxl.worksheet import _writer as sheet_writer

    assert cell_writer.write_cell is cell_writer.lxml_write_cell
    assert sheet_writer.xmlfile.__module__ == "lxml.etree"
