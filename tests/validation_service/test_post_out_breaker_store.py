"""The breaker's count in SQL when workers record batches for one destination at the same time."""

from __future__ import annotations

import asyncio
from uuid import UUID

import asyncpg

from tests.harness import Account
from tests.validation_service.post_out_support import insert_destination, seed_source
from validation_service import post_out_store


async def _count(pool: asyncpg.Pool, destination_id: UUID) -> tuple[int, bool]:
    row = await pool.fetchrow(
        "SELECT consecutive_failures, paused_until IS NOT NULL AS paused FROM destinations WHERE destination_id = $1",
        destination_id,
    )
    return row["consecutive_failures"], row["paused"]


async def test_concurrent_batches_both_count(pool: asyncpg.Pool, account: Account) -> None:
    source_id = await seed_source(pool, account.account_id)
    dest = await insert_destination(pool, account.account_id, source_id, "http://127.0.0.1:9/crm")
    async with pool.acquire() as first, pool.acquire() as second:
        async with first.transaction():
            await post_out_store.update_breakers(first, [(dest, False, 3)], threshold=10, cooldown_seconds=60)
            # The second worker's statement starts before the first commits, so it waits on the row.
            blocked = asyncio.create_task(_in_transaction(second, [(dest, False, 4)]))
            await asyncio.sleep(0.3)
            assert not blocked.done()
        await blocked
    assert await _count(pool, dest) == (7, False)

    # The same race across the threshold: the count is exact and the destination pauses.
    async with pool.acquire() as first, pool.acquire() as second:
        async with first.transaction():
            await post_out_store.update_breakers(first, [(dest, False, 2)], threshold=10, cooldown_seconds=60)
            blocked = asyncio.create_task(_in_transaction(second, [(dest, False, 1)]))
            await asyncio.sleep(0.3)
        await blocked
    assert await _count(pool, dest) == (10, True)

    # A success resets the count to the failures after it, and lifts the pause.
    async with pool.acquire() as con:
        await post_out_store.update_breakers(con, [(dest, True, 1)], threshold=10, cooldown_seconds=60)
    assert await _count(pool, dest) == (1, False)


async def _in_transaction(con: asyncpg.Connection, changes: list[tuple[UUID, bool, int]]) -> None:
    async with con.transaction():
        await post_out_store.update_breakers(con, changes, threshold=10, cooldown_seconds=60)
