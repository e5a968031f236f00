"""SQL for a lead's audit trail (lead_events) on its own; the statements that store or judge leads
write their events with them (leads_store). Connection first, the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg

from leadrelay.db import Connection


async def add_events(
    con: Connection,
    account_id: UUID,
    lead_ids: Sequence[UUID],
    type_: str,
    details: Sequence[str],
    *,
    actor: str = "",
) -> None:
    """`actor`: who acted (leadrelay.auth.current_actor(): "user:<id>", "key:<prefix>", "" the system)."""
    await con.execute(
        """INSERT INTO lead_events (lead_id, account_id, type, detail, actor)
           SELECT u.l, $2, $3, u.d, $5 FROM unnest($1::uuid[], $4::text[]) AS u(l, d)""",
        list(lead_ids),
        account_id,
        type_,
        list(details),
        actor,
    )


async def lead_events(con: Connection, lead_id: UUID) -> list[asyncpg.Record]:
    return await con.fetch(
        "SELECT type, at, detail, actor FROM lead_events WHERE lead_id = $1 ORDER BY event_id", lead_id
    )
