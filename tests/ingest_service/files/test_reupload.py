"""The rejected-lead loop end to end: import, export the rejected leads, fix them, re-upload, see
them accepted and posted once."""

from __future__ import annotations

import asyncio
import csv
import io

import asyncpg
import grpc

from leadrelay.lead_export import FIXED_COLUMNS
from leadrelay.v1 import common_pb2, ingest_pb2, validation_pb2
from tests.harness import Api, new_account, rpc_error
from tests.ingest_service.file_support import csv_bytes, export, file_source, final, run, xlsx_bytes

ROWS = [
    ["email", "first_name", "country"],
    ["ana@example.com", "Ana", "Germany"],
    ["bo-at-example.com", "Bo", "Germany"],
    ["cy@example.com", "Cy", "Narnia"],
    ["di@example.com", "Di", "Mordor"],
]


async def _rejected_export(api: Api, source_id: str) -> list[list[str]]:
    done, _ = final(await run(api.ingest.ImportLeads, ingest_pb2.ImportSpec(source_id=source_id), csv_bytes(ROWS)))
    assert (done.rows_accepted, done.rows_rejected) == (1, 3)
    data = await export(api, source_id=source_id, status=common_pb2.LEAD_STATUS_REJECTED)
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def _csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return b"\xef\xbb\xbf" + buffer.getvalue().encode()


async def _lead(api: Api, lead_id: str) -> ingest_pb2.Lead:
    return await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=lead_id))


async def test_fixed_rows_are_revalidated_accepted_and_posted(api: Api, pool: asyncpg.Pool, sandbox) -> None:
    source_id = await file_source(api)
    crm_url = f"{sandbox.url}/crm/reupload-{source_id[:8]}/leads"
    await api.postout.CreateDestination(
        validation_pb2.CreateDestinationRequest(
            source_id=source_id,
            name="CRM",
            url=crm_url,
            body=[common_pb2.FieldMapping(column="Email", lead_column="email")],
        )
    )
    rows = await _rejected_export(api, source_id)
    header = rows[0]
    assert header == [*FIXED_COLUMNS, "email", "phone", "first_name", "country", "lead_source", "notes"]
    by_name = {r[header.index("first_name")]: r for r in rows[1:]}
    assert sorted(by_name) == ["Bo", "Cy", "Di"]
    # The manager fixes Bo's email and Cy's country, deletes nothing, leaves Di wrong.
    by_name["Bo"][header.index("email")] = "bo@example.com"
    by_name["Cy"][header.index("country")] = "united states"
    # Columns A-K are not data: changing them changes nothing.
    by_name["Bo"][header.index("Status")] = "ACCEPTED"
    file_rows = [header, by_name["Bo"], by_name["Cy"], by_name["Di"]]

    done, failed = final(await run(api.ingest.ReuploadLeads, ingest_pb2.ImportSpec(), _csv(file_rows)))
    assert (done.rows_read, done.rows_updated, done.rows_accepted, done.rows_rejected) == (3, 3, 2, 1)
    assert (done.rows_skipped, done.rows_errored) == (0, 0)
    di = by_name["Di"][0]
    assert failed == [(4, di, "", "REJECT_LEAD_INVALID_LIST_VALUE", 'country: "Mordor" is not on the picklist')]
    assert done.message == "3 rows read, 3 updated, 2 accepted, 1 rejected"

    bo = await _lead(api, by_name["Bo"][0])
    assert bo.status == common_pb2.LEAD_STATUS_ACCEPTED
    assert bo.fields["email"] == "bo@example.com"
    # The re-upload, then its judgement (post-out may already have added "posted" after them).
    types = [e.type for e in bo.events]
    assert types[types.index("reuploaded") :][:2] == ["reuploaded", "validated"]
    reuploaded = [e for e in bo.events if e.type == "reuploaded"]
    assert len(reuploaded) == 1 and reuploaded[0].detail.endswith("changed email")
    cy = await _lead(api, by_name["Cy"][0])
    assert cy.status == common_pb2.LEAD_STATUS_ACCEPTED and cy.fields["country"] == "United States"

    async with pool.acquire() as con:
        posted = await con.fetch(
            "SELECT lead_id::text FROM post_outs WHERE source_id = $1::uuid ORDER BY lead_id", source_id
        )
    ana_and_fixed = {r[0] for r in posted}
    assert {by_name["Bo"][0], by_name["Cy"][0]} <= ana_and_fixed and by_name["Di"][0] not in ana_and_fixed
    assert len(ana_and_fixed) == 3

    # The same file again: the fixed leads are ACCEPTED now, so skipped and never posted twice.
    done, failed = final(await run(api.ingest.ReuploadLeads, ingest_pb2.ImportSpec(), _csv(file_rows)))
    assert (done.rows_read, done.rows_updated, done.rows_skipped, done.rows_accepted, done.rows_rejected) == (
        3,
        1,
        2,
        0,
        1,
    )
    for _ in range(100):
        async with pool.acquire() as con:
            statuses = await con.fetch(
                "SELECT status, count(*) FROM post_outs WHERE source_id = $1::uuid GROUP BY status", source_id
            )
        if dict(statuses) == {"POSTED": 3}:
            break
        await asyncio.sleep(0.05)
    assert dict(statuses) == {"POSTED": 3}
    async with pool.acquire() as con:
        attempts = await con.fetchval(
            "SELECT count(*) FROM post_out_attempts a JOIN leads l USING (lead_id) WHERE l.source_id = $1::uuid",
            source_id,
        )
    assert attempts == 3


