"""Read-only SQL of the set-up pages (criteria, destinations, delivery log, lifecycle feedback): the
source's columns, leads to pick for a test send, the delivery
log, and the CRM stages ever received. Connection first, then the signed-in user's account."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from leadrelay.capture import sources_store
from leadrelay.db import Connection
from reports_app import queries


async def source_columns(con: Connection, account_id: UUID, source_id: UUID) -> list[str]:
    """The source's columns in its order (leadrelay.capture's one definition)."""
    return await sources_store.account_columns(con, account_id, source_id)


async def recent_leads(con: Connection, account_id: UUID, source_id: UUID, limit: int = 50) -> list[dict[str, Any]]:
    """The source's newest leads, for choosing one to send as a test."""
    rows = await con.fetch(
        """SELECT lead_id, received_at, status, fields ->> 'email' AS email FROM leads
           WHERE account_id = $1 AND source_id = $2 ORDER BY received_at DESC LIMIT $3""",
        account_id,
        source_id,
        limit,
    )
    return [dict(r) for r in rows]


async def delivery_log(
    con: Connection,
    account_id: UUID,
    *,
    source_id: UUID | None,
    destination_id: UUID | None,
    outcome: str,
    since: datetime,
    until: datetime,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Delivery attempts in [since, until), newest first, with their destination and lead."""
    rows = await con.fetch(
        """SELECT a.attempt_id, a.at, a.lead_id, a.destination_id, d.name AS destination, l.source_id,
                  s.name AS source, a.attempt, a.status_code, a.duration_ms, a.outcome, a.reason,
                  a.request_excerpt, a.response_excerpt, p.status AS delivery_status,
                  l.fields ->> 'email' AS email
           FROM post_out_attempts a
           JOIN destinations d USING (destination_id)
           JOIN leads l USING (lead_id)
           JOIN sources s ON s.source_id = l.source_id
           LEFT JOIN post_outs p ON p.lead_id = a.lead_id AND p.destination_id = a.destination_id
           WHERE a.account_id = $1 AND a.at >= $2 AND a.at < $3
             AND ($4::uuid IS NULL OR l.source_id = $4) AND ($5::uuid IS NULL OR a.destination_id = $5)
             AND ($6 = '' OR a.outcome = $6)
           ORDER BY a.at DESC, a.attempt_id DESC LIMIT $7""",
        account_id,
        since,
        until,
        source_id,
        destination_id,
        outcome,
        limit,
    )
    return [dict(r) for r in rows]


async def stages_received(con: Connection, account_id: UUID) -> list[dict[str, Any]]:
    """Every CRM stage the account ever reported, with how many changes and the last one."""
    rows = await con.fetch(
        # The kept counts (migration 0036); each stage's last change read from its index's end.
        queries.EVENT_COUNTS
        + """, s AS (SELECT crm_stage, sum(n)::bigint AS changes FROM e GROUP BY 1 HAVING sum(n) <> 0)
           SELECT s.crm_stage, s.changes,
                  (SELECT max(e.changed_at) FROM feedback_events e
                   WHERE e.account_id = $1 AND e.crm_stage = s.crm_stage) AS last_at
           FROM s ORDER BY s.crm_stage""",
        account_id,
    )
    return [dict(r) for r in rows]
