"""Storing a file import's leads in bulk: the rows are COPYed (binary, copy_records_to_table) into a
temporary staging table, then one INSERT ... SELECT ... ON CONFLICT (source_id, platform_lead_id)
DO NOTHING moves them into `leads` and, in the same statement, adds a `received` event for each
lead actually inserted. What intake.submit's insert does for a batch, minus the per-row parameter
arrays (leads_store owns that path; this one only adds rows the same shape: no form, not a test,
captured and received now, PROCESSING). Connection first; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg

# (lead_id, source_id, platform_lead_id, answers JSON text, fields JSON text)
StagedLead = tuple[UUID, UUID, str, str, str]

_STAGING_COLUMNS = ("lead_id", "source_id", "platform_lead_id", "answers", "fields")


async def store(con: asyncpg.Connection, account_id: UUID, via: str, leads: Sequence[StagedLead]) -> set[UUID]:
    """Stores the leads; returns the ids inserted (a known (source_id, platform_lead_id) is not)."""
    if not leads:
        return set()
    # Dropped at commit: nothing is left on the pooled connection.
    await con.execute(
        """CREATE TEMP TABLE import_staging (lead_id uuid, source_id uuid, platform_lead_id text,
                                              answers text, fields text) ON COMMIT DROP"""
    )
    await con.copy_records_to_table("import_staging", records=leads, columns=_STAGING_COLUMNS)
    rows = await con.fetch(
        """WITH stored AS (
               INSERT INTO leads (lead_id, account_id, source_id, platform_lead_id, answers, fields)
               SELECT lead_id, $1, source_id, platform_lead_id, answers::jsonb, fields::jsonb
               FROM import_staging ORDER BY lead_id
               ON CONFLICT (source_id, platform_lead_id) DO NOTHING
               RETURNING lead_id),
           events AS (
               INSERT INTO lead_events (lead_id, account_id, type, detail)
               SELECT lead_id, $1, 'received', $2 FROM stored ORDER BY lead_id)
           SELECT lead_id FROM stored""",
        account_id,
        via,
    )
    return {r[0] for r in rows}
