"""Issue 5 figures: post-out throughput to the sandbox CRM with 8 concurrent workers, and the lost and
doubled posts of a fault run (20% 5xx, 5% timeouts, workers killed and restarted mid-run).

    .venv/bin/python -m bench.post_out [--leads 20000] [--fault-leads 3000] [--workers 8]

Baseline in the same run: raw aiohttp posts of the same bodies to the same CRM, with the same number
of requests in flight and no database at all — so the throughput reads as a fraction of what the HTTP
path alone allows. The CRM (the sandbox) runs in its own process; the database is a throwaway one
(embedded, or a fresh database on DATABASE_URL's server).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import aiohttp
import asyncpg

from bench.processes import machine_line, start_sandbox
from leadrelay.crypto import SecretBox, generate_key
from leadrelay.db import create_pool
from leadrelay.settings import Settings
from tests.harness import TestDatabase, new_account
from tests.validation_service.crm_support import VendorOrg, person, preset_destination, seed_people, seed_person_source
from tests.validation_service.post_out_support import insert_destination, seed_leads, seed_source
from validation_service import crm_presets, post_out_store, post_out_worker
from validation_service.destinations import DestinationSpec

BATCH = int(os.environ.get("BENCH_BATCH", post_out_worker.BATCH_SIZE))


@contextlib.asynccontextmanager
async def post_out_stack(pool_size: int, **settings: Any) -> AsyncIterator[tuple[Settings, asyncpg.Pool, str]]:
    """A throwaway database, the sandbox in its own process, and the settings (`settings` on top of the
    bench's: private URLs allowed, a fresh secret key) and pool the post-out workers run with."""
    db = TestDatabase()
    dsn = await db.create()
    proc, url = await start_sandbox()
    ready = Settings.from_env({}).replace(
        database_url=dsn, secret_key=generate_key(), postout_allow_private_urls=True, **settings
    )
    pool = await create_pool(dsn, settings=ready, min_size=2, max_size=pool_size)
    try:
        yield ready, pool, url
    finally:
        await pool.close()
        proc.terminate()
        await proc.wait()
        await db.drop()


async def store_destination(
    settings: Settings, pool: asyncpg.Pool, account_id: UUID, source: UUID, spec: DestinationSpec, credentials: dict
) -> UUID:
    """The destination as CreateDestination stores it: headers and OAuth credentials encrypted."""
    box = SecretBox(settings.secret_key)
    async with pool.acquire() as con:
        stored = await post_out_store.insert_destination(
            con,
            account_id,
            source,
            spec,
            box.encrypt(json.dumps(spec.headers)) if spec.headers else None,
            box.encrypt(json.dumps(credentials)) if spec.oauth else None,
        )
    return stored.destination_id


async def _control(url: str, tenant: str, method: str = "GET", body: dict | None = None) -> dict:
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, f"{url}/crm/_control/{tenant}", json=body, params={"records": "0"}) as r,
    ):
        return await r.json()


async def _count(pool: asyncpg.Pool, dest, status: str = "POSTED") -> int:
    async with pool.acquire() as con:
        return await con.fetchval(
            "SELECT count(*) FROM post_outs WHERE destination_id = $1 AND status = $2", dest, status
        )


async def baseline(url: str, n: int, in_flight: int) -> float:
    """Raw posts, same bodies and headers, same concurrency: the HTTP path alone."""
    tenant = f"base{secrets.token_hex(3)}"
    target = f"{url}/crm/{tenant}/leads"
    sem = asyncio.Semaphore(in_flight)
    connector = aiohttp.TCPConnector(limit=256, limit_per_host=256)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int) -> None:
            body = json.dumps({"lead_id": f"b{i}", "email": f"lead{i}@example.com"}).encode()
            async with (
                sem,
                session.post(
                    target, data=body, headers={"Content-Type": "application/json", "Idempotency-Key": f"k{i}"}
                ) as r,
            ):
                await r.read()

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - started)


async def throughput(settings: Settings, pool: asyncpg.Pool, url: str, n: int, workers: int) -> float:
    account = await new_account(pool)
    source = await seed_source(pool, account.account_id)
    tenant = f"run{secrets.token_hex(3)}"
    dest = await insert_destination(pool, account.account_id, source, f"{url}/crm/{tenant}/leads")
    for start in range(0, n, 5000):
        await seed_leads(pool, account.account_id, source, min(5000, n - start))
    started = time.perf_counter()
    task = asyncio.create_task(post_out_worker.run(settings, pool, workers=workers, batch_size=BATCH))
    try:
        while await _count(pool, dest) < n:  # noqa: ASYNC110 - polling the database is the measurement
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    stats = await _control(url, tenant)
    assert stats["created"] == n, stats["created"]
    return n / elapsed


