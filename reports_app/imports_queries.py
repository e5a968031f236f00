"""Read-only SQL of the upload and import histories: the account's runs (the ingest service records
each in `imports`, with who started it and its counts while it runs) and the leads a re-upload
changed. Connection first; the caller's read-only transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from leadrelay.capture import mapping
from leadrelay.db import Connection

HISTORY_ROWS = 50
LEADS_ROWS = 1000


@dataclass(frozen=True)
class FileTargets:
    columns: list[str]
    catch_all: str
    # False: the source has no mapping (each file column becomes a column of its own name).
    mapped: bool


async def runs(con: Connection, account_id: UUID, kind: str, source_id: UUID | None) -> list[dict[str, Any]]:
    """The account's latest runs of `kind` ("reupload" or "import"), newest first; a running one
    whose lease lapsed (its process died) reads as interrupted."""
    rows = await con.fetch(
        """SELECT i.import_id, i.kind, i.source_id, s.name AS source_name, i.file_name, i.started_at, i.finished_at,
                  CASE WHEN i.status = 'running' AND i.lease_until < now() THEN 'interrupted' ELSE i.status END
                      AS status,
                  i.rows_read, i.rows_accepted, i.rows_rejected, i.rows_updated, i.rows_skipped, i.rows_errored,
                  i.rows_waiting, i.summary, i.actor
           FROM imports i LEFT JOIN sources s USING (source_id)
           WHERE i.account_id = $1 AND i.kind = $2 AND ($3::uuid IS NULL OR i.source_id = $3)
           ORDER BY i.started_at DESC, i.import_id DESC
           LIMIT $4""",
        account_id,
        kind,
        source_id,
        HISTORY_ROWS,
    )
    return [dict(r) for r in rows]


async def reupload_leads(con: Connection, account_id: UUID, import_id: UUID) -> list[dict[str, Any]]:
    """The leads one re-upload changed, in file order, with their state now."""
    rows = await con.fetch(
        """SELECT r.file_row, l.lead_id, l.fields, l.status, l.disposition_code, l.custom_reason, l.post_out_status
           FROM reupload_leads r
           JOIN imports i ON i.import_id = r.import_id AND i.account_id = $1
           JOIN leads l ON l.lead_id = r.lead_id AND l.account_id = $1
           WHERE r.import_id = $2
           ORDER BY r.file_row
           LIMIT $3""",
        account_id,
        import_id,
        LEADS_ROWS,
    )
    return [dict(r) for r in rows]


async def fillable_columns(con: Connection, account_id: UUID, source_ids: list[UUID]) -> dict[UUID, FileTargets]:
    """Per source of the account: the columns a file can fill (those its default mapping takes
    from an answer) and its catch-all column ("" when it has none)."""
    rows = await con.fetch(
        "SELECT source_id, default_mapping FROM sources WHERE account_id = $1 AND source_id = ANY($2::uuid[])",
        account_id,
        source_ids,
    )
    out = {}
    for r in rows:
        found = mapping.from_json(r["default_mapping"])
        out[r["source_id"]] = FileTargets(
            [m.column for m in found if m.form_field is not None],
            next((m.column for m in found if m.unmapped_fields), ""),
            bool(found),
        )
    return out
