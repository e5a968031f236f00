"""The files a page downloads and a schedule sends — one function for both, so they are the same file.

Leads: exactly the ExportLeads format (`leadrelay.lead_export`: columns A–K, then the account's
source columns as `sources_store.account_columns` defines them for ExportLeads too, neutralised
cells, CSV with BOM or XLSX). Source and Rejections: the page's table (`reports_app.tables`, the
same Excel safety)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from leadrelay import lead_export
from leadrelay.capture import sources_store
from leadrelay.db import Connection
from reports_app import queries, shaping, tables
from reports_app.filters import ReportFilter
from reports_app.mailer import ReportFile

TITLES = {"LEADS": "Leads report", "SOURCE": "Source report", "REJECTIONS": "Rejections"}
STEMS = {"LEADS": "leads", "SOURCE": "source-report", "REJECTIONS": "rejections"}


async def leads_file(
    con: Connection, account_id: UUID, f: ReportFilter, fmt: str, now: datetime | None = None
) -> ReportFile:
    """Streams the leads through the lead_export encoders (the caller holds a transaction, which the
    server-side cursor needs)."""
    columns = await sources_store.account_columns(con, account_id, f.source_id)
    count = 0

    if fmt == "CSV":
        encoder = lead_export.CsvEncoder()
        parts = [encoder.encode([lead_export.header(columns)])]
        batch: list[list[str]] = []
        async for lead in queries.export_leads(con, account_id, f):
            batch.append(lead_export.row_values(lead, columns))
            count += 1
            if len(batch) >= 2000:
                parts.append(encoder.encode(batch))
                batch = []
        parts.append(encoder.encode(batch))
        data = b"".join(parts)
    else:
        xlsx = lead_export.XlsxEncoder()
        xlsx.append([lead_export.header(columns)])
        async for lead in queries.export_leads(con, account_id, f):
            xlsx.append([lead_export.row_values(lead, columns)])
            count += 1
        data = b"".join(xlsx.chunks())
    return ReportFile(
        lead_export.file_name("leads", fmt == "XLSX", now),
        fmt,
        data,
        count,
        f"{count} leads, {f.describe()}",
    )


async def table(con: Connection, account_id: UUID, report: str, f: ReportFilter) -> tuple[list[str], list[list[Any]]]:
    """The Source or Rejections table as the page shows it."""
    srcs = await queries.sources(con, account_id)
    if f.source_id:
        srcs = [s for s in srcs if s["source_id"] == f.source_id]
    names = {s["source_id"]: s["name"] for s in srcs}
    if report == "SOURCE":
        return shaping.source_report(
            await queries.source_counts(con, account_id, f), srcs, await queries.platform_counts(con, account_id, f)
        )
    if report == "REJECTIONS":
        rows = await queries.rejection_counts(con, account_id, f)
        return list(shaping.REJECTION_HEADER), shaping.rejection_table(rows, names)
    raise ValueError(f"report {report!r} is not SOURCE or REJECTIONS")


async def report_file(
    con: Connection, account_id: UUID, report: str, f: ReportFilter, fmt: str, now: datetime | None = None
) -> ReportFile:
    if report == "LEADS":
        return await leads_file(con, account_id, f, fmt, now)
    header, rows = await table(con, account_id, report, f)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    name = f"{STEMS[report]}-{stamp}.{fmt.lower()}"
    return ReportFile(
        name, fmt, tables.render(header, rows, fmt, TITLES[report]), len(rows), f"{len(rows)} rows, {f.describe()}"
    )
