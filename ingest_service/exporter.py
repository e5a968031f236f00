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

from ingest_service import leads_store, sources_store
from ingest_service.leads_store import LeadFilter
from leadrelay import lead_export

CHUNK_ROWS = 5000


async def export_columns(con: asyncpg.Connection, account_id: UUID, source_id: UUID | None) -> list[str]:
    if source_id is not None:
        return await sources_store.source_columns(con, source_id)
    return await sources_store.account_columns(con, account_id)


async def export_rows(
    pool: asyncpg.Pool, account_id: UUID, f: LeadFilter, chunk_rows: int = CHUNK_ROWS
) -> AsyncIterator[list[list[str]]]:
    """The export's rows in chunks: the header row first, then the leads."""
    async with pool.acquire() as con, con.transaction(isolation="repeatable_read", readonly=True):
        columns = await export_columns(con, account_id, f.source_id)
        yield [lead_export.header(columns)]
        cursor = await leads_store.export_cursor(con, account_id, f)
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
