"""SQL of the social connectors: connections (encrypted tokens, back-off), watermarks, the webhook
inbox and sync runs (a source's state and its leads are leadrelay.capture's).
Connection first, `$1` parameters; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from leadrelay.capture import sources_store
from leadrelay.db import Connection

# A claimed inbox row is invisible to other workers for this long (a crashed worker's rows return).
INBOX_LEASE_SECONDS = 60.0


# -- connections -----------------------------------------------------------------------------------


async def save_connection(
    con: Connection,
    source_id: UUID,
    account_id: UUID,
    access_token: bytes,
    refresh_token: bytes | None,
    grant_id: UUID | None = None,
) -> None:
    await con.execute(
        """INSERT INTO source_connections (source_id, account_id, access_token, refresh_token, grant_id)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (source_id) DO UPDATE SET access_token = $3, refresh_token = $4, grant_id = $5,
               last_error = '', backoff_until = NULL, backoff_seconds = 0""",
        source_id,
        account_id,
        access_token,
        refresh_token,
        grant_id,
    )


async def set_subscription(con: Connection, source_id: UUID, subscription: str) -> None:
    await con.execute("UPDATE source_connections SET subscription = $2 WHERE source_id = $1", source_id, subscription)


async def connected_elsewhere(con: Connection, platform: str, external_id: str, source_id: UUID) -> bool:
    """Another source (of any account) is connected to the same Page / ad account."""
    return bool(
        await con.fetchval(
            """SELECT true FROM source_connections c JOIN sources s USING (source_id)
                WHERE s.platform = $1 AND s.external_account_id = $2 AND c.source_id <> $3 LIMIT 1""",
            platform,
            external_id,
            source_id,
        )
    )


async def grant_connections(con: Connection, grant_id: UUID) -> list[asyncpg.Record]:
    return await con.fetch(f"{_CONNECTION_AND_NAME} WHERE c.grant_id = $1 ORDER BY s.name", grant_id)


async def replace_grant_token(con: Connection, grant_id: UUID, access_token: bytes) -> None:
    """A renewed member token (LinkedIn) for every source that uses it."""
    await con.execute("UPDATE source_connections SET access_token = $2 WHERE grant_id = $1", grant_id, access_token)


async def delete_connection(con: Connection, source_id: UUID) -> bool:
    return await con.fetchval("DELETE FROM source_connections WHERE source_id = $1 RETURNING true", source_id) or False


_CONNECTION = """SELECT c.source_id, c.account_id, c.access_token, c.connected_at, c.last_polled_at, c.last_error,
       c.backoff_until, c.backoff_seconds, c.grant_id, c.subscription, s.platform, s.external_account_id,
       s.state, s.enabled
  FROM source_connections c JOIN sources s USING (source_id)"""
_CONNECTION_AND_NAME = _CONNECTION.replace("s.state,", "s.state, s.name,")


async def connection(con: Connection, source_id: UUID) -> asyncpg.Record | None:
    return await con.fetchrow(f"{_CONNECTION} WHERE c.source_id = $1", source_id)


async def pollable(con: Connection) -> list[asyncpg.Record]:
    """Connected, enabled, ACTIVE sources that are not backing off."""
    return await con.fetch(
        f"""{_CONNECTION} WHERE s.state = 'ACTIVE' AND s.enabled
              AND (c.backoff_until IS NULL OR c.backoff_until <= now())
            ORDER BY c.last_polled_at NULLS FIRST"""
    )


async def for_external_account(con: Connection, platform: str, external_id: str) -> list[asyncpg.Record]:
    """Every account's connected source for a Page / ad account (several accounts may connect one Page)."""
    return await con.fetch(
        f"{_CONNECTION} WHERE s.platform = $1 AND s.external_account_id = $2 AND s.state = 'ACTIVE' AND s.enabled",
        platform,
        external_id,
    )


