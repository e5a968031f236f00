"""Issue 18 figures: lost and doubled leads per CRM preset in a fault run against the sandbox's strict
vendor stand-ins: 20% of calls answer 5xx (Marketo: 200 with error 611), 5% time out AFTER the vendor
made the record (the answer comes 0.5 s late, the destination gives up at 0.25 s), tokens lapse every
2 s and some calls end every session at once (OAuth presets; Pipedrive's api_token does not lapse),
and the workers are killed mid-run (cancelled with requests in flight) and started again, twice.

Sessions end at one per 5,000 leads sent: 2% of the calls of 100 leads (as bench.post_out's Marketo
run), 0.02% of one-lead calls. At 2% of one-lead calls, with 512 calls in flight, every session ends
every few milliseconds: a renewed token is dead before the resend arrives, and the destination pauses
("the CRM refused a newly issued access token"), as it is meant to when a CRM refuses fresh tokens.

    .venv/bin/python -m bench.vendor_faults [--fault-leads 1000] [--workers 8] [--presets salesforce,pipedrive]
        [--expire-rate 0.02]

Lost: a lead the vendor never got. Doubled: a lead the vendor created twice. Each preset posts as it
does by default (batched where the vendor batches; HubSpot with OAuth so its tokens lapse too).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import time

import asyncpg

from bench.post_out import _count, _run_killed_twice, post_out_stack, store_destination
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
from validation_service import crm_presets
from validation_service.destinations import OAuth

FAULTS = {"fail_rate": 0.2, "timeout_rate": 0.05, "timeout_seconds": 0.5}
SESSION_ENDS_PER_LEAD = 0.02 / 100


async def vendor_fault_run(
    settings: Settings,
    pool: asyncpg.Pool,
    url: str,
    preset_name: str,
    n: int,
    workers: int,
    expire_rate: float | None = None,
) -> dict:
    preset = crm_presets.PRESETS[preset_name]
    account = await new_account(pool)
    source = await seed_person_source(pool, account.account_id)
    org = VendorOrg(url, preset_name.split("_")[0])  # pipedrive_leads: the pipedrive stand-in
    size = preset.batch.default_size if preset.batch else 1
    if expire_rate is None:
        expire_rate = SESSION_ENDS_PER_LEAD * min(size, 100)
    await org.set(**FAULTS, expire_rate=expire_rate, token_lifetime_seconds=2, static_token=STATIC_TOKEN, seed=7)
    spec = dataclasses.replace(preset_destination(preset, org, size), timeout_ms=250)
    if preset_name == "hubspot":  # OAuth, so that its tokens lapse as the others' do
        headers = {k: v for k, v in spec.headers.items() if k != "Authorization"}
        spec = dataclasses.replace(spec, headers=headers, oauth=OAuth("refresh_token", f"{org.base}/oauth/v1/token"))
    dest = await store_destination(settings, pool, account.account_id, source, spec, CREDENTIALS)
    people = [person(i) for i in range(n)]
    await seed_people(pool, account.account_id, source, people)
    faulty = settings.replace(postout_lease_seconds=1.0, postout_breaker_cooldown_seconds=0.5)
    kills, elapsed = await _run_killed_twice(faulty, pool, dest, n, workers, batch_size=max(size, 64))
    stats = await org.stats()
    per_lead = stats["per_lead"]
    lost = sum(1 for p in people if per_lead.get(p["email"].lower(), {}).get("created", 0) == 0)
    doubled = len(stats["doubled"])
    if preset.parent is not None:  # the person + lead preset: a lead made for each person, once
        lost += n - len(stats["leads_created_for"])
        doubled += len(stats["leads_doubled"])
    async with pool.acquire() as con:
        attempts = await con.fetchval("SELECT count(*) FROM post_out_attempts WHERE destination_id = $1", dest)
        reasons = await con.fetch(
            "SELECT left(reason, 80) AS reason, count(*) AS n FROM post_out_attempts"
            " WHERE destination_id = $1 AND outcome <> 'posted' GROUP BY 1 ORDER BY 2 DESC LIMIT 3",
            dest,
        )
        no_id = await con.fetchval(
            "SELECT count(*) FROM post_outs WHERE destination_id = $1 AND status = 'POSTED' AND record_id = ''", dest
        )
    return {
        "preset": preset_name,
        "batch": size,
        "leads": n,
        "lost": lost,
        "doubled": doubled,
        "posted_in_db": await _count(pool, dest),
        "posted_without_record_id": no_id,
        "vendor_calls": stats["calls"],
        "vendor_updates_on_resend": stats["updated"],
        "pipedrive_lookups": stats["lookups"],
        "tokens_issued": stats["tokens_issued"],
        "expire_rate": expire_rate,
        "attempts_logged": attempts,
        "top_retry_reasons": {r["reason"]: r["n"] for r in reasons},
        "kills": kills,
        "seconds": round(elapsed, 1),
    }


async def main(args: argparse.Namespace) -> None:
    print(machine_line())
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    async with post_out_stack(
        args.workers + 4,
        postout_poll_seconds=0.05,
        postout_backoff_base_seconds=0.05,
        postout_backoff_max_seconds=0.5,
    ) as (settings, pool, url):
        for name in args.presets.split(","):
            started = time.perf_counter()
            r = await vendor_fault_run(settings, pool, url, name, args.fault_leads, args.workers, args.expire_rate)
            print(
                f"{name:10} x{r['batch']:<3} lost {r['lost']}, doubled {r['doubled']}, POSTED {r['posted_in_db']}"
                f"/{r['leads']} ({time.perf_counter() - started:.0f} s)"
            )
            print(f"  {json.dumps(r)}")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fault-leads", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--presets", default=",".join(crm_presets.PRESETS))
    parser.add_argument("--expire-rate", type=float, help="sessions ended per call (default: one per 5,000 leads)")
    asyncio.run(main(parser.parse_args()))