async def _run_killed_twice(
    settings: Settings,
    pool: asyncpg.Pool,
    dest: UUID,
    n: int,
    workers: int,
    batch_size: int = post_out_worker.BATCH_SIZE,
) -> tuple[int, float]:
    """The workers run until the destination's n leads are POSTED (or 300 s), every worker killed
    mid-run (cancelled with requests in flight) and started again, twice: (kills, seconds)."""
    kills = 0
    started = time.perf_counter()
    task = asyncio.create_task(post_out_worker.run(settings, pool, workers=workers, batch_size=batch_size))
    try:
        for fraction in (0.25, 0.6):
            while await _count(pool, dest) < n * fraction:  # noqa: ASYNC110 - polling the database
                await asyncio.sleep(0.02)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            kills += 1
            task = asyncio.create_task(post_out_worker.run(settings, pool, workers=workers, batch_size=batch_size))
        deadline = time.perf_counter() + 300
        while await _count(pool, dest) < n and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return kills, time.perf_counter() - started
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def fault_run(settings: Settings, pool: asyncpg.Pool, url: str, n: int, workers: int) -> dict:
    account = await new_account(pool)
    source = await seed_source(pool, account.account_id)
    tenant = f"fault{secrets.token_hex(3)}"
    await _control(
        url,
        tenant,
        "POST",
        {"fail_rate": 0.2, "timeout_rate": 0.05, "timeout_seconds": 0.5, "latency_ms": 2, "seed": 7},
    )
    dest = await insert_destination(pool, account.account_id, source, f"{url}/crm/{tenant}/leads", timeout_ms=250)
    leads = await seed_leads(pool, account.account_id, source, n)
    faulty = settings.replace(postout_lease_seconds=1.0, postout_breaker_cooldown_seconds=0.5)
    kills, elapsed = await _run_killed_twice(faulty, pool, dest, n, workers)
    async with aiohttp.ClientSession() as s, s.get(f"{url}/crm/_control/{tenant}") as r:
        stats = await r.json()
    per_lead = stats["per_lead"]
    lost = sum(1 for lead in leads if per_lead.get(str(lead), {}).get("created", 0) == 0)
    doubled = sum(1 for c in per_lead.values() if c["created"] > 1)
    async with pool.acquire() as con:
        attempts = await con.fetchval("SELECT count(*) FROM post_out_attempts WHERE destination_id = $1", dest)
    return {
        "leads": n,
        "lost": lost,
        "doubled": doubled,
        "posted_in_db": await _count(pool, dest),
        "crm_requests": stats["received"],
        "crm_replayed": stats["replayed"],
        "attempts_logged": attempts,
        "kills": kills,
        "seconds": round(elapsed, 1),
    }


async def crm_fault_run(settings: Settings, pool: asyncpg.Pool, url: str, n: int, workers: int) -> dict:
    """The fault run against the Marketo stand-in, batched, with OAuth: 20% of calls answer 200
    {"success": false} with a retryable code, 5% time out (Marketo still takes the leads), 2% end the
    token's session (602, renewed and sent again) besides tokens lapsing on a 2 s timer; workers
    killed twice. Lost: a lead Marketo never got; doubled: a lead Marketo created twice."""
    account = await new_account(pool)
    source = await seed_person_source(pool, account.account_id)
    org = VendorOrg(url, "marketo")
    await org.set(
        fail_rate=0.2, timeout_rate=0.05, expire_rate=0.02, timeout_seconds=0.5, token_lifetime_seconds=2, seed=7
    )
    spec = dataclasses.replace(preset_destination(crm_presets.PRESETS["marketo"], org, 100), timeout_ms=250)
    credentials = {"client_id": "client-id", "client_secret": "client-secret"}
    dest = await store_destination(settings, pool, account.account_id, source, spec, credentials)
    people = [person(i) for i in range(n)]
    await seed_people(pool, account.account_id, source, people)
    faulty = settings.replace(postout_lease_seconds=1.0, postout_breaker_cooldown_seconds=0.5)
    kills, elapsed = await _run_killed_twice(faulty, pool, dest, n, workers, batch_size=100)
    stats = await org.stats()
    per_lead = stats["per_lead"]
    lost = sum(1 for p in people if per_lead.get(p["email"].lower(), {}).get("created", 0) == 0)
    async with pool.acquire() as con:
        attempts = await con.fetchval("SELECT count(*) FROM post_out_attempts WHERE destination_id = $1", dest)
        paused = await con.fetchval("SELECT paused_reason FROM destinations WHERE destination_id = $1", dest)
    return {
        "leads": n,
        "lost": lost,
        "doubled": len(stats["doubled"]),
        "posted_in_db": await _count(pool, dest),
        "crm_calls": stats["calls"],
        "crm_resent_records_updated": stats["updated"],
        "tokens_issued": stats["tokens_issued"],
        "attempts_logged": attempts,
        "paused_reason": paused,
        "kills": kills,
        "seconds": round(elapsed, 1),
    }


async def main(args: argparse.Namespace) -> None:
    print(machine_line())
    async with post_out_stack(
        args.workers + 4,
        postout_poll_seconds=0.05,
        postout_backoff_base_seconds=0.05,
        postout_backoff_max_seconds=0.5,
    ) as (settings, pool, url):
        in_flight = args.workers * post_out_worker.BATCH_SIZE
        base = await baseline(url, args.leads, in_flight)
        print(f"baseline: raw aiohttp posts, {in_flight} in flight:     {base:8.0f} posts/s")
        ours = await throughput(settings, pool, url, args.leads, args.workers)
        print(
            f"post-out: {args.workers} workers, claim+post+record:     {ours:8.0f} posts/s "
            f"({args.leads} leads, {ours / base:.2f}x baseline)"
        )
        fault = await fault_run(settings, pool, url, args.fault_leads, args.workers)
        print(
            f"fault run (20% 5xx, 5% timeouts, workers killed {fault['kills']}x): "
            f"lost {fault['lost']}, doubled {fault['doubled']}"
        )
        print(f"  {json.dumps(fault)}")
        crm = await crm_fault_run(settings, pool, url, args.fault_leads, args.workers)
        print(
            "fault run, Marketo stand-in batched x100 with OAuth (20% success:false 611, 5% timeouts, 2% token "
            f"expiry + 2 s token lifetime, workers killed {crm['kills']}x): "
            f"lost {crm['lost']}, doubled {crm['doubled']}"
        )
        print(f"  {json.dumps(crm)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--fault-leads", type=int, default=3_000)
    parser.add_argument("--workers", type=int, default=8)
    asyncio.run(main(parser.parse_args()))
