"""Benchmark: Conversions API dispatch and PII hashing.

1. N recorded stage changes (default 100,000; Facebook leads with email and phone, a fifth of the
   phones national so libphonenumber runs) dispatched by the real Dispatcher (read from PostgreSQL,
   hash, build, POST 1,000 per request to the sandbox's Conversions API over HTTP, record statuses).
   Baseline, same run: the raw POST of the same payloads, pre-built, over the same kind of session.
2. The same for N LinkedIn leads' changes to the sandbox's LinkedIn Conversions API (5,000 per request),
   against the raw POST of the same pre-built LinkedIn payloads.
3. Hashing throughput: Meta normalisation + SHA-256 per value vs raw hashlib.sha256 of the same strings.

    .venv/bin/python -m bench.feedback_dispatch [--changes 100000] [--hashes 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import time
from datetime import UTC, datetime

import aiohttp

from bench.processes import machine_line
from feedback_service import feedback_store as store
from feedback_service import linkedin_client, linkedin_payload
from feedback_service.capi_client import events_url, post_events
from feedback_service.capi_payload import batches, build_event, request_body
from feedback_service.dispatcher import Dispatcher
from feedback_service.hashing import hash_value
from leadrelay import accounts
from leadrelay.crypto import SecretBox, generate_key
from leadrelay.db import create_pool
from leadrelay.settings import Settings
from sandbox.app import running as sandbox_running
from tests.harness import TestDatabase

DATASET, BASELINE_DATASET = "111111111111111", "222222222222222"
LINKEDIN_TOKEN, BASELINE_LINKEDIN_TOKEN = "bench-linkedin-token", "bench-linkedin-baseline"
LINKEDIN_RULE = "urn:lla:llaPartnerConversion:1001"


async def seed(pool, account_id, n: int, platform: str = "FACEBOOK") -> None:
    source_id = await pool.fetchval(
        "INSERT INTO sources (account_id, name, platform) VALUES ($1, 'bench', $2) RETURNING source_id",
        account_id,
        platform,
    )
    # Leads and their changes in SQL (the recording path is not what is measured here).
    await pool.execute(
        """
        INSERT INTO leads (account_id, source_id, platform_lead_id, status, fields, captured_at, received_at)
        SELECT $1, $2, (1000000000000000 + i)::text, 'ACCEPTED',
               jsonb_build_object('email', 'User.' || i || '@Example.com',
                                  'phone', CASE WHEN i % 5 = 0 THEN '(650) 555-' || lpad((i % 10000)::text, 4, '0')
                                                ELSE '+1 650 555 ' || lpad((i % 10000)::text, 4, '0') END),
               now() - interval '3 days', now() - interval '3 days'
        FROM generate_series(1, $3) AS i
        """,
        account_id,
        source_id,
        n,
    )
    await pool.execute(
        """
        INSERT INTO feedback_events (account_id, lead_id, crm_stage, meta_stage, changed_at, channel)
        SELECT account_id, lead_id, 'Qualified', 'MARKETING_QUALIFIED_LEAD',
               captured_at + make_interval(secs => (random() * 86400)::int), $1
        FROM leads WHERE source_id = $2
        """,
        "LINKEDIN" if platform == "LINKEDIN" else "META",
        source_id,
    )


async def set_count_only(session: aiohttp.ClientSession, sandbox_url: str, dataset: str) -> None:
    async with session.post(f"{sandbox_url}/graph/_control/capi/count_only", json={"dataset_id": dataset}) as r:
        r.raise_for_status()


async def received(session: aiohttp.ClientSession, sandbox_url: str, dataset: str) -> int:
    async with session.get(f"{sandbox_url}/graph/_control/capi/events", params={"dataset_id": dataset}) as r:
        return (await r.json())["received"]


async def dispatch_bench(n: int) -> None:
    db = TestDatabase()
    dsn = await db.create()
    try:
        settings = Settings.from_env({}).replace(
            database_url=dsn, host="127.0.0.1", secret_key=generate_key(), smtp_port=0
        )
        async with sandbox_running(settings, port=0) as sandbox:
            settings = settings.replace(
                capi_base_url=f"{sandbox.url}/graph", linkedin_api_base_url=f"{sandbox.url}/linkedin"
            )
            pool = await create_pool(dsn, settings=settings, min_size=2, max_size=4)
            try:
                async with pool.acquire() as con:
                    account_id = await accounts.ensure_account(con, "bench")
                    await store.save_config(
                        con,
                        account_id,
                        dataset_id=DATASET,
                        access_token=SecretBox(settings.secret_key).encrypt("bench-token"),
                        lead_event_source="Bench CRM",
                        mode="DAILY",
                        test_event_code="",
                        daily_hour=0,
                        time_zone="UTC",
                        phone_region="US",
                        identifier_columns={},
                        ldu_all_events=False,
                        ldu_opt_out_columns=[],
                    )
                started = time.perf_counter()
                await seed(pool, account_id, n)
                print(f"seeded {n:,} leads and recorded changes in {time.perf_counter() - started:.1f} s (SQL)")

                async with aiohttp.ClientSession() as session:
                    await set_count_only(session, sandbox.url, DATASET)
                    await set_count_only(session, sandbox.url, BASELINE_DATASET)

                    # Baseline: the same payloads, pre-built (read + hash + build outside the clock).
                    async with pool.acquire() as con:
                        events = await store.pending_events(
                            con, account_id, after=None, limit=n, include_not_due=True, retries_only=False
                        )
                    bodies = [
                        json.dumps(
                            request_body([build_event(e, "Bench CRM") for e in batch], access_token="bench-token")
                        ).encode()
                        for batch in batches(events)
                    ]
                    url = events_url(settings.capi_base_url, settings.capi_api_version, BASELINE_DATASET)
                    started = time.perf_counter()
                    for body in bodies:
                        answer = await post_events(session, url, body)
                        assert answer.kind == "ok", answer
                    baseline = time.perf_counter() - started
                    assert await received(session, sandbox.url, BASELINE_DATASET) == n

                    dispatcher = Dispatcher(settings, pool, session)
                    started = time.perf_counter()
                    result = await dispatcher.dispatch(account_id, flush=True)
                    took = time.perf_counter() - started
                    assert result.sent == n, result
                    assert await received(session, sandbox.url, DATASET) == n
                async with pool.acquire() as con:
                    counts = await store.status_counts(con, account_id)
                assert counts == {"SENT": n}, counts
                print(
                    f"dispatch: {n:,} changes in {result.requests} requests, {took:.2f} s "
                    f"({n / took:,.0f} events/s; target ≤ 10 s for 100,000)"
                )
                print(
                    f"baseline (raw POST of the same pre-built payloads): {baseline:.2f} s "
                    f"({n / baseline:,.0f} events/s)"
                )
                print(f"ratio dispatch / baseline: {took / baseline:.2f}x")
                await linkedin_bench(settings, pool, sandbox.url, n)
            finally:
                await pool.close()
    finally:
        await db.drop()


async def linkedin_bench(settings: Settings, pool, sandbox_url: str, n: int) -> None:
    async with pool.acquire() as con:
        account_id = await accounts.ensure_account(con, "bench-linkedin")
        await store.save_linkedin_config(
            con,
            account_id,
            access_token=SecretBox(settings.secret_key).encrypt(LINKEDIN_TOKEN),
            conversion_rules={"Qualified": LINKEDIN_RULE},
        )
    started = time.perf_counter()
    await seed(pool, account_id, n, "LINKEDIN")
    print(f"seeded {n:,} LinkedIn leads and recorded changes in {time.perf_counter() - started:.1f} s (SQL)")
    base = f"{sandbox_url}/linkedin/_control/conversions"
    async with aiohttp.ClientSession() as session:
        for token in (LINKEDIN_TOKEN, BASELINE_LINKEDIN_TOKEN):
            for path, body in (("rules", {"rules": [LINKEDIN_RULE]}), ("count_only", {})):
                async with session.post(f"{base}/{path}", json={"access_token": token, **body}) as r:
                    r.raise_for_status()

        async def linkedin_received(token: str) -> int:
            async with session.get(base, params={"access_token": token}) as r:
                return (await r.json())["received"]

        async with pool.acquire() as con:
            events = await store.pending_events(
                con, account_id, channel="LINKEDIN", after=None, limit=n, include_not_due=True, retries_only=False
            )
        size = linkedin_payload.MAX_EVENTS_PER_REQUEST
        bodies = [
            linkedin_payload.request_body(
                [linkedin_payload.build_event(e, LINKEDIN_RULE) for e in events[i : i + size]]
            )
            for i in range(0, len(events), size)
        ]
        url = linkedin_client.conversion_events_url(settings.linkedin_api_base_url)
        started = time.perf_counter()
        for body in bodies:
            answer = await linkedin_client.post_events(
                session, url, body, access_token=BASELINE_LINKEDIN_TOKEN, version=settings.linkedin_version
            )
            assert answer.kind == "ok", answer
        baseline = time.perf_counter() - started
        assert await linkedin_received(BASELINE_LINKEDIN_TOKEN) == n

        dispatcher = Dispatcher(settings, pool, session)
        started = time.perf_counter()
        result = await dispatcher.dispatch(account_id, flush=True, channel="LINKEDIN")
        took = time.perf_counter() - started
        assert result.sent == n, result
        assert await linkedin_received(LINKEDIN_TOKEN) == n
    print(f"LinkedIn dispatch: {n:,} changes in {result.requests} requests, {took:.2f} s ({n / took:,.0f} events/s)")
    print(
        f"LinkedIn baseline (raw POST of the same pre-built payloads): {baseline:.2f} s "
        f"({n / baseline:,.0f} events/s); ratio {took / baseline:.2f}x"
    )


def hashing_bench(n: int) -> None:
    emails = [f" User.{i}@Example.com " for i in range(n // 2)]
    phones = [f"+1 (650) 555-{i % 10000:04d}" if i % 4 else f"(650) 555-{i % 10000:04d}" for i in range(n // 2)]
    started = time.perf_counter()
    for value in emails:
        hash_value("em", value)
    for value in phones:
        hash_value("ph", value, "US")
    ours = time.perf_counter() - started
    started = time.perf_counter()
    for value in emails:
        hashlib.sha256(value.encode()).hexdigest()
    for value in phones:
        hashlib.sha256(value.encode()).hexdigest()
    raw = time.perf_counter() - started
    total = len(emails) + len(phones)
    print(f"hashing: {total / ours:,.0f} values/s normalised + SHA-256 (emails, phones; a quarter national)")
    print(f"baseline raw hashlib.sha256: {total / raw:,.0f} hashes/s; ratio {ours / raw:.1f}x slower")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=100_000)
    parser.add_argument("--hashes", type=int, default=200_000)
    args = parser.parse_args()
    print(f"feedback dispatch benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)")
    print(machine_line())
    hashing_bench(args.hashes)
    asyncio.run(dispatch_bench(args.changes))


if __name__ == "__main__":
    main()
