"""Benchmark: Facebook webhook -> judged lead latency at a steady rate.

The sandbox creates a lead every 1/rate s and delivers its signed `leadgen` webhook to the real ingest
HTTP port; ingest stores the notification, fetches the lead from the sandbox Graph API, stores it and
has the real validation service judge it. Latency = lead judged (leads.updated_at) - lead created.
Baseline, same run: the two irreducible hops alone — a signed webhook POST answered by ingest (for a
Page nobody connected, so nothing is fetched) and a raw GET of a lead from the sandbox Graph API.

    .venv/bin/python -m bench.webhook_latency [--rate 20] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import secrets
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import asyncpg

from bench.processes import machine_line
from ingest_service.app import running as ingest_running
from leadrelay import accounts
from leadrelay.crypto import generate_key
from leadrelay.db import create_pool
from leadrelay.settings import Settings
from leadrelay.v1 import common_pb2, ingest_pb2
from sandbox.app import running as sandbox_running
from tests.harness import Account, Api, TestDatabase
from validation_service.app import running as validation_running


@dataclass
class Rig:
    settings: Settings
    pool: asyncpg.Pool
    sandbox_url: str
    ingest_url: str
    api: Api


@contextlib.asynccontextmanager
async def rig(**overrides: object) -> AsyncIterator[Rig]:
    """A throwaway database, the sandbox, validation and ingest on port 0, and one account's API."""
    db = TestDatabase()
    dsn = await db.create()
    base = Settings.from_env({}).replace(
        database_url=dsn,
        host="127.0.0.1",
        secret_key=generate_key(),
        internal_token=secrets.token_urlsafe(24),
        facebook_app_secret="bench-secret",
        facebook_verify_token="bench",
        linkedin_client_secret="bench-li",
        poll_interval_seconds=3600.0,
        log_level="WARNING",
        **overrides,
    )
    pools = [await create_pool(dsn, settings=base, min_size=2, max_size=20) for _ in range(3)]
    try:
        async with sandbox_running(base, port=0) as sandbox:
            settings = base.replace(
                graph_api_base_url=f"{sandbox.url}/graph", linkedin_api_base_url=f"{sandbox.url}/linkedin"
            )
            async with validation_running(settings, pools[0], grpc_port=0) as validation:
                settings = settings.replace(validation_target=f"127.0.0.1:{validation.grpc_port}")
                async with ingest_running(settings, pools[1], grpc_port=0, http_port=0) as ingest:
                    async with pools[2].acquire() as con:
                        account_id = await accounts.ensure_account(con, "bench")
                        key = await accounts.create_key(con, account_id, "bench")
                    api = Api(
                        Account(account_id, "bench", key),
                        f"127.0.0.1:{ingest.grpc_port}",
                        f"127.0.0.1:{validation.grpc_port}",
                        f"127.0.0.1:{validation.grpc_port}",
                    )
                    try:
                        yield Rig(settings, pools[2], sandbox.url, f"http://127.0.0.1:{ingest.http_port}", api)
                    finally:
                        await api.close()
    finally:
        for p in pools:
            await p.close()
        await db.drop()


async def control(session: aiohttp.ClientSession, url: str, body: dict) -> dict:
    async with session.post(url, json=body) as reply:
        reply.raise_for_status()
        return await reply.json()


async def facebook_source(r: Rig, session: aiohttp.ClientSession, webhook_url: str = "") -> tuple[str, dict]:
    page = await control(session, f"{r.sandbox_url}/graph/_control/pages", {"forms": 1})
    await control(session, f"{r.sandbox_url}/graph/_control/webhook", {"page_id": page["page_id"], "url": webhook_url})
    source = await r.api.ingest.CreateSource(
        ingest_pb2.CreateSourceRequest(
            name="bench", platform=common_pb2.PLATFORM_FACEBOOK, external_account_id=page["page_id"]
        )
    )
    await r.api.ingest.ConnectSource(
        ingest_pb2.ConnectSourceRequest(source_id=source.source_id, access_token=page["access_token"])
    )
    return source.source_id, page


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(rate: float, seconds: float) -> None:
    print(machine_line())
    async with rig() as r, aiohttp.ClientSession() as session:
        source_id, page = await facebook_source(r, session, f"{r.ingest_url}/webhooks/facebook")
        form_id = page["form_ids"][0]
        n = max(1, int(rate * seconds))
        created: dict[str, float] = {}
        start = time.monotonic()
        for i in range(n):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            t0 = datetime.now(UTC).timestamp()
            ids = (await control(session, f"{r.sandbox_url}/graph/_control/leads", {"form_id": form_id}))["ids"]
            created[ids[0]] = t0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            judged = await r.pool.fetch(
                "SELECT platform_lead_id, updated_at FROM leads WHERE source_id = $1::uuid AND status <> 'PROCESSING'",
                source_id,
            )
            if len(judged) >= n:
                break
            await asyncio.sleep(0.2)
        latencies = [(row["updated_at"].timestamp() - created[row["platform_lead_id"]]) * 1000 for row in judged]

        # Baseline: the two hops alone, sequentially, the same number of times.
        body = json.dumps({"object": "page", "entry": [{"id": "1", "changes": []}]}).encode()
        sig = "sha256=" + hmac.new(b"bench-secret", body, hashlib.sha256).hexdigest()
        acks, gets = [], []
        lead_ids = list(created)
        for i in range(min(n, 500)):
            t = time.perf_counter()
            async with session.post(
                f"{r.ingest_url}/webhooks/facebook", data=body, headers={"X-Hub-Signature-256": sig}
            ) as reply:
                await reply.read()
            acks.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            async with session.get(
                f"{r.sandbox_url}/graph/v25.0/{lead_ids[i % len(lead_ids)]}",
                params={"access_token": page["access_token"]},
            ) as reply:
                await reply.read()
            gets.append((time.perf_counter() - t) * 1000)
        hops = [a + g for a, g in zip(acks, gets, strict=True)]

    print(f"webhook -> judged, {len(latencies)}/{n} leads at {rate:g}/s for {seconds:g} s:")
    print(
        f"  p50 {pct(latencies, 0.50):8.1f} ms   p99 {pct(latencies, 0.99):8.1f} ms   "
        f"mean {statistics.mean(latencies):8.1f} ms"
    )
    print(f"baseline (webhook ack + raw Graph lead GET, no storage or judging), {len(hops)} samples:")
    print(f"  p50 {pct(hops, 0.50):8.1f} ms   p99 {pct(hops, 0.99):8.1f} ms")
    p50, p99 = pct(latencies, 0.50) / pct(hops, 0.50), pct(latencies, 0.99) / pct(hops, 0.99)
    print(f"ratio p50 {p50:.1f}x   p99 {p99:.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=20.0, help="leads per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    asyncio.run(main(args.rate, args.seconds))
