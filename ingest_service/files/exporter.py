"""ExportLeads, the database side: the account's leads matching the filters, read through a
server-side cursor in chunks inside one read-only snapshot, written by leadrelay.lead_export (the
format the reports app shares). Memory holds one chunk of rows, never the file.

Columns after A-K: the source's columns in its order; without a source filter, the columns of all
the account's sources, in the sources' creation order, each name once (leadrelay.capture.sources_store).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import Executor
from uuid import UUID

import asyncpg

from leadrelay import lead_export
from leadrelay.capture import leads_store, sources_store
from leadrelay.capture.leads_store import LeadFilter

CHUNK_ROWS = 5000


async def export_rows(
    pool: asyncpg.Pool, account_id: UUID, f: LeadFilter, chunk_rows: int = CHUNK_ROWS
) -> AsyncIterator[list[list[str]]]:
    """The export's rows in chunks: the header row first, then the leads."""
    async with pool.acquire() as con, con.transaction(isolation="repeatable_read", readonly=True):
        columns = await sources_store.account_columns(con, account_id, f.source_id)
        yield [lead_export.header(columns)]
        cursor = await leads_store.export_cursor(con, account_id, f)
        while records := await cursor.fetch(chunk_rows):
            yield [lead_export.row_values(r, columns) for r in records]


async def export_file(
    pool: asyncpg.Pool,
    account_id: UUID,
    f: LeadFilter,
    *,
    xlsx: bool,
    workers: Executor,
    chunk_rows: int = CHUNK_ROWS,
) -> AsyncIterator[bytes]:
    """The file's bytes, streamed. CSV pieces go out as each chunk is read; XLSX rows are appended
    to the write-only workbook (in the file workers, off the event loop) and the file streams once saved."""
    if not xlsx:
        encoder = lead_export.CsvEncoder()
        async for rows in export_rows(pool, account_id, f, chunk_rows):
            yield encoder.encode(rows)
        return
    loop = asyncio.get_running_loop()
    workbook = lead_export.XlsxEncoder()
    async for rows in export_rows(pool, account_id, f, chunk_rows):
        await loop.run_in_executor(workers, workbook.append, rows)
    chunks = workbook.chunks(1 << 20)
    while data := await loop.run_in_executor(workers, next, chunks, b""):
        yield data
