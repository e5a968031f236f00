"""Issue 20 figures: exactly-once under kill -9, hostile CRM answers, and the scale-out promise.

    .venv/bin/python -m bench.faults [--leads 3000] [--fault-leads 3000] [--rounds 3]

The services run as real processes on one throwaway PostgreSQL (embedded, or a fresh database on
DATABASE_URL's server), the sandbox CRM in its own process. The load is mixed: clients send
SubmitLeads batches (100 leads, 4 in flight, each failure retried on the next replica) while the
validation replicas post the accepted leads to the CRM. Counted at the end, in the database and at
the CRM (keyed by each person's email): lost (a lead the CRM never got) and doubled (a person with
two CRM records).

1. Throughput, leads/s from the first SubmitLeads to the last delivery POSTED, with one replica of
   ingest and validation against two (different ports, one database), in alternating rounds; the
   medians and their ratio (the one-replica run is the floor). On 2 cores, little gain is expected.
2. Faults: kill -9 of validation during post-out (restarted); kill -9 of ingest during SubmitLeads
   with client retries (restarted); two replicas of each with one of each killed mid-run (not
   restarted); a CRM answering a third of the requests with a NUL, binary or UTF-16 (no kill):
   re-deliveries = CRM requests - leads, which must be 0.

SubmitLeads has no idempotency-key metadata on this branch's base: the retries carry platform lead
ids, the path that makes a retried batch find the leads it stored.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import time

from bench.processes import machine_line, start_sandbox
from leadrelay.db import create_pool
from tests.fleet import Fleet, Run, Tally, crm_control
from tests.harness import TestDatabase


async def _until(check, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench.faults: timed out waiting for {what}")
        await asyncio.sleep(0.05)


class Bench:
    def __init__(self, dsn: str, sandbox_url: str, pool) -> None:
        self.dsn = dsn
        self.sandbox_url = sandbox_url
        self.pool = pool

    async def fleet(self, replicas: int) -> Fleet:
        fleet = Fleet(self.dsn, self.sandbox_url, replicas=replicas)
        await fleet.start()
        return fleet

    async def throughput(self, replicas: int, leads: int) -> float:
        fleet = await self.fleet(replicas)
        try:
            run = Run(fleet, self.pool, leads, batch=100)
            await run.prepare()
            started = time.monotonic()
            await run.submit()
            await run.wait_settled(within=600)
            tally = await run.tally(time.monotonic() - started)
            if tally.lost or tally.doubled:
                raise SystemExit(f"bench.faults: a run without faults lost or doubled: {tally.line()}")
            return leads / tally.seconds
        finally:
            fleet.stop()

    async def kill_validation(self, leads: int) -> Tally:
        fleet = await self.fleet(1)
        try:
            run = Run(fleet, self.pool, leads, batch=100)
            await run.prepare({"latency_ms": 200})
            started = time.monotonic()
            submitting = asyncio.create_task(run.submit())

            async def in_flight() -> bool:
                return (await crm_control(self.sandbox_url, run.tenant))["received"] >= leads // 3

            await _until(in_flight, 300, "deliveries in flight")
            fleet.validation[0].kill9()
            await fleet.validation[0].start()
            await submitting
            await run.wait_settled(within=600)
            return await run.tally(time.monotonic() - started)
        finally:
            fleet.stop()

    async def kill_ingest(self, leads: int, *, keys: bool = False) -> Tally:
        """With `keys`, the leads carry no platform lead ids and each batch an idempotency key."""
        fleet = await self.fleet(1)
        try:
            run = Run(fleet, self.pool, leads, batch=100, platform_ids=not keys, idempotency_keys=keys)
            await run.prepare()
            started = time.monotonic()
            submitting = asyncio.create_task(run.submit(kill_after=leads // 3, victims=fleet.ingest))

            async def killed() -> bool:
                return fleet.ingest[0].kills > 0

            await _until(killed, 300, "ingest killed")
            await fleet.ingest[0].start()
            await submitting
            await run.wait_settled(within=600)
            return await run.tally(time.monotonic() - started)
        finally:
            fleet.stop()

    async def kill_one_of_two(self, leads: int) -> Tally:
        fleet = await self.fleet(2)
        try:
            run = Run(fleet, self.pool, leads, batch=100)
            await run.prepare({"latency_ms": 20})
            started = time.monotonic()
            await run.submit(kill_after=leads // 3, victims=[fleet.ingest[0], fleet.validation[0]])
            await run.wait_settled(within=600)
            return await run.tally(time.monotonic() - started)
        finally:
            fleet.stop()

    async def hostile_answers(self, leads: int) -> Tally:
        fleet = await self.fleet(1)
        try:
            run = Run(fleet, self.pool, leads, batch=100)
            await run.prepare({"sequence": ["nul", "binary", "utf16"] * (leads // 9)})
            started = time.monotonic()
            await run.submit()
            await run.wait_settled(within=600)
            return await run.tally(time.monotonic() - started)
        finally:
            fleet.stop()


async def main(args: argparse.Namespace) -> None:
    print(machine_line())
    db = TestDatabase()
    dsn = await db.create()
    sandbox, url = await start_sandbox()
    pool = await create_pool(dsn, min_size=1, max_size=4)
    bench = Bench(dsn, url, pool)
    try:
        rates: dict[int, list[float]] = {1: [], 2: []}
        for r in range(args.rounds):
            for replicas in (1, 2) if r % 2 == 0 else (2, 1):
                rate = await bench.throughput(replicas, args.leads)
                rates[replicas].append(rate)
                print(f"round {r + 1}: {replicas} replica(s) of ingest and validation: {rate:7.0f} leads/s", flush=True)
        one, two = statistics.median(rates[1]), statistics.median(rates[2])
        print(
            f"mixed load (SubmitLeads + post-out), {args.leads} leads, medians: 1 replica {one:.0f} leads/s, "
            f"2 replicas {two:.0f} leads/s ({two / one:.2f}x)"
        )
        for label, scenario in (
            ("kill -9 validation during post-out, restarted", bench.kill_validation),
            ("kill -9 ingest during SubmitLeads, client retries", bench.kill_ingest),
            ("the same, no platform ids, idempotency keys", functools.partial(bench.kill_ingest, keys=True)),
            ("2 replicas each, one of each killed mid-run", bench.kill_one_of_two),
        ):
            print(f"{label + ':':<52}{(await scenario(args.fault_leads)).line()}", flush=True)
        hostile = await bench.hostile_answers(args.fault_leads)
        print(
            f"{'CRM answering 1/3 with NUL, binary, UTF-16:':<52}{hostile.line()}; "
            f"re-deliveries {hostile.crm_received - hostile.leads}"
        )
    finally:
        await pool.close()
        sandbox.terminate()
        await sandbox.wait()
        await db.drop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=3000)
    parser.add_argument("--fault-leads", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