async def mark_polled(con: Connection, source_id: UUID) -> None:
    await con.execute(
        """UPDATE source_connections SET last_polled_at = now(), last_error = '', backoff_until = NULL,
               backoff_seconds = 0 WHERE source_id = $1""",
        source_id,
    )


async def record_error(con: Connection, source_id: UUID, message: str) -> None:
    await con.execute("UPDATE source_connections SET last_error = $2 WHERE source_id = $1", source_id, message)


async def mark_needs_reconnect(con: Connection, source_id: UUID, message: str) -> None:
    await con.execute("UPDATE source_connections SET last_error = $2 WHERE source_id = $1", source_id, message)
    await sources_store.needs_reconnect(con, source_id)


async def back_off(con: Connection, source_id: UUID, message: str, base: float, cap: float) -> float:
    """Rate limited: doubles the pause (base .. cap) and returns it. Watermarks are untouched."""
    return (
        await con.fetchval(
            """UPDATE source_connections
              SET backoff_seconds = LEAST($4::float8, GREATEST($3::float8, backoff_seconds * 2)),
                  backoff_until = now() + make_interval(
                      secs => LEAST($4::float8, GREATEST($3::float8, backoff_seconds * 2))),
                  last_error = $2
            WHERE source_id = $1 RETURNING backoff_seconds""",
            source_id,
            message,
            base,
            cap,
        )
        or base
    )


async def connection_summaries(con: Connection, source_ids: Sequence[UUID]) -> dict[UUID, asyncpg.Record]:
    """connected / last_polled_at / last_error per source, for whoever builds `Source` messages."""
    rows = await con.fetch(
        "SELECT source_id, last_polled_at, last_error FROM source_connections WHERE source_id = ANY($1::uuid[])",
        list(source_ids),
    )
    return {r["source_id"]: r for r in rows}


# -- watermarks ------------------------------------------------------------------------------------


async def watermark(con: Connection, source_id: UUID, scope: str) -> int | None:
    return await con.fetchval(
        "SELECT position FROM connector_watermarks WHERE source_id = $1 AND scope = $2", source_id, scope
    )


async def advance_watermark(con: Connection, source_id: UUID, scope: str, position: int) -> None:
    """Moves forward only: a late or overlapping poll never moves it back."""
    await con.execute(
        """INSERT INTO connector_watermarks (source_id, scope, position) VALUES ($1, $2, $3)
           ON CONFLICT (source_id, scope) DO UPDATE
              SET position = GREATEST(connector_watermarks.position, $3), updated_at = now()""",
        source_id,
        scope,
        position,
    )


# -- webhook inbox ---------------------------------------------------------------------------------


async def inbox_add(con: Connection, platform: str, items: Sequence[tuple[str, str, str, dict[str, Any]]]) -> list[int]:
    """(dedupe_key, external_account_id, platform_form_id, payload) rows; repeats are skipped. Returns the
    ids of the rows that are new."""
    if not items:
        return []
    rows = await con.fetch(
        """INSERT INTO webhook_inbox (platform, dedupe_key, external_account_id, platform_form_id, payload)
           SELECT $1, k, a, f, p FROM unnest($2::text[], $3::text[], $4::text[], $5::jsonb[]) AS t(k, a, f, p)
           ON CONFLICT (platform, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
           RETURNING inbox_id""",
        platform,
        [i[0] for i in items],
        [i[1] for i in items],
        [i[2] for i in items],
        [i[3] for i in items],
    )
    return [r["inbox_id"] for r in rows]


async def inbox_add_unreadable(con: Connection, platform: str, raw_body: str, reason: str) -> int:
    return await con.fetchval(
        """INSERT INTO webhook_inbox (platform, raw_body, status, reason, processed_at)
           VALUES ($1, $2, 'FAILED', $3, now()) RETURNING inbox_id""",
        platform,
        raw_body,
        reason,
    )


