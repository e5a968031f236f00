"""SQL for acceptance criteria: one row per (source, version); sources.criteria_version names the
current one. Connection first, the caller owns the transaction."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from leadrelay import mapping
from leadrelay.errors import NotFound, PermissionDenied


async def source(con: asyncpg.Connection, account_id: UUID, source_id: UUID) -> asyncpg.Record:
    row = await con.fetchrow(
        "SELECT source_id, account_id, name, enabled, criteria_version FROM sources WHERE source_id = $1",
        source_id,
    )
    if row is None:
        raise NotFound("source", str(source_id))
    if row["account_id"] != account_id:
        raise PermissionDenied("source", str(source_id))
    return row


async def mapped_columns(con: asyncpg.Connection, source_id: UUID) -> list[str]:
    """Every column the source's default mapping or any of its forms' mappings fills."""
    row = await con.fetchrow(
        """SELECT s.default_mapping,
                  coalesce((SELECT jsonb_agg(f.mapping) FROM forms f
                            WHERE f.source_id = s.source_id AND f.mapping IS NOT NULL), '[]') AS forms
           FROM sources s WHERE s.source_id = $1""",
        source_id,
    )
    cols = mapping.columns(mapping.from_json(row["default_mapping"]))
    for form_mapping in row["forms"]:
        cols.extend(mapping.columns(mapping.from_json(form_mapping)))
    return list(dict.fromkeys(cols))


async def add_version(con: asyncpg.Connection, account_id: UUID, source_id: UUID, rules: list) -> asyncpg.Record:
    """Writes the next version and makes it current (the UPDATE's row lock orders concurrent writers)."""
    version = await con.fetchval(
        "UPDATE sources SET criteria_version = criteria_version + 1 WHERE source_id = $1 RETURNING criteria_version",
        source_id,
    )
    return await con.fetchrow(
        """INSERT INTO acceptance_criteria (source_id, version, account_id, rules) VALUES ($1, $2, $3, $4)
           RETURNING source_id, version, rules, created_at""",
        source_id,
        version,
        account_id,
        rules,
    )


async def get_version(con: asyncpg.Connection, source_id: UUID, version: int) -> asyncpg.Record | None:
    return await con.fetchrow(
        "SELECT source_id, version, rules, created_at FROM acceptance_criteria WHERE source_id = $1 AND version = $2",
        source_id,
        version,
    )
