"""Reports benchmark: seeds N leads (COPY, default 10,000,000) in one account of a throwaway database,
then times each page query on the aggregates against the same answer by a full scan of `leads`, and
the cost of the aggregate triggers on the write paths (COPY and single-row INSERTs, triggers on vs off).

    .venv/bin/python -m bench.reports_queries                 # 10M leads (several minutes)
    .venv/bin/python -m bench.reports_queries --leads 300000  # a quick run
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import asyncpg

from leadrelay.db import init_connection
from reports_app import queries, shaping
from reports_app.database import reading
from reports_app.filters import ReportFilter
from reports_app.scheduler import rollup
from tests.harness import TestDatabase

CODES = ["REJECT_LEAD_INVALID_EMAIL", "REJECT_LEAD_INVALID_PHONE", "REJECT_LEAD_INVALID_LIST_VALUE",
         "REJECT_LEAD_MISSING_REQUIRED_FIELD", "REJECT_LEAD_DUPLICATE", "REJECT_LEAD_FIELD_TOO_LONG"]
COLUMNS = ["account_id", "source_id", "platform_lead_id", "status", "disposition_code", "custom_reason",
           "post_out_status", "captured_at", "received_at"]
DAYS = 90
SOURCES = 20


def _records(account_id, sources, start, count, today):  # type: ignore[no-untyped-def]
    rnd = random.Random(start)
    midnight = datetime.combine(today, datetime.min.time(), UTC)
    for i in range(start, start + count):
        at = midnight - timedelta(seconds=rnd.randrange(DAYS * 86400))
        r = rnd.random()
        if r < 0.70:
            status, code, reason = "ACCEPTED", "", ""
            pos = "POSTED" if r < 0.66 else "FAILED"
        elif r < 0.95:
            code = CODES[i % len(CODES)]
            status, reason, pos = "REJECTED", f'country: "Land {rnd.randrange(200)}" is not on the picklist', ""
        else:
            status, code, reason, pos = "PROCESSING", "", "", ""
        yield (account_id, sources[i % len(sources)], f"b{i}", status, code, reason, pos, at, at)


async def _timed(label: str, make, repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        await make()
        times.append((time.perf_counter() - t0) * 1000)
    ms = statistics.median(times)
    print(f"  {label:<52}{ms:>10.1f} ms (median of {repeat})", flush=True)
    return ms


async def main(n: int, batch: int) -> None:
    db = TestDatabase()
    dsn = await db.create()
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4, init=init_connection)
    today = datetime.now(UTC).date()
    try:
        async with pool.acquire() as con:
            account_id = await con.fetchval("INSERT INTO accounts (name) VALUES ('bench') RETURNING account_id")
            sources = [await con.fetchval(
                "INSERT INTO sources (account_id, name, platform) VALUES ($1, $2, 'CSV') RETURNING source_id",
                account_id, f"Source {i:02d}") for i in range(SOURCES)]
            print(f"seeding {n:,} leads over {DAYS} days, {SOURCES} sources (COPY, batches of {batch:,})", flush=True)
            t0 = time.perf_counter()
            for start in range(0, n, batch):
                await con.copy_records_to_table(
                    "leads", records=list(_records(account_id, sources, start, min(batch, n - start), today)),
                    columns=COLUMNS)
            seeded = time.perf_counter() - t0
            print(f"  seeded in {seeded:.1f} s ({n / seeded:,.0f} leads/s)", flush=True)
            t0 = time.perf_counter()
            folded = await rollup(con)
            print(f"  rollup of {folded:,} delta rows: {time.perf_counter() - t0:.2f} s", flush=True)
            await con.execute("VACUUM ANALYZE")

        print("\nwrite-path cost of the aggregate triggers (same batch, triggers on vs off)")
        async with pool.acquire() as con:
            m = min(200_000, max(n // 10, 10_000))
            costs = {}
            for enabled in (True, False):
                if not enabled:
                    await con.execute("ALTER TABLE leads DISABLE TRIGGER leads_report_insert")
                recs = list(_records(account_id, sources, n + (0 if enabled else m), m, today))
                t0 = time.perf_counter()
                await con.copy_records_to_table("leads", records=recs, columns=COLUMNS)
                copy_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                for j in range(2000):
                    await con.execute(
                        """INSERT INTO leads (account_id, source_id, platform_lead_id, received_at)
                           VALUES ($1, $2, $3, now())""", account_id, sources[j % SOURCES],
                        f"single-{enabled}-{j}")
                single_s = time.perf_counter() - t0
                costs[enabled] = (copy_s, single_s)
            await con.execute("ALTER TABLE leads ENABLE TRIGGER leads_report_insert")
            (c_on, s_on), (c_off, s_off) = costs[True], costs[False]
            print(f"  COPY {m:,} leads: {c_on:.2f} s with triggers, {c_off:.2f} s without "
                  f"(ratio {c_on / c_off:.2f})")
            print(f"  2,000 single INSERTs: {s_on * 500:.3f} ms/insert with, {s_off * 500:.3f} ms without "
                  f"(ratio {s_on / s_off:.2f})")
            await rollup(con)

        f30 = ReportFilter(today - timedelta(days=29), today)
        f90 = ReportFilter(today - timedelta(days=DAYS - 1), today)
        print(f"\npage queries ({n:,} leads in the account; aggregates vs full scan of leads)")
        async with reading(pool, "leadrelay_reader") as con:
            srcs = await queries.sources(con, account_id)
            ratios = []
            for label, f in (("30 days", f30), ("90 days", f90)):
                agg = await _timed(f"Source Report, {label}", lambda f=f: queries.source_counts(con, account_id, f))
                scan = await _timed(f"  baseline: full scan, {label}", lambda f=f: con.fetch(
                    """SELECT source_id, status, disposition_code, post_out_status, count(*) FROM leads
                       WHERE account_id = $1 AND received_at >= $2 AND received_at < $3 GROUP BY 1, 2, 3, 4""",
                    account_id, f.start, f.end), repeat=1)
                ratios.append(("Source Report " + label, scan / agg))
                agg = await _timed(f"Rejection breakdown, {label}",
                                   lambda f=f: queries.rejection_counts(con, account_id, f))
                scan = await _timed(f"  baseline: full scan, {label}", lambda f=f: con.fetch(
                    """SELECT (received_at AT TIME ZONE 'UTC')::date, source_id, disposition_code, count(*) FROM leads
                       WHERE account_id = $1 AND received_at >= $2 AND received_at < $3 AND status = 'REJECTED'
                       GROUP BY 1, 2, 3""", account_id, f.start, f.end), repeat=1)
                ratios.append(("Rejection breakdown " + label, scan / agg))
            await _timed("Overview (30 daily totals)", lambda: queries.daily_counts(
                con, account_id, today - timedelta(days=29), today))
            await _timed("Offending values, 30 days (top 50)", lambda: queries.rejection_reasons(con, account_id, f30))
            await _timed("Leads Report count (REJECTED, 30 days)", lambda: queries.matching_count(
                con, account_id, ReportFilter(f30.since, f30.until, status="REJECTED")))
            await _timed("Leads Report first page (50)", lambda: queries.leads_page(con, account_id, f30))
            page = await queries.leads_page(con, account_id, f30, None, 50)
            await _timed("Leads Report next page (keyset)", lambda: queries.leads_page(
                con, account_id, f30, (page[-1]["received_at"], page[-1]["lead_id"]), 50))
            _header, rows = shaping.source_report(await queries.source_counts(con, account_id, f90), srcs)
            assert sum(r[2] for r in rows) > 0
        print("\nspeed-up over the full scan: " + ", ".join(f"{k} ×{v:,.0f}" for k, v in ratios))
    finally:
        await pool.close()
        await db.drop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=10_000_000)
    parser.add_argument("--batch", type=int, default=500_000)
    args = parser.parse_args()
    asyncio.run(main(args.leads, args.batch))
