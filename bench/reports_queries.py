"""Reports benchmark: seeds N leads (default 10,000,000) in one account of a throwaway database, then
times each page query on the aggregates against the same answer by a full scan of `leads`; and, in
a separate scratch database, the cost of the aggregate triggers on the write paths (the same COPY and
the same multi-row INSERTs with the triggers enabled vs disabled, alternated over several rounds).

Seeding is server-side: `INSERT ... SELECT FROM generate_series(...)` in chunks (`--batch`), so the
rows never cross the wire and each chunk fires the statement-level triggers like any ingest statement.

    .venv/bin/python -m bench.reports_queries                 # 10M leads (several minutes)
    .venv/bin/python -m bench.reports_queries --leads 300000  # a quick run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import asyncpg

from leadrelay.db import init_connection
from leadrelay.report_counts import rollup
from reports_app import queries, shaping
from reports_app.database import reading
from reports_app.filters import ReportFilter
from tests.harness import TestDatabase

CODES = [
    "REJECT_LEAD_INVALID_EMAIL",
    "REJECT_LEAD_INVALID_PHONE",
    "REJECT_LEAD_INVALID_LIST_VALUE",
    "REJECT_LEAD_MISSING_REQUIRED_FIELD",
    "REJECT_LEAD_DUPLICATE",
    "REJECT_LEAD_FIELD_TOO_LONG",
]
COLUMNS = [
    "account_id",
    "source_id",
    "platform_lead_id",
    "status",
    "disposition_code",
    "custom_reason",
    "post_out_status",
    "captured_at",
    "received_at",
]
DAYS = 90
SOURCES = 20

# One chunk of leads [$3, $4) over the DAYS UTC days ending with $5's (today's midnight): 70% accepted (66% posted,
# 4% post-failed), 25% rejected with one of the codes and a picklist reason, 5% still processing —
# the same mix `_records` makes for the write-path test.
_SEED = """
INSERT INTO leads (account_id, source_id, platform_lead_id, status, disposition_code, custom_reason,
                   post_out_status, captured_at, received_at)
SELECT $1, ($2::uuid[])[1 + i % array_length($2::uuid[], 1)], 'b' || i,
       CASE WHEN r < 0.70 THEN 'ACCEPTED' WHEN r < 0.95 THEN 'REJECTED' ELSE 'PROCESSING' END,
       CASE WHEN r >= 0.70 AND r < 0.95 THEN ($6::text[])[1 + i % array_length($6::text[], 1)] ELSE '' END,
       CASE WHEN r >= 0.70 AND r < 0.95 THEN 'country: "Land ' || land || '" is not on the picklist' ELSE '' END,
       CASE WHEN r < 0.66 THEN 'POSTED' WHEN r < 0.70 THEN 'FAILED' ELSE '' END,
       at, at
FROM (SELECT i, random() AS r, floor(random() * 200)::int AS land,
             $5::timestamptz + interval '1 day' - make_interval(secs => 1 + floor(random() * $7)) AS at
      FROM generate_series($3::bigint, $4::bigint - 1) AS i) AS g
"""


# The baselines: the same answers by a full scan of the account's leads in the window.
_SCAN_SOURCE = """SELECT source_id, status, disposition_code, post_out_status, count(*) AS n FROM leads
                  WHERE account_id = $1 AND received_at >= $2 AND received_at < $3 GROUP BY 1, 2, 3, 4"""
_SCAN_REJECTIONS = """SELECT (received_at AT TIME ZONE 'UTC')::date AS day, source_id, disposition_code, count(*) AS n
                      FROM leads WHERE account_id = $1 AND received_at >= $2 AND received_at < $3
                        AND status = 'REJECTED' GROUP BY 1, 2, 3"""


async def _same(aggregate, scan) -> None:
    """The aggregate answer must equal the full scan's, group for group."""

    def keyed(rows):
        return {tuple(v for k, v in dict(r).items() if k != "n"): r["n"] for r in rows if r["n"]}

    a, b = keyed(await aggregate), keyed(await scan)
    assert a == b, f"aggregates and full scan disagree on {len(set(a.items()) ^ set(b.items()))} groups"


