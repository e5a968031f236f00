"""SQL of the imports table: one row per import or re-upload -- its claim (status and lease), its
fingerprint, its latest counts. Connection first, the caller owns the transaction.

A row's stored status is `running` while a call holds it; a running row whose lease has lapsed (its
process died) reads as `interrupted`, as does one whose call ended early."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from ingest_service.files.file_report import Progress
from leadrelay.db import Connection

RUNNING = "running"
INTERRUPTED = "interrupted"
FINISHED = "finished"
ABANDONED = "abandoned"

_ROW = """SELECT import_id, account_id, kind, source_id, file_name, started_at, finished_at, fingerprint,
                 CASE WHEN status = 'running' AND lease_until < now() THEN 'interrupted' ELSE status END AS status,
                 rows_read, rows_accepted, rows_rejected, rows_updated, rows_skipped, rows_errored, rows_waiting,
                 summary, actor
          FROM imports"""


async def create(
    con: Connection,
    import_id: UUID,
    account_id: UUID,
    kind: str,
    source_id: UUID | None,
    file_name: str,
    fingerprint: str,
    lease_seconds: float,
    actor: str = "",
) -> bool:
    """A new running import, claimed; False if the id, or a live import of the fingerprint, exists.
    `actor`: who started it (leadrelay.auth.current_actor's label)."""
    return (
        await con.fetchval(
            """INSERT INTO imports (import_id, account_id, kind, source_id, file_name, fingerprint, lease_until, actor)
               VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7), $8)
               ON CONFLICT DO NOTHING
               RETURNING true""",
            import_id,
            account_id,
            kind,
            source_id,
            file_name,
            fingerprint,
            lease_seconds,
            actor,
        )
        is not None
    )


async def get(con: Connection, import_id: UUID) -> asyncpg.Record | None:
    """Any account's import (the caller checks the owner)."""
    return await con.fetchrow(f"{_ROW} WHERE import_id = $1", import_id)


async def by_fingerprint(con: Connection, account_id: UUID, fingerprint: str) -> asyncpg.Record | None:
    """The account's import of this file and spec that is not abandoned."""
    return await con.fetchrow(
        f"{_ROW} WHERE account_id = $1 AND fingerprint = $2 AND status <> 'abandoned'", account_id, fingerprint
    )


async def claim(con: Connection, import_id: UUID, lease_seconds: float) -> bool:
    """Claims an import no live call holds (interrupted, finished, or running with a lapsed lease)."""
    return (
        await con.fetchval(
            """UPDATE imports SET status = 'running', lease_until = now() + make_interval(secs => $2)
               WHERE import_id = $1 AND status <> 'abandoned' AND NOT (status = 'running' AND lease_until >= now())
               RETURNING true""",
            import_id,
            lease_seconds,
        )
        is not None
    )


async def renew(con: Connection, import_id: UUID, lease_seconds: float) -> None:
    await con.execute(
        """UPDATE imports SET lease_until = now() + make_interval(secs => $2)
           WHERE import_id = $1 AND status = 'running'""",
        import_id,
        lease_seconds,
    )


async def release(con: Connection, import_id: UUID) -> None:
    """The call ended without finishing: interrupted at once (not after its lease)."""
    await con.execute(
        "UPDATE imports SET status = 'interrupted', lease_until = NULL WHERE import_id = $1 AND status = 'running'",
        import_id,
    )


async def abandon(con: Connection, import_id: UUID) -> bool:
    """Abandons an interrupted import; False if a call holds it or it has finished."""
    return (
        await con.fetchval(
            """UPDATE imports SET status = 'abandoned', lease_until = NULL
               WHERE import_id = $1
                 AND (status = 'interrupted' OR (status = 'running' AND lease_until < now()))
               RETURNING true""",
            import_id,
        )
        is not None
    )


async def list_imports(
    con: Connection, account_id: UUID, *, status: str | None, after: tuple | None, limit: int
) -> list[asyncpg.Record]:
    """The account's imports, newest first, keyset-paged by (started_at, import_id)."""
    return await con.fetch(
        f"""SELECT * FROM ({_ROW} WHERE account_id = $1) i
            WHERE ($2::text IS NULL OR status = $2)
              AND ($3::timestamptz IS NULL OR (started_at, import_id) < ($3, $4))
            ORDER BY started_at DESC, import_id DESC
            LIMIT $5""",
        account_id,
        status,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def record_progress(con: Connection, import_id: UUID, progress: Progress) -> None:
    await _counts(con, import_id, progress, "")


async def record_end(con: Connection, import_id: UUID, progress: Progress) -> None:
    await _counts(con, import_id, progress, ", status = 'finished', lease_until = NULL, finished_at = now()")


async def _counts(con: Connection, import_id: UUID, progress: Progress, extra: str) -> None:
    await con.execute(
        f"""UPDATE imports SET rows_read = $2, rows_accepted = $3, rows_rejected = $4, rows_updated = $5,
                   rows_skipped = $6, rows_errored = $7, rows_waiting = $8, summary = $9{extra}
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


async def add_reupload_leads(con: Connection, import_id: UUID, lead_ids: list[UUID], rows: list[int]) -> None:
    """The leads a re-upload changed, with their file rows (its history lists them)."""
    await con.execute(
        """INSERT INTO reupload_leads (import_id, lead_id, file_row)
           SELECT $1, l, r FROM unnest($2::uuid[], $3::bigint[]) AS t(l, r)
           ON CONFLICT DO NOTHING""",
        import_id,
        lead_ids,
        rows,
    )
