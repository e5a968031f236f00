"""Crashes and restarts: a worker killed mid-batch, the validation process stopped and started again,
the retry horizon and the breaker's cool-down. Each runs on a private database, so only the workers
the test starts (and kills) touch its deliveries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest

from leadrelay.db import create_pool
from leadrelay.settings import Settings
from tests import harness
from tests.harness import new_account
from tests.validation_service.post_out_support import (
    Crm,
    all_posted,
    insert_destination,
    seed_leads,
    seed_source,
    statuses,
)
from tests.waiting import eventually
from validation_service import post_out_worker
from validation_service.app import running as validation_running


@dataclass
class Private:
    settings: Settings
    pool: asyncpg.Pool


@pytest.fixture(scope="module")
async def private(settings: Settings, database_dsn: str) -> AsyncIterator[Private]:
    db = harness.TestDatabase()
    db.admin_dsn = database_dsn  # a sibling database on the same server
    dsn = await db.create()
    s = settings.replace(database_url=dsn, postout_lease_seconds=1.0, postout_workers=4)
    pool = await create_pool(dsn, settings=s, min_size=1, max_size=10)
    try:
        yield Private(s, pool)
    finally:
        await pool.close()
        await db.drop()


async def setup_destination(p: Private, crm: Crm, **columns) -> tuple:
    account = await new_account(p.pool)
    source_id = await seed_source(p.pool, account.account_id)
    dest = await insert_destination(p.pool, account.account_id, source_id, crm.url, **columns)
    return account, source_id, dest


async def test_worker_killed_mid_batch_its_rows_return_after_the_lease(private: Private, sandbox) -> None:
    crm = Crm(sandbox.url)
    await crm.set(latency_ms=400)
    account, source_id, _ = await setup_destination(private, crm)
    leads = await seed_leads(private.pool, account.account_id, source_id, 30)
    worker = asyncio.create_task(post_out_worker.run(private.settings, private.pool, workers=2, batch_size=10))
    await eventually(lambda: _received_at_least(crm, 1), what="first requests in flight")
    worker.cancel()  # killed while its requests are in flight: nothing of the batch is recorded
    await asyncio.gather(worker, return_exceptions=True)
    assert "POSTED" not in await statuses(private.pool, leads)
    # The CRM still finishes the requests it received and creates their records.
    await eventually(lambda: _created_at_least(crm, 1), what="records created by the killed batch")

    await crm.set(latency_ms=0)
    async with validation_running(private.settings, private.pool, grpc_port=0):
        await eventually(lambda: all_posted(private.pool, leads), within=20, what="all posted after the lease")
    stats = await crm.stats()
    assert stats["created"] == 30 and stats["doubled"] == []
    assert stats["replayed"] >= 1  # the killed batch's leads were posted again, with the same keys


async def test_validation_process_restarted_mid_run_delivers_exactly_once(private: Private, sandbox) -> None:
    crm = Crm(sandbox.url)
    await crm.set(fail_rate=0.2, latency_ms=20, seed=3)
    account, source_id, _ = await setup_destination(private, crm)
    leads = await seed_leads(private.pool, account.account_id, source_id, 150)
    async with validation_running(private.settings, private.pool, grpc_port=0):
        await eventually(lambda: _posted_at_least(private.pool, leads, 20), what="some posted")
    # Stopped mid-run (some batches cancelled in flight); started again on the same database.
    assert not await all_posted(private.pool, leads)
    async with validation_running(private.settings, private.pool, grpc_port=0):
        await eventually(lambda: all_posted(private.pool, leads), within=30, what="all posted after restart")
    stats = await crm.stats()
    assert stats["created"] == 150 and stats["doubled"] == []
    assert all(c["created"] == 1 for c in stats["per_lead"].values())


async def test_retries_stop_at_the_horizon_with_failed(private: Private, sandbox) -> None:
    crm = Crm(sandbox.url)
    await crm.set(fail_rate=1.0)
    account, source_id, _ = await setup_destination(private, crm)
    [lead] = await seed_leads(private.pool, account.account_id, source_id, 1)
    s = private.settings.replace(
        postout_retry_horizon_seconds=0.3, postout_backoff_base_seconds=0.05, postout_backoff_max_seconds=0.1
    )
    async with post_out_worker.new_session(s) as session:
        workers = post_out_worker.PostOutWorkers(s, private.pool, session)

        async def failed() -> bool:
            await workers.run_once()
            return (await statuses(private.pool, [lead])) == {"FAILED": 1}

        await eventually(failed, what="FAILED after the horizon")
    async with private.pool.acquire() as con:
        row = await con.fetchrow(
            "SELECT attempts, last_error, last_status_code FROM post_outs WHERE lead_id = $1", lead
        )
        assert await con.fetchval("SELECT post_out_status FROM leads WHERE lead_id = $1", lead) == "FAILED"
    assert row["attempts"] >= 2 and row["last_status_code"] == 503
    assert row["last_error"] == "HTTP 503: service unavailable (gave up: past the retry horizon)"
    assert (await crm.stats())["received"] == row["attempts"]


async def test_breaker_resumes_on_its_own_after_the_cooldown(private: Private, sandbox) -> None:
    crm = Crm(sandbox.url)
    await crm.set(sequence=["fail", "fail", "fail"])
    account, source_id, dest = await setup_destination(private, crm)
    # A cool-down no test run outlasts: "still inside the cool-down" holds on any machine, and its
    # end is the clock reaching paused_until, moved there below instead of waited for.
    s = private.settings.replace(
        postout_breaker_threshold=3,
        postout_breaker_cooldown_seconds=3600,
        postout_backoff_base_seconds=0.01,
        postout_backoff_max_seconds=0.02,
    )
    leads = await seed_leads(private.pool, account.account_id, source_id, 3)
    async with post_out_worker.new_session(s) as session:
        workers = post_out_worker.PostOutWorkers(s, private.pool, session)
        assert await workers.run_once() == 3
        async with private.pool.acquire() as con:
            paused = await con.fetchrow(
                "SELECT consecutive_failures, paused_until > now() AS paused FROM destinations "
                "WHERE destination_id = $1",
                dest,
            )
        assert (paused["consecutive_failures"], paused["paused"]) == (3, True)

        async def retries_due() -> bool:
            return await private.pool.fetchval(
                "SELECT bool_and(next_attempt_at <= now()) FROM post_outs WHERE lead_id = ANY($1::uuid[])", leads
            )

        await eventually(retries_due, what="the retries' backoff to pass")
        assert await workers.run_once() == 0  # due, but the destination is paused: nothing is claimed
        assert (await crm.stats())["received"] == 3

        await private.pool.execute("UPDATE destinations SET paused_until = now() WHERE destination_id = $1", dest)

        async def delivered() -> bool:
            await workers.run_once()
            return await all_posted(private.pool, leads)

        await eventually(delivered, what="posted after the cool-down")
    async with private.pool.acquire() as con:
        assert await con.fetchval("SELECT consecutive_failures FROM destinations WHERE destination_id = $1", dest) == 0
    assert (await crm.stats())["created"] == 3


async def _received_at_least(crm: Crm, n: int) -> bool:
    return (await crm.stats())["received"] >= n


async def _created_at_least(crm: Crm, n: int) -> bool:
    return (await crm.stats())["created"] >= n


async def _posted_at_least(pool: asyncpg.Pool, leads: list, n: int) -> bool:
    return (await statuses(pool, leads)).get("POSTED", 0) >= n
