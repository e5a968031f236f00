"""The post-out outbox: accepting a lead enqueues its deliveries in the same transaction, and workers
claim due deliveries with FOR UPDATE SKIP LOCKED and a lease.

The outbox is the `post_outs` table itself: a row in PENDING or RETRYING whose next_attempt_at has
come and that no lease holds is due. Claiming sets lease_until one lease ahead and stamps a fresh
lease_token, so any number of workers and replicas cooperate, and a crashed worker's rows are due
again once the lease runs out (their Idempotency-Key makes the repeat harmless).

Neither lease column is indexed (migration 0032): a claim rewrites the row on its own page (a HOT
update) without touching any of post_outs' five indexes. Leased rows stay in the due index, and a
claim steps over them (at most the workers' batches in flight).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from leadrelay.db import Connection
from validation_service import post_out_store

# The key is derived from the pair, so every attempt of the pair, before or after any crash, and
# even a re-enqueue after re-upload, sends the same one.
_ENQUEUE = """
WITH added AS (
    INSERT INTO post_outs AS p (lead_id, destination_id, account_id, source_id, idempotency_key)
    SELECT l.lead_id, d.destination_id, l.account_id, l.source_id,
           'lr-' || left(encode(sha256(convert_to(l.lead_id::text || '/' || d.destination_id::text, 'UTF8')),
                                'hex'), 40)
    FROM leads l
    JOIN destinations d ON d.source_id = l.source_id AND d.enabled
    WHERE l.lead_id = ANY($1::uuid[]) AND (NOT l.is_test OR d.post_test_leads)
    ORDER BY l.lead_id, d.destination_id
    ON CONFLICT (lead_id, destination_id) DO UPDATE
        SET status = 'PENDING', next_attempt_at = now(), enqueued_at = now(), lease_token = NULL,
            lease_until = NULL, updated_at = now()
        -- Accepted again after a fix (re-upload): a delivery that ended without success starts over.
        -- A POSTED pair is never posted again; one in flight keeps its schedule.
        WHERE p.status IN ('FAILED', 'REJECTED_BY_DESTINATION')
    RETURNING 1
)
SELECT count(*) FROM added
"""


async def enqueue(con: Connection, lead_ids: Sequence[UUID], *, source_ids: Sequence[UUID] = ()) -> int:
    """Enqueues a post-out for each accepted lead and each of its source's destinations.

    Called by the validation store inside the transaction that records ACCEPTED. Returns rows added.
    Test leads go only to destinations that post test leads; the others show NOT_POSTED.
    A caller that knows the leads' sources passes them: when none has an enabled destination the
    enqueue would add nothing and change no new lead, and a bulk caller skips its two statements.
    """
    if not lead_ids:
        return 0
    if source_ids and not await post_out_store.any_enabled_destination(con, source_ids):
        return 0
    ids = list(lead_ids)
    added = await con.fetchval(_ENQUEUE, ids)
    await post_out_store.refresh_lead_status(con, ids)
    return int(added or 0)


@dataclass(frozen=True)
class Claimed:
    lead_id: UUID
    destination_id: UUID
    account_id: UUID
    idempotency_key: str
    attempts: int  # before this one
    enqueued_at: datetime
    lease_token: UUID
    lead: dict[str, Any]  # mapped columns + built-in lead columns, as text
    # An earlier claim's lease ran out unrecorded (its worker died mid-call): the CRM may have the
    # record, though `attempts` does not count that call.
    lapsed: bool = False
    # The destination's updated_at as claimed: the workers' cache of it is current when they agree.
    destination_updated_at: datetime | None = None


_CLAIM = """
WITH due AS (
    SELECT p.ctid AS row, p.lease_until IS NOT NULL AS lapsed, d.updated_at AS destination_updated_at
    FROM post_outs p
    JOIN destinations d USING (destination_id)
    WHERE p.status IN ('PENDING', 'RETRYING') AND p.next_attempt_at <= now()
      AND (p.lease_until IS NULL OR p.lease_until <= now())
      AND d.enabled AND (d.paused_until IS NULL OR d.paused_until <= now())
    ORDER BY p.next_attempt_at
    LIMIT $1
    FOR UPDATE OF p SKIP LOCKED
), claimed AS (
    UPDATE post_outs p
    SET lease_until = now() + make_interval(secs => $2), lease_token = $3
    FROM due
    -- By the rows' addresses, a TID scan (the join alone hashed all of a small post_outs). A row
    -- another statement changed since it was locked is not found so, and waits for the next claim.
    WHERE p.ctid = ANY (ARRAY(SELECT row FROM due)) AND p.ctid = due.row
    RETURNING p.lead_id, p.destination_id, p.account_id, p.idempotency_key, p.attempts, p.enqueued_at, due.lapsed,
              due.destination_updated_at
)
SELECT c.*, l.fields, l.source_id, l.form_id, l.platform_lead_id, l.captured_at, l.received_at
FROM claimed c JOIN leads l USING (lead_id)
"""


async def claim(con: Connection, limit: int, lease_seconds: float) -> list[Claimed]:
    """Claims up to `limit` due deliveries for `lease_seconds` (autocommit: the lease is the lock)."""
    token = uuid.uuid4()
    rows = await con.fetch(_CLAIM, limit, lease_seconds, token)
    return [
        Claimed(
            lead_id=r["lead_id"],
            destination_id=r["destination_id"],
            account_id=r["account_id"],
            idempotency_key=r["idempotency_key"],
            attempts=r["attempts"],
            enqueued_at=r["enqueued_at"],
            lease_token=token,
            lead=lead_columns(r),
            lapsed=r["lapsed"],
            destination_updated_at=r["destination_updated_at"],
        )
        for r in rows
    ]


def lead_columns(r: asyncpg.Record) -> dict[str, Any]:
    """What a delivery's body reads: the mapped columns and the lead's built-in columns, as text."""
    columns = {k: v if isinstance(v, str) else ("" if v is None else str(v)) for k, v in (r["fields"] or {}).items()}
    columns.update(
        lead_id=str(r["lead_id"]),
        source_id=str(r["source_id"]),
        form_id="" if r["form_id"] is None else str(r["form_id"]),
        platform_lead_id=r["platform_lead_id"],
        captured_at=r["captured_at"].isoformat(),
        received_at=r["received_at"].isoformat(),
    )
    return columns
