"""Post-out workers recording at the same time: each destination's breaker count and each lead's
delivery summary come out as if they had recorded one after the other."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from uuid import UUID, uuid4

import asyncpg

from leadrelay.settings import Settings
from tests.harness import Account
from tests.validation_service.post_out_support import insert_destination, seed_leads, seed_source, statuses
from tests.waiting import eventually
from validation_service import delivery, outbox, post_out_store
from validation_service.post_out_worker import PostOutWorkers


async def _count(pool: asyncpg.Pool, destination_id: UUID) -> tuple[int, bool]:
    row = await pool.fetchrow(
        "SELECT consecutive_failures, paused_until IS NOT NULL AS paused FROM destinations WHERE destination_id = $1",
        destination_id,
    )
    return row["consecutive_failures"], row["paused"]


async def _blocked_by(pool: asyncpg.Pool, holder: asyncpg.Connection, count: int) -> None:
    """Returns once `count` other sessions wait on locks behind `holder` (directly, or behind a
    session that waits on it; pg_blocking_pids): the race is really under way, whatever the speed."""
    root = holder.get_server_pid()

    async def blocked() -> bool:
        rows = await pool.fetch("SELECT pid, pg_blocking_pids(pid) AS by FROM pg_stat_activity WHERE pid <> $1", root)
        behind = {root}
        while True:
            more = {r["pid"] for r in rows if r["pid"] not in behind and behind.intersection(r["by"])}
            if not more:
                return len(behind) - 1 == count
            behind |= more

    await eventually(blocked, what=f"{count} session(s) waiting behind the test's lock")


async def test_concurrent_batches_both_count(pool: asyncpg.Pool, account: Account) -> None:
    source_id = await seed_source(pool, account.account_id)
    dest = await insert_destination(pool, account.account_id, source_id, "http://127.0.0.1:9/crm")
    async with pool.acquire() as first, pool.acquire() as second:
        async with first.transaction():
            await post_out_store.update_breakers(first, [(dest, False, 3)], threshold=10, cooldown_seconds=60)
            # The second worker's statement starts before the first commits, so it waits on the row.
            blocked = asyncio.create_task(_in_transaction(second, [(dest, False, 4)]))
            await _blocked_by(pool, first, 1)
        await blocked
    assert await _count(pool, dest) == (7, False)

    # The same race across the threshold: the count is exact and the destination pauses.
    async with pool.acquire() as first, pool.acquire() as second:
        async with first.transaction():
            await post_out_store.update_breakers(first, [(dest, False, 2)], threshold=10, cooldown_seconds=60)
            blocked = asyncio.create_task(_in_transaction(second, [(dest, False, 1)]))
            await _blocked_by(pool, first, 1)
        await blocked
    assert await _count(pool, dest) == (10, True)

    # A success resets the count to the failures after it, and lifts the pause.
    async with pool.acquire() as con:
        await post_out_store.update_breakers(con, [(dest, True, 1)], threshold=10, cooldown_seconds=60)
    assert await _count(pool, dest) == (1, False)


async def _in_transaction(con: asyncpg.Connection, changes: list[tuple[UUID, bool, int]]) -> None:
    async with con.transaction():
        await post_out_store.update_breakers(con, changes, threshold=10, cooldown_seconds=60)


async def test_two_deliveries_of_one_lead_recorded_at_once_leave_it_posted(
    pool: asyncpg.Pool, account: Account, settings: Settings
) -> None:
    source_id = await seed_source(pool, account.account_id)
    destinations = [
        await insert_destination(pool, account.account_id, source_id, f"http://127.0.0.1:9/crm/{i}") for i in (1, 2)
    ]
    [lead] = await seed_leads(pool, account.account_id, source_id, 1, enqueue=False)
    async with pool.acquire() as con, con.transaction():
        await outbox.enqueue(con, [lead])
        # Not due: the running servers' workers leave these two deliveries to this test.
        await con.execute("UPDATE post_outs SET next_attempt_at = now() + interval '1 hour' WHERE lead_id = $1", lead)
    workers = [PostOutWorkers(settings, pool, None) for _ in destinations]  # type: ignore[arg-type]  # no HTTP session: they only record
    results = [_posted(lead, d, account.account_id) for d in destinations]

    # Each worker's write of its delivery waits while the test holds both deliveries, so both
    # recordings are under way at once: the race that could leave a lead that was posted everywhere
    # showing PENDING (each summary blind to the other's uncommitted delivery).
    async with pool.acquire() as con, con.transaction():
        await con.execute("SELECT 1 FROM post_outs WHERE lead_id = $1 FOR UPDATE", lead)
        recording = [asyncio.create_task(w._record([r])) for w, r in zip(workers, results, strict=True)]
        await _blocked_by(pool, con, 2)
    await asyncio.gather(*recording)

    assert await statuses(pool, [lead]) == {"POSTED": 2}
    assert await pool.fetchval("SELECT post_out_status FROM leads WHERE lead_id = $1", lead) == "POSTED"


def _posted(lead_id: UUID, destination_id: UUID, account_id: UUID) -> post_out_store.Recorded:
    return post_out_store.Recorded(
        lead_id=lead_id,
        destination_id=destination_id,
        account_id=account_id,
        lease_token=uuid4(),
        attempt=1,
        at=datetime.now(UTC),
        status="POSTED",
        status_code=201,
        duration_ms=5,
        outcome=delivery.POSTED,
        reason="",
        excerpt="{}",
        record_id=f"rec-{destination_id}",
        next_attempt_at=None,
    )
