"""The fault suite: services killed with -9 mid-run, as real processes on one database, under a
client that retries as gRPC clients do. Whatever dies, every lead is stored once and reaches the
sandbox CRM once: a retried SubmitLeads batch finds what it stored by its platform lead ids, or, for
leads without one, by the call's `idempotency-key`. `bench.faults` runs the same scenarios bigger,
with throughput figures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest

from leadrelay.db import create_pool
from tests import harness
from tests.fleet import Fleet, Run, crm_control
from tests.waiting import eventually

LEADS = 300


@pytest.fixture
async def private_dsn(database_dsn: str) -> AsyncIterator[str]:
    db = harness.TestDatabase()
    db.admin_dsn = database_dsn  # a sibling database on the same server, for the fleet alone
    yield await db.create()
    await db.drop()


@pytest.fixture
async def private_pool(private_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(private_dsn, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
async def fleet_of(private_dsn: str, private_pool: asyncpg.Pool, sandbox) -> AsyncIterator:
    """Starts a fleet of n replicas of each service on the private database; stops it afterwards."""
    started: list[Fleet] = []

    async def start(replicas: int) -> Fleet:
        fleet = Fleet(private_dsn, sandbox.url, replicas=replicas)
        started.append(fleet)
        await fleet.start()
        return fleet

    yield start
    for fleet in started:
        fleet.stop()


async def _crm_received_at_least(run: Run, n: int) -> bool:
    return (await crm_control(run.fleet.sandbox_url, run.tenant))["received"] >= n


async def test_validation_killed_during_post_out_and_restarted_posts_every_lead_once(fleet_of, private_pool) -> None:
    fleet = await fleet_of(1)
    run = Run(fleet, private_pool, LEADS)
    await run.prepare({"latency_ms": 300})
    started = time.monotonic()
    submitting = asyncio.create_task(run.submit())
    await eventually(lambda: _crm_received_at_least(run, LEADS // 4), within=60, what="deliveries in flight")
    fleet.validation[0].kill9()  # mid post-out: requests the CRM takes, whose answers are never recorded
    await fleet.validation[0].start()
    await submitting
    await run.wait_settled(within=90)
    tally = await run.tally(time.monotonic() - started)
    assert (tally.lost, tally.doubled, tally.stored, tally.posted) == (0, 0, LEADS, LEADS), tally.line()
    assert tally.crm_created == LEADS
    assert tally.crm_replayed > 0  # the killed batches were sent again, with their keys


async def test_ingest_killed_during_submit_leads_with_client_retries_stores_and_posts_each_lead_once(
    fleet_of, private_pool
) -> None:
    fleet = await fleet_of(1)
    run = Run(fleet, private_pool, LEADS, batch=20)
    await run.prepare()
    started = time.monotonic()
    submitting = asyncio.create_task(run.submit(kill_after=LEADS // 3, victims=fleet.ingest))
    await eventually(lambda: _killed(fleet.ingest[0]), within=60, what="ingest killed")
    await fleet.ingest[0].start()  # the clients' retries wait for it
    await submitting
    await run.wait_settled(within=90)
    tally = await run.tally(time.monotonic() - started)
    assert (tally.lost, tally.doubled, tally.stored, tally.posted) == (0, 0, LEADS, LEADS), tally.line()
    assert tally.client_retries > 0  # the kill did hit calls in flight or about to be made


async def test_ingest_killed_during_submit_leads_without_platform_ids_retried_with_idempotency_keys_doubles_nothing(
    fleet_of, private_pool
) -> None:
    fleet = await fleet_of(1)
    run = Run(fleet, private_pool, LEADS, batch=20, platform_ids=False, idempotency_keys=True)
    await run.prepare()
    started = time.monotonic()
    submitting = asyncio.create_task(run.submit(kill_after=LEADS // 3, victims=fleet.ingest))
    await eventually(lambda: _killed(fleet.ingest[0]), within=60, what="ingest killed")
    await fleet.ingest[0].start()
    await submitting
    await run.wait_settled(within=90)
    tally = await run.tally(time.monotonic() - started)
    assert (tally.lost, tally.doubled, tally.stored, tally.posted) == (0, 0, LEADS, LEADS), tally.line()
    assert tally.client_retries > 0


async def test_two_replicas_of_each_with_one_of_each_killed_mid_run_lose_and_double_nothing(
    fleet_of, private_pool
) -> None:
    fleet = await fleet_of(2)
    run = Run(fleet, private_pool, LEADS, batch=20)
    await run.prepare({"latency_ms": 10})
    started = time.monotonic()
    await run.submit(kill_after=LEADS // 3, victims=[fleet.ingest[0], fleet.validation[0]])
    await run.wait_settled(within=90)
    tally = await run.tally(time.monotonic() - started)
    assert (fleet.ingest[0].kills, fleet.validation[0].kills) == (1, 1)
    assert (tally.lost, tally.doubled, tally.stored, tally.posted) == (0, 0, LEADS, LEADS), tally.line()


async def _killed(replica) -> bool:
    return replica.kills > 0
