"""SQL of the imports table: one row per import or re-upload, its start and its final counts.
Connection first, the caller owns the transaction."""

from __future__ import annotations

from uuid import UUID

from ingest_service.files.file_report import Progress
from leadrelay.db import Connection


async def record_start(
    con: Connection, import_id: UUID, account_id: UUID, kind: str, source_id: UUID | None, file_name: str
) -> None:
    await con.execute(
        """INSERT INTO imports (import_id, account_id, kind, source_id, file_name)
           VALUES ($1, $2, $3, $4, $5)""",
        import_id,
        account_id,
        kind,
        source_id,
        file_name,
    )


async def record_end(con: Connection, import_id: UUID, progress: Progress) -> None:
    await con.execute(
        """UPDATE imports SET finished_at = now(), rows_read = $2, rows_accepted = $3, rows_rejected = $4,
                  rows_updated = $5, rows_skipped = $6, rows_errored = $7, rows_waiting = $8, summary = $9
           WHERE import_id = $1""",
        import_id,
        progress.rows_read,
        progress.rows_accepted,
        progress.rows_rejected,
        progress.rows_updated,
        progress.rows_skipped,
        progress.rows_errored,
        progress.rows_waiting,
        progress.summary(),
    )
