"""The lead export file streamed from the database, for ExportLeads and the console's downloads alike
(the format: leadrelay.lead_export). The caller holds a read-only transaction on `con` (one snapshot
for the columns and the rows); memory holds a piece of the file, never the file.

CSV: the header row, then PostgreSQL's COPY renders the rows (leads_store.copy_export_csv): no
Python per row, which is what brings a million-lead CSV export near a plain COPY's speed.
XLSX: the rows as text cells from a server-side cursor, fed to the constant-memory writer in a worker
thread (the writer is synchronous); the worker fetches each chunk on the event loop, one chunk ahead
of the writer. The finished
file streams from a temporary file, deleted at the end.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from leadrelay import lead_export
from leadrelay.capture import leads_store
from leadrelay.capture.leads_store import LeadFilter
from leadrelay.db import Connection

PIECE_BYTES = 1 << 20
CHUNK_ROWS = 5000
# COPY pieces waiting for the reader: the bound that keeps a slow client from filling memory.
QUEUED_PIECES = 64


@dataclass
class Exported:
    """Filled in as the file streams: the number of lead rows once the last piece is out."""

    rows: int = 0


async def csv_pieces(
    con: Connection,
    account_id: UUID,
    f: LeadFilter,
    columns: Sequence[str],
    exported: Exported | None = None,
    piece_bytes: int = PIECE_BYTES,
) -> AsyncIterator[bytes]:
    queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUED_PIECES)
    status: list[str] = []

    async def copy() -> None:
        await leads_store.copy_export_csv(con, account_id, f, columns, queue.put, status)

    task = asyncio.create_task(copy())
    try:
        piece = bytearray(lead_export.CsvEncoder().encode([lead_export.header(columns)]))
        while not (task.done() and queue.empty()):
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait((getter, task), return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                continue
            piece += getter.result()
            if len(piece) >= piece_bytes:
                yield bytes(piece)
                piece.clear()
        task.result()  # a failed COPY fails the export
        yield bytes(piece)
        if exported is not None:
            exported.rows = int(status[0].split()[-1]) if status else 0
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def xlsx_pieces(
    con: Connection,
    account_id: UUID,
    f: LeadFilter,
    columns: Sequence[str],
    exported: Exported | None = None,
    *,
    workers: Executor | None = None,
    chunk_rows: int = CHUNK_ROWS,
    piece_bytes: int = PIECE_BYTES,
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    cursor = await leads_store.export_text_cursor(con, account_id, f, columns)
    stop = threading.Event()

    def fetch() -> concurrent.futures.Future[list[Any]]:
        return asyncio.run_coroutine_threadsafe(cursor.fetch(chunk_rows), loop)

    def rows() -> Iterator[Any]:  # runs in the worker thread; yields asyncpg Records (sequences)
        # One chunk ahead: PostgreSQL (the other core) reads the next while the writer writes this one.
        ahead = fetch()
        while not stop.is_set():
            records = ahead.result()
            if not records:
                return
            ahead = fetch()
            yield from records
        raise RuntimeError("the export was abandoned")

    fd, path = tempfile.mkstemp(prefix="leadrelay-export-", suffix=".xlsx")
    os.close(fd)
    try:
        count = await loop.run_in_executor(workers, lead_export.write_xlsx, path, columns, rows())
        with open(path, "rb") as file:  # noqa: ASYNC230 (local temporary file, read in pieces)
            while data := await loop.run_in_executor(workers, file.read, piece_bytes):
                yield data
        if exported is not None:
            exported.rows = count
    finally:
        stop.set()
        os.unlink(path)
