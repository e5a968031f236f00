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
from leadrelay.capture import export_stream, sources_store
from leadrelay.capture.leads_store import LeadFilter
from leadrelay.db import Connection
from reports_app import queries, shaping, tables
from reports_app.filters import ReportFilter
from reports_app.mailer import ReportFile

TITLES = {"LEADS": "Leads report", "SOURCE": "Source report", "REJECTIONS": "Rejections"}
STEMS = {"LEADS": "leads", "SOURCE": "source-report", "REJECTIONS": "rejections"}


async def leads_file(
    con: Connection, account_id: UUID, f: ReportFilter, fmt: str, now: datetime | None = None
) -> ReportFile:
    """The leads through leadrelay.capture.export_stream, the code ExportLeads streams with (the
    caller holds a transaction, which the server-side cursor needs)."""
    columns = await sources_store.account_columns(con, account_id, f.source_id)
    lead_filter = LeadFilter(
        source_id=f.source_id,
        form_id=f.form_id,
        status=f.status or None,
        disposition_code=f.disposition_code or None,
        since=f.start,
        until=f.end,
    )
    exported = export_stream.Exported()
    if fmt == "CSV":
        pieces = export_stream.csv_pieces(con, account_id, lead_filter, columns, exported)
    else:
        pieces = export_stream.xlsx_pieces(con, account_id, lead_filter, columns, exported)
    data = b"".join([piece async for piece in pieces])
    return ReportFile(
        lead_export.file_name("leads", fmt == "XLSX", now),
        fmt,
        data,
        exported.rows,
        f"{exported.rows} leads, {f.describe()}",
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
