"""A delivery's attempts live as long as the delivery: deleting its lead or its destination removes
them with it (migration 0038: one foreign key to the delivery instead of one to each), and an attempt
of a delivery that does not exist is refused."""

from __future__ import annotations

from uuid import UUID

import asyncpg
import pytest

from tests.harness import new_account
from tests.validation_service.post_out_support import insert_destination, seed_leads, seed_source


async def _attempt(pool: asyncpg.Pool, lead_id: UUID, destination_id: UUID, account_id: UUID) -> None:
    await pool.execute(
        """INSERT INTO post_out_attempts (lead_id, destination_id, account_id, attempt, status_code, outcome, reason)
           VALUES ($1, $2, $3, 1, 503, 'retry', 'HTTP 503')""",
        lead_id,
        destination_id,
        account_id,
    )


async def _attempts(pool: asyncpg.Pool, lead_ids: list[UUID]) -> int:
    return await pool.fetchval("SELECT count(*) FROM post_out_attempts WHERE lead_id = ANY($1::uuid[])", lead_ids)


async def test_attempts_go_with_their_lead_and_with_their_destination(pool: asyncpg.Pool) -> None:
    account = await new_account(pool)
    source = await seed_source(pool, account.account_id)
    kept = await insert_destination(pool, account.account_id, source, "http://127.0.0.1:9/kept")
    dropped = await insert_destination(pool, account.account_id, source, "http://127.0.0.1:9/dropped")
    leads = await seed_leads(pool, account.account_id, source, 3)  # each enqueued to both destinations
    for lead in leads:
        for destination in (kept, dropped):
            await _attempt(pool, lead, destination, account.account_id)
    assert await _attempts(pool, leads) == 6

    await pool.execute("DELETE FROM leads WHERE lead_id = $1", leads[0])
    assert await _attempts(pool, leads) == 4
    await pool.execute("DELETE FROM destinations WHERE destination_id = $1", dropped)
    remaining = await pool.fetch(
        "SELECT lead_id, destination_id FROM post_out_attempts WHERE lead_id = ANY($1::uuid[]) ORDER BY lead_id",
        leads,
    )
    assert sorted((r["lead_id"], r["destination_id"]) for r in remaining) == sorted((x, kept) for x in leads[1:])


async def test_an_attempt_of_no_delivery_is_refused(pool: asyncpg.Pool) -> None:
    account = await new_account(pool)
    source = await seed_source(pool, account.account_id)
    destination = await insert_destination(pool, account.account_id, source, "http://127.0.0.1:9/crm")
    (lead,) = await seed_leads(pool, account.account_id, source, 1, enqueue=False)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await _attempt(pool, lead, destination, account.account_id)
