"""SQL for SubmitLeads idempotency keys (submit_idempotency). Connection first; each statement is
its own transaction: the claim must be committed before the leads are stored."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg

from leadrelay.db import Connection
from leadrelay.errors import Unavailable

_CLAIM_ROUNDS = 3


async def claim(
    con: Connection,
    account_id: UUID,
    key: str,
    request_hash: bytes,
    lead_ids: Sequence[UUID],
    keep_hours: float,
) -> asyncpg.Record:
    """The key's row: a new one with these lead ids, or the one a call within `keep_hours` made
    (an older one is taken over as new)."""
    # Two statements: the row a live earlier call holds can be released (its call refused) between
    # them, and then the key is free: claim it again. Each round but the last needs such a release.
    for _ in range(_CLAIM_ROUNDS):
        row = await con.fetchrow(
            """INSERT INTO submit_idempotency AS s (account_id, key, request_hash, lead_ids)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (account_id, key) DO UPDATE
                  SET request_hash = EXCLUDED.request_hash, lead_ids = EXCLUDED.lead_ids, response = NULL,
                      created_at = now()
                  WHERE s.created_at < now() - make_interval(hours => $5)
               RETURNING request_hash, lead_ids, response""",
            account_id,
            key,
            request_hash,
            list(lead_ids),
            keep_hours,
        )
        if row is None:  # a live row: the earlier call's
            row = await con.fetchrow(
                "SELECT request_hash, lead_ids, response FROM submit_idempotency WHERE account_id = $1 AND key = $2",
                account_id,
                key,
            )
        if row is not None:
            return row
    raise Unavailable(f"idempotency key {key!r} was claimed and released {_CLAIM_ROUNDS} times meanwhile; retry")


async def finish(con: Connection, account_id: UUID, key: str, response: bytes) -> None:
    """Records the first call's answer (a concurrent repeat that finishes later keeps the first)."""
    await con.execute(
        "UPDATE submit_idempotency SET response = $3 WHERE account_id = $1 AND key = $2 AND response IS NULL",
        account_id,
        key,
        response,
    )


async def release(con: Connection, account_id: UUID, key: str) -> None:
    """Forgets a claim whose call stored nothing (refused): the key may carry a corrected batch."""
    await con.execute(
        "DELETE FROM submit_idempotency WHERE account_id = $1 AND key = $2 AND response IS NULL", account_id, key
    )


async def forget_expired(con: Connection, keep_hours: float, limit: int) -> int:
    status = await con.execute(
        """DELETE FROM submit_idempotency WHERE ctid IN (
               SELECT ctid FROM submit_idempotency WHERE created_at < now() - make_interval(hours => $1) LIMIT $2)""",
        keep_hours,
        limit,
    )
    return int(status.split()[-1])
