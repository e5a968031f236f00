"""Issue 15 figure: each console page's load time with 1,000,000 leads in the account (target <= 1 s).

    .venv/bin/python -m bench.console_pages [--leads 1000000] [--rounds 5] [--reuse DBNAME] [--pages a,b]

`--reuse DBNAME` keeps the seeded account in database DBNAME on the server of DATABASE_URL (the
system PostgreSQL: postgresql://postgres@127.0.0.1:5432/postgres): the first run creates, migrates
and seeds it; later runs migrate it (new migrations backfill what they keep) and time the pages
without seeding again. Without it, a throwaway database is seeded every run.

A throwaway database gets one account with N leads over 90 days in 5 sources (70% accepted, 25%
rejected with a picklist reason, 5% being checked), a destination per source with a delivery per
accepted lead (posted, failed, rejected by the CRM or pending, as their leads say), an attempt per
failed delivery, and a lifecycle event per tenth lead. The seeding is server-side (INSERT ... SELECT
FROM generate_series, 100,000 rows a statement: bounded memory, nothing crosses the wire, and each
statement fires the report triggers as ingest's do), then folded by the rollup as the scheduler would.

Each page is run as the console runs it for a signed-in admin, in-process through Streamlit's
AppTest (the script, the session check, every query and the shaping; not the browser's drawing).
The floors, measured in the same rounds: an empty page (a script with one title), and each page for
an account with no leads. Rounds alternate the page order; each figure is the median of its rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import asyncpg
from streamlit.testing.v1 import AppTest

from bench.processes import machine_line, stack
from leadrelay import migrations
from leadrelay.crypto import generate_key
from leadrelay.db import connect
from leadrelay.report_counts import rollup
from reports_app import sessions, users
from reports_app.console import TOKEN_KEY
from reports_app.database import Database
from tests.harness import new_account, with_database

ROOT = Path(__file__).parents[1]
APP = str(ROOT / "reports_app" / "app.py")
PAGES = sorted(p.stem for p in (ROOT / "reports_app" / "page_scripts").glob("*.py") if p.stem != "__init__")
CHUNK = 100_000
SOURCES = 5
DAYS = 90

_LEADS = """
INSERT INTO leads (account_id, source_id, platform_lead_id, status, disposition_code, custom_reason,
                   post_out_status, fields, answers, captured_at, received_at)
SELECT $1, ($2::uuid[])[1 + i % array_length($2::uuid[], 1)], 'b' || i,
       CASE WHEN r < 0.70 THEN 'ACCEPTED' WHEN r < 0.95 THEN 'REJECTED' ELSE 'PROCESSING' END,
       CASE WHEN r >= 0.70 AND r < 0.95 THEN 'REJECT_LEAD_INVALID_LIST_VALUE' ELSE '' END,
       CASE WHEN r >= 0.70 AND r < 0.95 THEN 'country: "Land ' || (i % 200) || '" is not on the picklist' ELSE '' END,
       CASE WHEN r < 0.64 THEN 'POSTED' WHEN r < 0.66 THEN 'FAILED' WHEN r < 0.68 THEN 'REJECTED_BY_DESTINATION'
            WHEN r < 0.70 THEN 'PENDING' ELSE '' END,
       jsonb_build_object('email', 'person' || i || '@example.com', 'first_name', 'Ana' || i,
                          'last_name', 'Paz', 'company', 'Company ' || (i % 5000), 'country', 'Land ' || (i % 200)),
       jsonb_build_array(jsonb_build_object('name', 'email',
                                            'values', jsonb_build_array('person' || i || '@example.com'))),
       at, at
FROM (SELECT i, random() AS r,
             now() - make_interval(secs => floor(random() * $5 * 86400)) AS at
      FROM generate_series($3::bigint, $4::bigint - 1) AS i) AS g
"""

_POST_OUTS = """
INSERT INTO post_outs (lead_id, destination_id, account_id, source_id, status, idempotency_key, attempts,
                       last_status_code, last_error, posted_at, created_at, updated_at)
SELECT l.lead_id, d.destination_id, l.account_id, l.source_id, l.post_out_status, 'lr-' || l.lead_id,
       CASE WHEN l.post_out_status = 'PENDING' THEN 0 ELSE 1 END,
       CASE l.post_out_status WHEN 'POSTED' THEN 201 WHEN 'FAILED' THEN 500 WHEN 'REJECTED_BY_DESTINATION' THEN 400
            ELSE 0 END,
       CASE l.post_out_status WHEN 'FAILED' THEN 'HTTP 500' WHEN 'REJECTED_BY_DESTINATION' THEN 'duplicate email'
            ELSE '' END,
       CASE WHEN l.post_out_status = 'POSTED' THEN l.received_at END, l.received_at, l.received_at
FROM leads l JOIN destinations d ON d.source_id = l.source_id
WHERE l.account_id = $1 AND l.status = 'ACCEPTED'
ON CONFLICT DO NOTHING
"""


def kept_name(n: int) -> str:
    """The seeded account's name in a kept database, given once the seeding finished."""
    return f"bench-pages-{n}"


