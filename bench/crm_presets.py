"""Issue 18 figures: post-out throughput per CRM preset against the sandbox's strict vendor stand-ins,
one lead per call vs the vendor's batch endpoint, each against raw aiohttp posts of the same payloads
in the same run (no database: what the HTTP path and the stand-in allow).

    .venv/bin/python -m bench.crm_presets [--leads 3000] [--rounds 3] [--workers 8] [--presets marketo,zoho]

Rounds alternate raw and LeadRelay runs; each figure is the median of its rounds. The target: batched
at least 5x the one-per-lead rate where the vendor batches.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any
from uuid import UUID

import aiohttp
import asyncpg

from bench.post_out import post_out_stack, store_destination
from bench.processes import machine_line
from leadrelay.settings import Settings
from tests.harness import new_account
from tests.validation_service.crm_support import (
    CREDENTIALS,
    STATIC_TOKEN,
    VendorOrg,
    person,
    preset_destination,
    seed_people,
    seed_person_source,
)
from validation_service import crm_presets, oauth_tokens, post_out_worker
from validation_service.body_template import compile_template
from validation_service.destinations import DestinationSpec


async def auth_headers(session: aiohttp.ClientSession, spec: DestinationSpec) -> dict[str, str]:
    headers = {**spec.headers, "Content-Type": "application/json"}
    if spec.oauth:
        async with session.post(spec.oauth.token_url, data=oauth_tokens.token_request(spec.oauth, CREDENTIALS)) as r:
            headers["Authorization"] = f"{spec.oauth.auth_scheme} {(await r.json(content_type=None))['access_token']}"
    return headers


async def raw(spec: DestinationSpec, people: list[dict[str, str]], batch_size: int, in_flight: int) -> float:
    """Leads per second of raw posts of the same bodies (batched as the worker batches them)."""
    preset = crm_presets.PRESETS[spec.preset]
    template = compile_template(spec.body_template)
    bodies = [template.render(p) for p in people]
    traces = [f"raw-{i}" for i in range(len(people))]  # as the worker sends each lead's key
    if batch_size > 1:
        assert preset.batch is not None
        url = crm_presets.batch_url(preset, spec.url) or spec.url
        calls = [
            crm_presets.batch_body(preset.batch, bodies[i : i + batch_size], traces[i : i + batch_size])
            for i in range(0, len(bodies), batch_size)
        ]
    else:
        url, calls = spec.url, bodies
    payloads = [json.dumps(c, ensure_ascii=False, separators=(",", ":")).encode() for c in calls]
    sem = asyncio.Semaphore(in_flight)
    connector = aiohttp.TCPConnector(limit=in_flight, limit_per_host=in_flight)
    async with aiohttp.ClientSession(connector=connector) as session:
        headers = await auth_headers(session, spec)

        async def one(payload: bytes) -> None:
            async with sem, session.post(url, data=payload, headers=headers) as r:
                await r.read()
                assert r.status < 300, r.status

        started = time.perf_counter()
        await asyncio.gather(*(one(p) for p in payloads))
        return len(people) / (time.perf_counter() - started)


async def ours(
    settings: Settings, pool: asyncpg.Pool, spec: DestinationSpec, people: list[dict[str, str]], workers: int
) -> float:
    """Leads per second from enqueued to POSTED through the post-out workers."""
    account = await new_account(pool)
    source = await seed_person_source(pool, account.account_id)
    destination = await store_destination(settings, pool, account.account_id, source, spec, CREDENTIALS)
    await seed_people(pool, account.account_id, source, people)
    claim = max(post_out_worker.BATCH_SIZE, spec.batch_size)
    started = time.perf_counter()
    task = asyncio.create_task(post_out_worker.run(settings, pool, workers=workers, batch_size=claim))
    try:
        while await _settled(pool, destination) < len(people):  # noqa: ASYNC110 - the measurement
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - started
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    posted = await _settled(pool, destination, "POSTED")
    assert posted == len(people), f"{spec.preset}: {posted} of {len(people)} POSTED"
    return len(people) / elapsed


async def _settled(pool: asyncpg.Pool, destination_id: UUID, status: str = "") -> int:
    async with pool.acquire() as con:
        return await con.fetchval(
            "SELECT count(*) FROM post_outs WHERE destination_id = $1 AND "
            + ("status = $2" if status else "status NOT IN ('PENDING', 'RETRYING') AND $2 = ''"),
            destination_id,
            status,
        )


async def bench_preset(
    settings: Settings, pool: asyncpg.Pool, url: str, name: str, args: argparse.Namespace
) -> dict[str, Any]:
    preset = crm_presets.PRESETS[name]
    modes = [1] + ([preset.batch.default_size] if preset.batch else [])
    figures: dict[tuple[str, int], list[float]] = {}
    for rnd in range(args.rounds):
        for size in modes:
            in_flight = args.workers * post_out_worker.BATCH_SIZE if size == 1 else args.workers
            for kind in ("raw", "ours") if rnd % 2 == 0 else ("ours", "raw"):
                org = VendorOrg(url, name)
                await org.set(static_token=STATIC_TOKEN)
                people = [person(i) for i in range(args.leads)]
                spec = preset_destination(preset, org, size)
                rate = (
                    await raw(spec, people, size, in_flight)
                    if kind == "raw"
                    else await ours(settings, pool, spec, people, args.workers)
                )
                figures.setdefault((kind, size), []).append(rate)
                stats = await org.stats()
                assert stats["created"] == args.leads and not stats["doubled"], (name, kind, size, stats["created"])
    med = {k: statistics.median(v) for k, v in figures.items()}
    single = med[("ours", 1)]
    line = f"  {name:<11} one per lead: {single:7.0f}/s (raw {med[('raw', 1)]:7.0f}/s, {single / med[('raw', 1)]:.2f}x)"
    out: dict[str, Any] = {"preset": name, "single": single, "raw_single": med[("raw", 1)]}
    if preset.batch:
        size = preset.batch.default_size
        batched, raw_batched = med[("ours", size)], med[("raw", size)]
        line += (
            f"   batched x{size}: {batched:7.0f}/s (raw {raw_batched:7.0f}/s, {batched / raw_batched:.2f}x)"
            f"   batched / one-per-lead: {batched / single:5.1f}x"
        )
        out.update(batched=batched, raw_batched=raw_batched, ratio=batched / single)
    print(line, flush=True)
    return out


async def main(args: argparse.Namespace) -> None:
    print(machine_line())
    print(
        f"leads per second, median of {args.rounds} alternating rounds, {args.leads} leads per run, "
        f"{args.workers} workers; raw = aiohttp posts of the same payloads, no database"
    )
    async with post_out_stack(args.workers + 4, postout_poll_seconds=0.02) as (settings, pool, url):
        results = [await bench_preset(settings, pool, url, name, args) for name in args.presets.split(",")]
        batched = [r for r in results if "ratio" in r]
        if batched:
            worst = min(batched, key=lambda r: r["ratio"])
            verdict = "meets" if worst["ratio"] >= 5 else "MISSES"
            print(
                f"batched vs one-per-lead: lowest {worst['ratio']:.1f}x ({worst['preset']}) — {verdict} the 5x target"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--presets", default=",".join(crm_presets.PRESETS))
    asyncio.run(main(parser.parse_args()))
