"""SQL for acceptance criteria: one row per (source, version); sources.criteria_version (kept by
leadrelay.capture) names the current one. Connection first, the caller owns the transaction."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from leadrelay.capture import sources_store
from leadrelay.db import Connection

_COLUMNS = "source_id, version, rules, created_at, actor, note"


async def add_version(
    con: Connection, account_id: UUID, source_id: UUID, rules: list, actor: str = "", note: str = ""
) -> asyncpg.Record:
    """Writes the next version and makes it current (the UPDATE's row lock orders concurrent writers).
    `actor` names who saved it (leadrelay.auth.current_actor), `note` why."""
    version = await sources_store.next_criteria_version(con, source_id)
    return await con.fetchrow(  # type: ignore[return-value]  # UPDATE ... RETURNING of the source locked just above
        f"""INSERT INTO acceptance_criteria (source_id, version, account_id, rules, actor, note)
            VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_COLUMNS}""",
        source_id,
        version,
        account_id,
        rules,
        actor,
        note,
    )


async def get_version(con: Connection, source_id: UUID, version: int) -> asyncpg.Record | None:
    return await con.fetchrow(
        f"SELECT {_COLUMNS} FROM acceptance_criteria WHERE source_id = $1 AND version = $2", source_id, version
    )


async def list_versions(con: Connection, source_id: UUID, limit: int, before: int | None) -> list[asyncpg.Record]:
    """The source's versions, newest first, older than `before` when paging on."""
    return await con.fetch(
        f"""SELECT {_COLUMNS} FROM acceptance_criteria
            WHERE source_id = $1 AND ($2::int IS NULL OR version < $2) ORDER BY version DESC LIMIT $3""",
        source_id,
        before,
        limit,
    )