async def inbox_claim(con: Connection, platform: str, ids: Sequence[int] | None, limit: int) -> list[asyncpg.Record]:
    """Leases due PENDING rows (those `ids`, or any) to this worker; SKIP LOCKED so replicas share."""
    return await con.fetch(
        """UPDATE webhook_inbox SET attempts = attempts + 1,
                  next_attempt_at = now() + make_interval(secs => $4)
            WHERE inbox_id IN (SELECT inbox_id FROM webhook_inbox
                                WHERE status = 'PENDING' AND platform = $1 AND next_attempt_at <= now()
                                  AND ($2::bigint[] IS NULL OR inbox_id = ANY($2::bigint[]))
                                ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
        RETURNING inbox_id, dedupe_key, external_account_id, platform_form_id, payload, attempts""",
        platform,
        list(ids) if ids is not None else None,
        limit,
        INBOX_LEASE_SECONDS,
    )


async def inbox_finish(con: Connection, inbox_id: int, status: str, reason: str = "") -> None:
    await con.execute(
        "UPDATE webhook_inbox SET status = $2, reason = $3, processed_at = now() WHERE inbox_id = $1",
        inbox_id,
        status,
        reason,
    )


async def inbox_reopen_ignored(con: Connection, platform: str, external_account_id: str, days: int) -> int:
    """Makes the Page's / account's IGNORED rows of the last `days` due again (it is connected now);
    returns how many."""
    return len(
        await con.fetch(
            """UPDATE webhook_inbox SET status = 'PENDING', attempts = 0, next_attempt_at = now(), processed_at = NULL,
                      reason = 'reopened: the ' || CASE WHEN platform = 'FACEBOOK' THEN 'Page' ELSE 'account' END
                               || ' was connected after it arrived'
                WHERE platform = $1 AND external_account_id = $2 AND status = 'IGNORED'
                  AND received_at >= now() - make_interval(days => $3)
            RETURNING inbox_id""",
            platform,
            external_account_id,
            days,
        )
    )


async def inbox_retry(con: Connection, inbox_id: int, delay_seconds: float, reason: str) -> None:
    await con.execute(
        "UPDATE webhook_inbox SET next_attempt_at = now() + make_interval(secs => $2), reason = $3 WHERE inbox_id = $1",
        inbox_id,
        delay_seconds,
        reason,
    )


# -- sync runs -------------------------------------------------------------------------------------


async def resumable_sync(
    con: Connection, source_id: UUID, scope: str, since: datetime, until: datetime
) -> asyncpg.Record | None:
    return await con.fetchrow(
        """SELECT * FROM sync_runs WHERE source_id = $1 AND form_scope = $2 AND since = $3 AND until = $4
              AND state IN ('INTERRUPTED', 'FAILED') ORDER BY updated_at DESC LIMIT 1""",
        source_id,
        scope,
        since,
        until,
    )


async def start_sync(
    con: Connection, account_id: UUID, source_id: UUID, scope: str, since: datetime, until: datetime
) -> asyncpg.Record:
    return await con.fetchrow(  # type: ignore[return-value]  # INSERT ... RETURNING: always the row
        """INSERT INTO sync_runs (account_id, source_id, form_scope, since, until, checkpoint)
           VALUES ($1, $2, $3, $4, $5, $4) RETURNING *""",
        account_id,
        source_id,
        scope,
        since,
        until,
    )


async def resume_sync(con: Connection, sync_id: UUID) -> None:
    await con.execute("UPDATE sync_runs SET state = 'RUNNING', updated_at = now() WHERE sync_id = $1", sync_id)


async def save_sync(
    con: Connection,
    sync_id: UUID,
    *,
    checkpoint: datetime,
    state: str,
    pages_read: int,
    leads_seen: int,
    leads_new: int,
    leads_known: int,
    message: str = "",
) -> None:
    await con.execute(
        """UPDATE sync_runs SET checkpoint = $2, state = $3, pages_read = $4, leads_seen = $5, leads_new = $6,
                  leads_known = $7, message = $8, updated_at = now() WHERE sync_id = $1""",
        sync_id,
        checkpoint,
        state,
        pages_read,
        leads_seen,
        leads_new,
        leads_known,
        message,
    )
