"""SQL of OAuth connect: connect_states (single-use, short-lived, bound to an account and a user)
and platform_grants (a user's platform authorisation and its renewal). Connection first, `$1`
parameters; the caller owns the transaction. Tokens arrive and leave as ciphertext."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from leadrelay.db import Connection

# -- states ----------------------------------------------------------------------------------------


async def add_state(
    con: Connection,
    state_hash: bytes,
    account_id: UUID,
    user_ref: str,
    platform: str,
    source_id: UUID | None,
    redirect_uri: str,
    return_url: str,
    expires_at: datetime,
) -> None:
    # Expired states are of no use to anyone: each new one clears them.
    await con.execute("DELETE FROM connect_states WHERE expires_at < now() - interval '1 day'")
    await con.execute(
        """INSERT INTO connect_states (state_hash, account_id, user_ref, platform, source_id, redirect_uri,
                                       return_url, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        state_hash,
        account_id,
        user_ref,
        platform,
        source_id,
        redirect_uri,
        return_url,
        expires_at,
    )


async def state(con: Connection, state_hash: bytes) -> asyncpg.Record | None:
    return await con.fetchrow("SELECT * FROM connect_states WHERE state_hash = $1", state_hash)


async def use_state(con: Connection, state_hash: bytes) -> asyncpg.Record | None:
    """Marks the state used and returns it; None when it was used already (single use, race-free)."""
    return await con.fetchrow(
        "UPDATE connect_states SET used_at = now() WHERE state_hash = $1 AND used_at IS NULL RETURNING *",
        state_hash,
    )


# -- grants ----------------------------------------------------------------------------------------


async def add_grant(
    con: Connection,
    *,
    account_id: UUID,
    user_ref: str,
    platform: str,
    reconnect_source_id: UUID | None,
    access_token: bytes,
    refresh_token: bytes | None,
    access_expires_at: datetime | None,
    reconnect_by: datetime | None,
    choices: list[dict[str, Any]],
) -> UUID:
    # A grant nobody picked from within a day is dropped with its tokens.
    await con.execute(
        """DELETE FROM platform_grants g WHERE g.created_at < now() - interval '1 day'
              AND NOT EXISTS (SELECT 1 FROM source_connections c WHERE c.grant_id = g.grant_id)"""
    )
    return await con.fetchval(
        """INSERT INTO platform_grants (account_id, user_ref, platform, reconnect_source_id, access_token,
                                        refresh_token, access_expires_at, reconnect_by, choices)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING grant_id""",
        account_id,
        user_ref,
        platform,
        reconnect_source_id,
        access_token,
        refresh_token,
        access_expires_at,
        reconnect_by,
        json.dumps(choices),
    )


async def grant(con: Connection, grant_id: UUID) -> asyncpg.Record | None:
    return await con.fetchrow("SELECT * FROM platform_grants WHERE grant_id = $1", grant_id)


async def in_use(con: Connection) -> list[asyncpg.Record]:
    """Grants some connected source still depends on and whose renewal has not failed."""
    return await con.fetch(
        """SELECT g.* FROM platform_grants g
            WHERE g.failed_at IS NULL
              AND EXISTS (SELECT 1 FROM source_connections c WHERE c.grant_id = g.grant_id)
            ORDER BY g.access_expires_at NULLS LAST"""
    )


async def renewed(
    con: Connection,
    grant_id: UUID,
    access_token: bytes,
    refresh_token: bytes | None,
    access_expires_at: datetime | None,
) -> None:
    await con.execute(
        """UPDATE platform_grants SET access_token = $2, refresh_token = coalesce($3, refresh_token),
                  access_expires_at = $4, renewed_at = now() WHERE grant_id = $1""",
        grant_id,
        access_token,
        refresh_token,
        access_expires_at,
    )


async def reminded(con: Connection, grant_id: UUID) -> None:
    await con.execute("UPDATE platform_grants SET reminded_at = now() WHERE grant_id = $1", grant_id)


async def failed(con: Connection, grant_id: UUID, reason: str) -> bool:
    """Marks renewal impossible; False when another worker did it first."""
    return bool(
        await con.fetchval(
            """UPDATE platform_grants SET failed_at = now(), failure = $2
                WHERE grant_id = $1 AND failed_at IS NULL RETURNING true""",
            grant_id,
            reason,
        )
    )
