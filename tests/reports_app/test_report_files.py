"""Downloads and scheduled files are the ExportLeads format, byte for byte (leadrelay.lead_export)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

from openpyxl import load_workbook

from leadrelay import lead_export
from leadrelay.capture import dispositions
from leadrelay.v1 import ingest_pb2
from reports_app import report_files
from reports_app.database import reading
from reports_app.filters import ReportFilter
from tests.harness import Api
from tests.reports_app import seed

AT = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
F = ReportFilter(date(2026, 3, 10), date(2026, 3, 10))


async def test_leads_csv_is_the_export_format(pool, account, settings):
    async with pool.acquire() as con:
        src = await seed.source(con, account.account_id, "Events", columns=("email", "country", "note"))
        a = await seed.lead(
            con,
            account.account_id,
            src,
            AT,
            fields={"email": "a@x.de", "country": "Österreich", "note": "=HYPERLINK(1)"},
            platform_lead_id="p1",
        )
        b = await seed.lead(
            con,
            account.account_id,
            src,
            AT.replace(hour=13),
            status="REJECTED",
            code="REJECT_LEAD_INVALID_EMAIL",
            reason="email: bad",
            fields={"email": "+bad"},
            platform_lead_id="p2",
        )
    async with reading(pool, settings.reports_database_role) as con:
        file = await report_files.report_file(con, account.account_id, "LEADS", F, "CSV")
    assert file.rows == 2 and file.filename.startswith("leads-") and file.filename.endswith(".csv")
    assert file.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(file.data.decode("utf-8-sig"), newline="")))
    assert rows == [
        [*lead_export.FIXED_COLUMNS, "email", "country", "note"],
        [
            str(a),
            str(src),
            "",
            "CSV",
            "p1",
            "2026-03-10T12:00:00Z",
            "2026-03-10T12:00:00Z",
            "ACCEPTED",
            "",
            "",
            "",
            "a@x.de",
            "Österreich",
            "'=HYPERLINK(1)",
        ],
        [
            str(b),
            str(src),
            "",
            "CSV",
            "p2",
            "2026-03-10T13:00:00Z",
            "2026-03-10T13:00:00Z",
            "REJECTED",
            "REJECT_LEAD_INVALID_EMAIL",
            "email: bad",
            "",
            "'+bad",
            "",
            "",
        ],
    ]


async def test_leads_xlsx_and_source_report_files(pool, account, settings):
    async with pool.acquire() as con:
        src = await seed.source(con, account.account_id, "=Evil")
        await seed.lead(con, account.account_id, src, AT, post_out="POSTED")
    async with reading(pool, settings.reports_database_role) as con:
        xlsx = await report_files.report_file(con, account.account_id, "LEADS", F, "XLSX")
        source = await report_files.report_file(con, account.account_id, "SOURCE", F, "CSV")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    assert values[0] == [*lead_export.FIXED_COLUMNS, "email", "country"]
    assert values[1][7:] == ["ACCEPTED", None, None, "POSTED", "a@example.com", "Germany"]
    assert source.data.decode("utf-8-sig").splitlines() == [
        "Source,Platform,Received,Accepted,Rejected,Processing,"
        + ",".join(dispositions.CATALOGUE)
        + ",Posted,PostFailed,PlatformReported,Difference",
        "'=Evil,CSV,1,1,0,0," + "0," * len(dispositions.CATALOGUE) + "1,0,,",
    ]


async def test_leads_download_orders_columns_as_export_leads_does(api: Api, pool, settings):
    # Created "Zeta" first: ExportLeads keeps the sources' order, which sorting by name would reverse.
    async with pool.acquire() as con:
        zeta = await seed.source(con, api.account.account_id, "Zeta", columns=("email", "zeta_note"))
        alpha = await seed.source(con, api.account.account_id, "alpha", columns=("phone", "alpha_note"))
        await seed.lead(con, api.account.account_id, zeta, AT, fields={"email": "z@x.de"})
        await seed.lead(con, api.account.account_id, alpha, AT, fields={"phone": "+49 30 1"})
    chunks = [c async for c in api.ingest.ExportLeads(ingest_pb2.ExportLeadsRequest())]
    exported = next(csv.reader(io.StringIO(b"".join(c.data for c in chunks).decode("utf-8-sig"))))
    async with reading(pool, settings.reports_database_role) as con:
        file = await report_files.report_file(con, api.account.account_id, "LEADS", F, "CSV")
    downloaded = next(csv.reader(io.StringIO(file.data.decode("utf-8-sig"))))
    assert downloaded == exported == [*lead_export.FIXED_COLUMNS, "email", "zeta_note", "phone", "alpha_note"]