async def test_per_row_errors_unknown_repeated_and_other_accounts_lead_ids(
    api: Api, pool: asyncpg.Pool, servers
) -> None:
    source_id = await file_source(api)
    rows = await _rejected_export(api, source_id)
    header = rows[0]
    other = await new_account(pool)
    other_api = Api(other, servers.ingest_target, servers.validation_target, servers.feedback_target)
    try:
        their_source = await file_source(other_api)
        final(await run(other_api.ingest.ImportLeads, ingest_pb2.ImportSpec(source_id=their_source), csv_bytes(ROWS)))
        theirs = list(csv.reader(io.StringIO((await export(other_api, source_id=their_source)).decode("utf-8-sig"))))
    finally:
        await other_api.close()
    unknown = "0190f5d2-0000-7000-8000-000000000000"
    width = len(header)
    file_rows = [
        header,
        rows[1],  # row 2: fine, still rejected
        [unknown] + [""] * (width - 1),  # row 3: unknown
        rows[2],  # row 4: repeated ...
        rows[2],  # row 5: ... both occurrences are errors
        [theirs[1][0], *rows[3][1:]],  # row 6: another account's lead
        ["not-a-uuid"] + [""] * (width - 1),  # row 7
        [""] * width,  # blank row: skipped, not an error
        [""] + ["x"] + [""] * (width - 2),  # row 9: no LeadID
    ]
    done, failed = final(await run(api.ingest.ReuploadLeads, ingest_pb2.ImportSpec(), _csv(file_rows)))
    assert (done.rows_read, done.rows_updated, done.rows_errored) == (7, 1, 6)
    errors = {f[0]: f[4] for f in failed if f[2] == "LeadID"}
    assert errors == {
        3: f"lead {unknown} not found",
        4: f"LeadID {rows[2][0]} appears more than once in the file (also row 5); the lead is left unchanged",
        5: f"LeadID {rows[2][0]} appears more than once in the file (also row 4); the lead is left unchanged",
        6: f"lead {theirs[1][0]} belongs to another account",
        7: "'not-a-uuid' is not a LeadID",
        9: "the LeadID is empty",
    }
    untouched = await _lead(api, rows[2][0])
    assert "reuploaded" not in [e.type for e in untouched.events]


async def test_xlsx_reupload_of_an_xlsx_export(api: Api) -> None:
    from openpyxl import load_workbook

    source_id = await file_source(api)
    await _rejected_export(api, source_id)
    data = await export(
        api, source_id=source_id, status=common_pb2.LEAD_STATUS_REJECTED, format=common_pb2.FILE_FORMAT_XLSX
    )
    sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    rows = [[c if c is not None else "" for c in row] for row in sheet.iter_rows(values_only=True)]
    header = rows[0]
    for row in rows[1:]:
        row[header.index("email")] = f"{row[header.index('first_name')].lower()}@example.com"
        row[header.index("country")] = "Germany"
    done, failed = final(await run(api.ingest.ReuploadLeads, ingest_pb2.ImportSpec(), xlsx_bytes(rows)))
    assert (done.rows_read, done.rows_updated, done.rows_accepted, done.rows_rejected) == (3, 3, 3, 0)
    assert failed == []


async def test_a_file_without_leadid_is_refused(api: Api) -> None:
    await file_source(api)
    err = await rpc_error(run(api.ingest.ReuploadLeads, ingest_pb2.ImportSpec(), csv_bytes([["email"], ["a@b.c"]])))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details() == "file: row 1: the file has no LeadID column: re-upload a file exported by LeadRelay"


async def test_a_data_header_of_no_source_refuses_the_file_before_any_change(api: Api) -> None:
    source_id = await file_source(api)
    rows = await _rejected_export(api, source_id)
    rows[0] = [*rows[0][:-1], "Shoe size"]
    err = await rpc_error(run(api.ingest.ReuploadLeads, ingest_pb2.ImportSpec(), _csv(rows)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details() == (
        f'file: row 1, column {chr(64 + len(rows[0]))} ("Shoe size"): '
        "matches no column of the sources of the file's leads"
    )
    lead = await _lead(api, rows[1][0])
    assert "reuploaded" not in [e.type for e in lead.events]