def _records(account_id, sources, start, count, since, seconds):
    """Leads for the write-path test, received in the `seconds` after `since` (ingest writes today)."""
    rnd = random.Random(start)
    for i in range(start, start + count):
        at = since + timedelta(seconds=rnd.randrange(seconds))
        r = rnd.random()
        if r < 0.70:
            status, code, reason = "ACCEPTED", "", ""
            pos = "POSTED" if r < 0.66 else "FAILED"
        elif r < 0.95:
            code = CODES[i % len(CODES)]
            status, reason, pos = "REJECTED", f'country: "Land {rnd.randrange(200)}" is not on the picklist', ""
        else:
            status, code, reason, pos = "PROCESSING", "", "", ""
        yield (account_id, sources[i % len(sources)], f"w{i}", status, code, reason, pos, at, at)


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


async def _timed(label: str, make, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        await make()
        times.append((time.perf_counter() - t0) * 1000)
    ms = statistics.median(times)
    print(f"  {label:<52}{ms:>10.1f} ms (median of {repeat}; {_load()})", flush=True)
    return ms


async def _account(con: asyncpg.Connection) -> tuple[object, list[object]]:
    account_id = await con.fetchval("INSERT INTO accounts (name) VALUES ('bench') RETURNING account_id")
    sources = [
        await con.fetchval(
            "INSERT INTO sources (account_id, name, platform) VALUES ($1, $2, 'CSV') RETURNING source_id",
            account_id,
            f"Source {i:02d}",
        )
        for i in range(SOURCES)
    ]
    return account_id, sources


async def trigger_cost(m: int, statement_rows: int, rounds: int) -> None:
    """The same COPY of m leads and the same m leads as INSERT ... SELECT FROM unnest (statement_rows per
    statement, like SubmitLeads' batches), into an empty `leads` of a scratch database, triggers
    enabled vs disabled (ALTER TABLE leads DISABLE TRIGGER USER), in alternating order."""
    db = TestDatabase()
    dsn = await db.create()
    con = await asyncpg.connect(dsn)
    await init_connection(con)
    try:
        account_id, sources = await _account(con)
        since = datetime.now(UTC) - timedelta(hours=1)
        recs = list(_records(account_id, sources, 0, m, since, 3600))
        cols = list(zip(*recs, strict=True))
        print(
            f"\nwrite-path cost of the aggregate triggers: {m:,} leads into an empty leads table of a scratch "
            f"database, triggers on vs off, {rounds} alternating rounds",
            flush=True,
        )
        results: dict[tuple[str, bool], list[float]] = {}
        for rnd in range(rounds):
            for enabled in (True, False) if rnd % 2 == 0 else (False, True):
                for path in ("COPY", "INSERT"):
                    await con.execute(
                        "TRUNCATE leads, report_lead_deltas, report_lead_counts, report_rejection_reasons CASCADE"
                    )
                    await con.execute(f"ALTER TABLE leads {'ENABLE' if enabled else 'DISABLE'} TRIGGER USER")
                    await con.execute("CHECKPOINT")
                    t0 = time.perf_counter()
                    if path == "COPY":
                        await con.copy_records_to_table("leads", records=recs, columns=COLUMNS)
                    else:
                        for s in range(0, m, statement_rows):
                            part = [list(c[s : s + statement_rows]) for c in cols]
                            await con.execute(
                                """INSERT INTO leads (account_id, source_id, platform_lead_id, status, disposition_code,
                                                      custom_reason, post_out_status, captured_at, received_at)
                                   SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[],
                                                        $5::text[], $6::text[], $7::text[], $8::timestamptz[],
                                                        $9::timestamptz[])""",
                                *part,
                            )
                    took = time.perf_counter() - t0
                    deltas = await con.fetchval("SELECT count(*) FROM report_lead_deltas")
                    results.setdefault((path, enabled), []).append(took)
                    print(
                        f"  round {rnd + 1} {path:<6} triggers {'on ' if enabled else 'off'} {took:7.2f} s "
                        f"({m / took:>9,.0f} leads/s, {deltas:,} delta rows; {_load()})",
                        flush=True,
                    )
        await con.execute("ALTER TABLE leads ENABLE TRIGGER USER")
        for path, what in (
            ("COPY", f"COPY of {m:,}"),
            ("INSERT", f"INSERT ... unnest, {statement_rows} rows/statement"),
        ):
            on, off = statistics.median(results[(path, True)]), statistics.median(results[(path, False)])
            print(
                f"  {what}: median {on:.2f} s with triggers, {off:.2f} s without — ratio {on / off:.2f} "
                f"(+{(on / off - 1) * 100:.0f}%)",
                flush=True,
            )
    finally:
        await con.close()
        await db.drop()


async def main(n: int, batch: int, write_leads: int, statement_rows: int, rounds: int, keep_indexes: bool) -> None:
    print(f"start: {_load()}", flush=True)
    if write_leads:
        await trigger_cost(write_leads, statement_rows, rounds)
    if not n:
        return
    db = TestDatabase()
    dsn = await db.create()
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4, init=init_connection)
    today = datetime.now(UTC).date()
    midnight = datetime.combine(today, datetime.min.time(), UTC)
    try:
        async with pool.acquire() as con:
            account_id, sources = await _account(con)
            print(
                f"\nseeding {n:,} leads over {DAYS} days, {SOURCES} sources "
                f"(INSERT ... SELECT FROM generate_series, {batch:,} rows per statement)",
                flush=True,
            )
            # Secondary indexes are built once after the load (much faster than maintaining them row by
            # row); the primary key stays. The page queries run with every index in place.
            indexes = (
                []
                if keep_indexes
                else await con.fetch(
                    """SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS ddl
                   FROM pg_index i WHERE i.indrelid = 'leads'::regclass AND NOT i.indisprimary
                     AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid)"""
                )
            )
            unique = (
                []
                if keep_indexes
                else await con.fetch(
                    """SELECT conname, pg_get_constraintdef(oid) AS ddl FROM pg_constraint
                   WHERE conrelid = 'leads'::regclass AND contype = 'u'"""
                )
            )
            for ix in indexes:
                await con.execute(f"DROP INDEX {ix['name']}")
            for c in unique:
                await con.execute(f"ALTER TABLE leads DROP CONSTRAINT {c['conname']}")
            t0 = time.perf_counter()
            for start in range(0, n, batch):
                await con.execute(
                    _SEED, account_id, sources, start, min(start + batch, n), midnight, CODES, DAYS * 86400
                )
                done = min(start + batch, n)
                if done % (10 * batch) == 0 or done == n:
                    print(f"  {done:>12,} leads, {time.perf_counter() - t0:7.1f} s ({_load()})", flush=True)
            t1 = time.perf_counter()
            for c in unique:
                await con.execute(f"ALTER TABLE leads ADD CONSTRAINT {c['conname']} {c['ddl']}")
            for ix in indexes:
                await con.execute(ix["ddl"])
            seeded = time.perf_counter() - t0
            print(
                f"  seeded in {seeded:.1f} s ({n / seeded:,.0f} leads/s), of which rebuilding "
                f"{len(indexes) + len(unique)} secondary indexes {time.perf_counter() - t1:.1f} s",
                flush=True,
            )
            t0 = time.perf_counter()
            folded = await rollup(con)
            print(f"  rollup of {folded:,} delta rows: {time.perf_counter() - t0:.2f} s", flush=True)
            t0 = time.perf_counter()
            await con.execute("VACUUM ANALYZE")
            print(f"  VACUUM ANALYZE: {time.perf_counter() - t0:.1f} s", flush=True)
            print(
                "  "
                + ", ".join(
                    f"{k} {v:,}"
                    for k, v in (
                        await con.fetchrow(
                            """SELECT (SELECT count(*) FROM leads) AS leads,
                          (SELECT count(*) FROM report_lead_counts) AS count_rows,
                          (SELECT count(*) FROM report_rejection_reasons) AS reason_rows"""
                        )
                    ).items()
                ),
                flush=True,
            )
            # A day of platform counts per source, as the connectors store them.
            await con.execute(
                """INSERT INTO platform_counts (source_id, account_id, window_start, window_end, day,
                                                platform_reported, leadrelay_count)
                   SELECT s, $1, d, d + interval '1 day', (d AT TIME ZONE 'UTC')::date, 5500, 5500
                   FROM unnest($2::uuid[]) AS s,
                        generate_series($3::timestamptz - interval '89 days', $3, interval '1 day') AS d""",
                account_id,
                sources,
                midnight,
            )

        f30 = ReportFilter(today - timedelta(days=29), today)
        f90 = ReportFilter(today - timedelta(days=DAYS - 1), today)
        print(f"\npage queries ({n:,} leads in the account; aggregates vs full scan of leads)", flush=True)
        async with reading(pool, "leadrelay_reader") as con:
            srcs = await queries.sources(con, account_id)
            ratios = []
            for label, f in (("30 days", f30), ("90 days", f90)):
                agg = await _timed(f"Source Report, {label}", lambda f=f: queries.source_counts(con, account_id, f))
                await _timed(f"  + platform counts, {label}", lambda f=f: queries.platform_counts(con, account_id, f))
                scan = await _timed(
                    f"  baseline: full scan, {label}",
                    lambda f=f: con.fetch(_SCAN_SOURCE, account_id, f.start, f.end),
                    repeat=1,
                )
                ratios.append(("Source Report " + label, scan / agg))
                await _same(
                    queries.source_counts(con, account_id, f), con.fetch(_SCAN_SOURCE, account_id, f.start, f.end)
                )
                agg = await _timed(
                    f"Rejection breakdown, {label}", lambda f=f: queries.rejection_counts(con, account_id, f)
                )
                scan = await _timed(
                    f"  baseline: full scan, {label}",
                    lambda f=f: con.fetch(_SCAN_REJECTIONS, account_id, f.start, f.end),
                    repeat=1,
                )
                ratios.append(("Rejection breakdown " + label, scan / agg))
                await _same(
                    queries.rejection_counts(con, account_id, f),
                    con.fetch(_SCAN_REJECTIONS, account_id, f.start, f.end),
                )
            await _timed(
                "Overview (30 daily totals)",
                lambda: queries.daily_counts(con, account_id, today - timedelta(days=29), today),
            )
            await _timed("Overview alerts", lambda: queries.alerts(con, account_id))
            await _timed("Offending values, 30 days (top 50)", lambda: queries.rejection_reasons(con, account_id, f30))
            await _timed(
                "Leads Report count (REJECTED, 30 days)",
                lambda: queries.matching_count(con, account_id, ReportFilter(f30.since, f30.until, status="REJECTED")),
            )
            await _timed("Leads Report first page (50)", lambda: queries.leads_page(con, account_id, f30))
            page = await queries.leads_page(con, account_id, f30, None, 50)
            await _timed(
                "Leads Report next page (keyset)",
                lambda: queries.leads_page(con, account_id, f30, (page[-1]["received_at"], page[-1]["lead_id"]), 50),
            )
        # Between two rollups (the scheduler folds every SCHEDULER_POLL_SECONDS, 30 s) the pages also
        # add the unfolded deltas: measure with a backlog of ingest-sized statements not yet folded.
        async with pool.acquire() as con:
            backlog = min(100_000, max(n // 100, 1000))
            for start in range(n, n + backlog, 500):
                await con.execute(
                    _SEED,
                    account_id,
                    sources,
                    start,
                    min(start + 500, n + backlog),
                    datetime.now(UTC) - timedelta(days=1),
                    CODES,
                    3600,
                )
            pending = await con.fetchval("SELECT count(*) FROM report_lead_deltas")
        print(
            f"\nwith {backlog:,} more leads (the last hour, 500 per statement) not folded yet: {pending:,} delta rows",
            flush=True,
        )
        async with reading(pool, "leadrelay_reader") as con:
            for label, f in (("30 days", f30), ("90 days", f90)):
                await _timed(f"Source Report, {label}", lambda f=f: queries.source_counts(con, account_id, f))
                await _same(
                    queries.source_counts(con, account_id, f), con.fetch(_SCAN_SOURCE, account_id, f.start, f.end)
                )
                await _timed(f"Rejection breakdown, {label}", lambda f=f: queries.rejection_counts(con, account_id, f))
                await _same(
                    queries.rejection_counts(con, account_id, f),
                    con.fetch(_SCAN_REJECTIONS, account_id, f.start, f.end),
                )
            _header, rows = shaping.source_report(
                await queries.source_counts(con, account_id, f90),
                srcs,
                await queries.platform_counts(con, account_id, f90),
            )
            assert sum(r[2] for r in rows) == n + backlog, "the Source Report must count every seeded lead"
        print("\nspeed-up over the full scan: " + ", ".join(f"{k} ×{v:,.0f}" for k, v in ratios), flush=True)
        print(f"end: {_load()}", flush=True)
    finally:
        await pool.close()
        await db.drop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=10_000_000, help="leads seeded for the page queries (0: skip)")
    parser.add_argument("--batch", type=int, default=500_000, help="rows per seeding statement")
    parser.add_argument(
        "--write-leads", type=int, default=200_000, help="leads per write-path measurement (0: skip the trigger cost)"
    )
    parser.add_argument("--statement-rows", type=int, default=500, help="rows per INSERT in the write-path test")
    parser.add_argument("--rounds", type=int, default=3, help="alternating on/off rounds of the write-path test")
    parser.add_argument(
        "--keep-indexes",
        action="store_true",
        help="seed with every index of leads in place (slower) instead of rebuilding them after",
    )
    args = parser.parse_args()
    asyncio.run(main(args.leads, args.batch, args.write_leads, args.statement_rows, args.rounds, args.keep_indexes))
