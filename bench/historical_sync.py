"""Benchmark: historical sync (SyncLeads) of N Facebook leads spread over 89 days (default 50,000).

The sandbox holds N leads on one form; SyncLeads (real gRPC) reads them in seven-day slices with
`filtering` and cursor paging, stores them and has the real validation service judge them.
Baseline, same run: the raw read of the same leads from the sandbox Graph API (the same client, the
same 500-lead pages, nothing stored). A second sync of the same window shows the all-known rate.

    .venv/bin/python -m bench.historical_sync [--leads 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta

import aiohttp
from google.protobuf.timestamp_pb2 import Timestamp

from bench.processes import machine_line
from bench.webhook_latency import control, facebook_source, rig
from ingest_service.connectors.graph_api import LEAD_FIELDS, GraphClient
from leadrelay.v1 import ingest_pb2


async def sync(api, source_id: str, since: datetime) -> tuple[float, ingest_pb2.SyncProgress]:
    ts = Timestamp()
    ts.FromDatetime(since)
    started = time.perf_counter()
    progress = [p async for p in api.ingest.SyncLeads(ingest_pb2.SyncLeadsRequest(source_id=source_id, since=ts))]
    return time.perf_counter() - started, progress[-1]


async def main(n: int) -> None:
    print(machine_line())
    async with rig() as r, aiohttp.ClientSession() as session:
        source_id, page = await facebook_source(r, session)
        form_id = page["form_ids"][0]
        now = int(datetime.now(UTC).timestamp())
        for start in range(0, n, 10_000):
            count = min(10_000, n - start)
            await control(
                session,
                f"{r.sandbox_url}/graph/_control/leads",
                {
                    "form_id": form_id,
                    "count": count,
                    "deliver": False,
                    "created_time": now - 60 - start * (89 * 86_400 // n),
                    "spread_seconds": 89 * 86_400 * count // n,
                },
            )
        since = datetime.now(UTC) - timedelta(days=90)

        client = GraphClient(session, f"{r.sandbox_url}/graph", "v25.0")
        started = time.perf_counter()
        raw = pages = 0
        async for leads_page in client.form_leads(
            page["access_token"], form_id, since=int(since.timestamp()), limit=500, fields=LEAD_FIELDS
        ):
            raw += len(leads_page.leads)
            pages += 1
        raw_s = time.perf_counter() - started

        took, last = await sync(r.api, source_id, since)
        again_took, again = await sync(r.api, source_id, since)
        stored = await r.pool.fetchval("SELECT count(*) FROM leads WHERE source_id = $1::uuid", source_id)

    print(f"historical sync of {n} leads over 89 days (one form, seven-day slices):")
    print(
        f"  first sync   {took:7.1f} s   {last.leads_new / took:9.0f} leads/s   pages {last.pages_read}  "
        f"new {last.leads_new}  known {last.leads_known}  stored {stored}"
    )
    print(
        f"  second sync  {again_took:7.1f} s   {again.leads_seen / again_took:9.0f} leads/s   "
        f"(all known: new {again.leads_new}, known {again.leads_known})"
    )
    print(f"baseline: raw Graph page reads, {raw} leads in {pages} pages: {raw_s:.1f} s, {raw / raw_s:.0f} leads/s")
    print(f"ratio first sync / raw read: {(last.leads_new / took) / (raw / raw_s):.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=50_000)
    args = parser.parse_args()
    asyncio.run(main(args.leads))
