"""SQL for acceptance criteria: one row per (source, version); sources.criteria_version (kept by
leadrelay.capture) names the current one. Connection first, the caller owns the transaction."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from leadrelay.capture import sources_store
from leadrelay.db import Connection


async def add_version(con: Connection, account_id: UUID, source_id: UUID, rules: list) -> asyncpg.Record:
    """Writes the next version and makes it current (the UPDATE's row lock orders concurrent writers)."""
    version = await sources_store.next_criteria_version(con, source_id)
    return await con.fetchrow(  # type: ignore[return-value]  # UPDATE ... RETURNING of the source locked just above
        """INSERT INTO acceptance_criteria (source_id, version, account_id, rules) VALUES ($1, $2, $3, $4)
           RETURNING source_id, version, rules, created_at""",
        source_id,
        version,
        account_id,
        rules,
    )


async def get_version(con: Connection, source_id: UUID, version: int) -> asyncpg.Record | None:
    return await con.fetchrow(
        "SELECT source_id, version, rules, created_at FROM acceptance_criteria WHERE source_id = $1 AND version = $2",
        source_id,
        version,
    )
