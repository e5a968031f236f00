"""ExportLeads, the database side: the account's leads matching the filters, read through a
server-side cursor in chunks inside one read-only snapshot, written by leadrelay.lead_export (the
format the reports app shares). Memory holds one chunk of rows, never the file.

Columns after A-K: the source's mapped columns in its order; without a source filter, the mapped
columns of all the account's sources, in the sources' creation order, each name once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from uuid import UUID

import asyncpg

from ingest_service import sources_store
from ingest_service.leads_store import LeadFilter
from leadrelay import lead_export, mapping

CHUNK_ROWS = 5000


async def export_columns(con: asyncpg.Connection, account_id: UUID, source_id: UUID | None) -> list[str]:
    if source_id is not None:
        return await sources_store.source_columns(con, source_id)
    columns: dict[str, None] = {}
    for row in await con.fetch(
        "SELECT default_mapping FROM sources WHERE account_id = $1 ORDER BY created_at, source_id", account_id
    ):
        columns.update(dict.fromkeys(mapping.columns(mapping.from_json(row[0]))))
    return list(columns)


_QUERY = """
    SELECT l.lead_id, l.source_id, l.form_id, s.platform, l.platform_lead_id, l.captured_at, l.received_at,
           l.status, l.disposition_code, l.custom_reason, l.post_out_status, l.fields
    FROM leads l JOIN sources s USING (source_id)
    WHERE l.account_id = $1
      AND ($2::uuid IS NULL OR l.source_id = $2)
      AND ($3::uuid IS NULL OR l.form_id = $3)
      AND ($4::text IS NULL OR l.status = $4)
      AND ($5::text IS NULL OR l.disposition_code = $5)
      AND ($6::timestamptz IS NULL OR l.received_at >= $6)
      AND ($7::timestamptz IS NULL OR l.received_at < $7)
    ORDER BY l.received_at, l.lead_id"""


async def export_rows(
    pool: asyncpg.Pool, account_id: UUID, f: LeadFilter, chunk_rows: int = CHUNK_ROWS
) -> AsyncIterator[list[list[str]]]:
    """The export's rows in chunks: the header row first, then the leads."""
    async with pool.acquire() as con, con.transaction(isolation="repeatable_read", readonly=True):
        columns = await export_columns(con, account_id, f.source_id)
        yield [lead_export.header(columns)]
        cursor = await con.cursor(
            _QUERY,
            account_id,
            f.source_id,
            f.form_id,
            f.status,
            f.disposition_code,
            f.since,
            f.until,
        )
        while records := await cursor.fetch(chunk_rows):
            yield [lead_export.row_values(r, columns) for r in records]


async def export_file(
    pool: asyncpg.Pool, account_id: UUID, f: LeadFilter, *, xlsx: bool, chunk_rows: int = CHUNK_ROWS
) -> AsyncIterator[bytes]:
    """The file's bytes, streamed. CSV pieces go out as each chunk is read; XLSX rows are appended
    to the write-only workbook (in a thread, off the event loop) and the file streams once saved."""
    if not xlsx:
        encoder = lead_export.CsvEncoder()
        async for rows in export_rows(pool, account_id, f, chunk_rows):
            yield encoder.encode(rows)
        return
    workbook = lead_export.XlsxEncoder()
    async for rows in export_rows(pool, account_id, f, chunk_rows):
        await asyncio.to_thread(workbook.append, rows)
    chunks = workbook.chunks(1 << 20)
    while data := await asyncio.to_thread(next, chunks, b""):
        yield data
