"""ExportLeads, the database side: the account's leads matching the filters, inside one read-only
snapshot, streamed by leadrelay.capture.export_stream (the format and the code the reports app shares:
CSV rendered by COPY, XLSX by the constant-memory writer in the file workers). Memory holds a piece
of the file, never the file.

Columns after A-K: the source's columns in its order; without a source filter, the columns of all
the account's sources, in the sources' creation order, each name once (leadrelay.capture.sources_store).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import Executor
from uuid import UUID

import asyncpg

from leadrelay.capture import export_stream, sources_store
from leadrelay.capture.leads_store import LeadFilter


async def export_file(
    pool: asyncpg.Pool, account_id: UUID, f: LeadFilter, *, xlsx: bool, workers: Executor
) -> AsyncIterator[bytes]:
    """The file's bytes, streamed."""
    async with pool.acquire() as con, con.transaction(isolation="repeatable_read", readonly=True):
        columns = await sources_store.account_columns(con, account_id, f.source_id)
        if xlsx:
            pieces = export_stream.xlsx_pieces(con, account_id, f, columns, workers=workers)
        else:
            pieces = export_stream.csv_pieces(con, account_id, f, columns)
        async for data in pieces:
            yield data