async def kept_database(name: str) -> str:
    """The DSN of database `name` on DATABASE_URL's server, created if missing and migrated."""
    admin_dsn = os.environ.get("DATABASE_URL", "")
    if not admin_dsn:
        raise SystemExit("--reuse keeps the database on DATABASE_URL's server: set DATABASE_URL")
    admin = await asyncpg.connect(admin_dsn)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = with_database(admin_dsn, name)
    con = await connect(dsn)
    started = time.perf_counter()
    try:
        applied = await migrations.migrate(con)
    finally:
        await con.close()
    print(
        f"kept database {name}: "
        + (f"applied {', '.join(applied)} in {time.perf_counter() - started:.1f} s" if applied else "migrated already"),
        flush=True,
    )
    return dsn


async def seeded(pool: asyncpg.Pool, n: int, keep: bool) -> str:
    """An admin's session token for the loaded account: the kept one when there is one, else seeded
    now (and, when keeping, named as kept only once complete, so an interrupted seeding is redone)."""
    if keep:
        account_id = await pool.fetchval("SELECT account_id FROM accounts WHERE name = $1", kept_name(n))
        if account_id is not None:
            leads = await pool.fetchval("SELECT count(*) FROM leads WHERE account_id = $1", account_id)
            print(f"reusing the seeded account: {leads:,} leads", flush=True)
            await vacuum_counts(pool)
            return await admin_session(pool, account_id)
    account_id = await seed(pool, n)
    if keep:
        await pool.execute("UPDATE accounts SET name = $2 WHERE account_id = $1", account_id, kept_name(n))
    return await admin_session(pool, account_id)


# The kept counts and the deltas their triggers append, which the fold empties: a seeding leaves
# their tables (and indexes) full of dead rows that autovacuum has not reached yet (a copied or
# restored database has lost the statistics that would send it), and each read would wade through
# them (0.4 s a report query here). VACUUM them before timing: a running system's autovacuum does.
COUNT_TABLES = (
    "report_lead_deltas",
    "report_lead_counts",
    "report_rejection_reasons",
    "post_out_status_deltas",
    "post_out_status_counts",
    "lifecycle_event_deltas",
    "lifecycle_event_counts",
    "lifecycle_stage_lead_deltas",
    "lifecycle_stage_leads",
    "lifecycle_lead_stages",
)


async def vacuum_counts(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as con:
        for table in COUNT_TABLES:
            if await con.fetchval("SELECT to_regclass($1) IS NOT NULL", table):
                await con.execute(f"VACUUM (ANALYZE) {table}")


async def seed(pool: asyncpg.Pool, n: int):
    """A new account loaded with n leads; its id."""
    account = await new_account(pool, "pages")
    async with pool.acquire() as con:
        sources = [
            await con.fetchval(
                "INSERT INTO sources (account_id, name, platform) VALUES ($1, $2, 'FACEBOOK') RETURNING source_id",
                account.account_id,
                f"Campaign {i + 1}",
            )
            for i in range(SOURCES)
        ]
        for s in sources:
            await con.execute(
                """INSERT INTO destinations (account_id, source_id, name, url)
                   VALUES ($1, $2, 'CRM', 'https://crm.example.com/leads')""",
                account.account_id,
                s,
            )
        started = time.perf_counter()
        for lo in range(0, n, CHUNK):
            await con.execute(_LEADS, account.account_id, sources, lo, min(lo + CHUNK, n), DAYS)
        await con.execute(_POST_OUTS, account.account_id)
        await con.execute(
            """INSERT INTO post_out_attempts (lead_id, destination_id, account_id, attempt, at, status_code, outcome,
                                              reason)
               SELECT lead_id, destination_id, account_id, 1, updated_at, last_status_code,
                      CASE status WHEN 'FAILED' THEN 'failed' ELSE 'rejected' END, last_error
               FROM post_outs WHERE account_id = $1 AND status IN ('FAILED', 'REJECTED_BY_DESTINATION')""",
            account.account_id,
        )
        await con.execute(
            """INSERT INTO feedback_events (account_id, lead_id, crm_stage, meta_stage, changed_at, status, reason)
               SELECT account_id, lead_id,
                      (ARRAY['New', 'MQL', 'Won', 'Lost'])[1 + abs(hashtext(platform_lead_id)) % 4],
                      (ARRAY['LEAD', 'MARKETING_QUALIFIED_LEAD', 'CONVERTED', 'LOST'])[
                          1 + abs(hashtext(platform_lead_id)) % 4],
                      received_at + interval '1 day',
                      CASE WHEN abs(hashtext(platform_lead_id)) % 50 = 0 THEN 'FAILED' ELSE 'SENT' END,
                      CASE WHEN abs(hashtext(platform_lead_id)) % 50 = 0 THEN 'Meta: invalid parameter' ELSE '' END
               FROM leads WHERE account_id = $1 AND status = 'ACCEPTED' AND abs(hashtext(platform_lead_id)) % 7 = 0""",
            account.account_id,
        )
        while await rollup(con):
            pass
        await con.execute("VACUUM (ANALYZE) leads, post_outs, post_out_attempts, feedback_events")
        counts = await con.fetchrow(
            """SELECT (SELECT count(*) FROM leads WHERE account_id = $1) AS leads,
                      (SELECT count(*) FROM post_outs WHERE account_id = $1) AS post_outs,
                      (SELECT count(*) FROM feedback_events WHERE account_id = $1) AS events""",
            account.account_id,
        )
        print(
            f"seeded {counts['leads']:,} leads, {counts['post_outs']:,} deliveries, {counts['events']:,} lifecycle "
            f"events in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
    await vacuum_counts(pool)
    return account.account_id


async def admin_session(pool: asyncpg.Pool, account_id) -> str:
    async with pool.acquire() as con:
        user_id = await users.create_user(
            con, account_id, f"admin-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(16), "admin"
        )
        return await sessions.create(con, user_id)


def timed_page(token: str, page: str | None) -> float:
    """Seconds to run the console script for one page (None: the empty page, a one-title script)."""
    at = (
        AppTest.from_string('import streamlit as st\nst.title("Empty")\n', default_timeout=120)
        if page is None
        else AppTest.from_file(APP, default_timeout=120)
    )
    if page is not None:
        at.session_state[TOKEN_KEY] = token
        at.switch_page(f"page_scripts/{page}.py")
    started = time.perf_counter()
    at.run()
    took = time.perf_counter() - started
    assert not at.exception, (page, [e.message for e in at.exception])
    return took


async def main(args: argparse.Namespace) -> None:
    print(machine_line())
    secret, internal = generate_key(), secrets.token_urlsafe(24)
    # The console calls the services for what it changes and for the Connect page's platforms.
    # The sweeper would judge the seeded leads still being checked (they are days old): not here.
    env = {
        "LEADRELAY_SECRET_KEY": secret,
        "LEADRELAY_INTERNAL_TOKEN": internal,
        "LEADRELAY_SWEEPER_MIN_AGE_SECONDS": "1e9",
        # Nor deliver the seeded deliveries still waiting (to a host that is not there): the
        # account stays as seeded, run after run, instead of filling with retries and pauses.
        "POSTOUT_WORKERS": "0",
    }
    dsn = await kept_database(args.reuse) if args.reuse else None
    async with stack(env, dsn=dsn) as running:
        os.environ.update(
            DATABASE_URL=running.dsn,
            LEADRELAY_SECRET_KEY=secret,
            LEADRELAY_INTERNAL_TOKEN=internal,
            LEADRELAY_HOME=tempfile.mkdtemp(prefix="lr-bench-"),
            LEADRELAY_LOG_LEVEL="WARNING",
            INGEST_TARGET=running.ingest_target,
            VALIDATION_TARGET=running.validation_target,
        )
        try:
            await pages(running.pool, args)
        finally:
            for app_db in list(Database.instances):  # the console's pool, on its own thread
                app_db.close()


async def pages(pool: asyncpg.Pool, args: argparse.Namespace) -> None:
    token = await seeded(pool, args.leads, keep=bool(args.reuse))
    empty = await new_account(pool, "empty")
    empty_token = await admin_session(pool, empty.account_id)
    names = [p for p in PAGES if not args.pages or p in args.pages.split(",")]
    for page in names:  # warm: imports, the app's pool, Python's caches
        await asyncio.to_thread(timed_page, token, page)
    print(
        f"page load, AppTest (script + queries + shaping, no browser), median of {args.rounds} rounds, "
        f"{args.leads:,} leads"
    )
    times: dict[tuple[str, str], list[float]] = {}
    for rnd in range(args.rounds):
        order = names if rnd % 2 == 0 else names[::-1]
        times.setdefault(("", "floor"), []).append(await asyncio.to_thread(timed_page, "", None))
        for page in order:
            both = [("loaded", token), ("empty", empty_token)]
            for who, tok in both if rnd % 2 == 0 else both[::-1]:
                times.setdefault((page, who), []).append(await asyncio.to_thread(timed_page, tok, page))
    floor = statistics.median(times[("", "floor")])
    print(f"  {'empty page (floor)':<22}{floor * 1000:8.0f} ms")
    worst = 0.0
    for page in names:
        loaded, none = statistics.median(times[(page, "loaded")]), statistics.median(times[(page, "empty")])
        worst = max(worst, loaded)
        print(
            f"  {page:<22}{loaded * 1000:8.0f} ms with {args.leads:,} leads  ({none * 1000:.0f} ms with none; "
            f"{loaded / floor:.1f}x the empty page; rounds "
            + ", ".join(f"{t * 1000:.0f}" for t in times[(page, "loaded")])
            + ")",
            flush=True,
        )
    print(f"slowest page {worst * 1000:.0f} ms — {'meets' if worst <= 1 else 'MISSES'} the 1 s target")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pages", default="", help="only these pages (comma-separated script names)")
    parser.add_argument("--reuse", metavar="DBNAME", help="keep the seeded account in this database and reuse it")
    asyncio.run(main(parser.parse_args()))
