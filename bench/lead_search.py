"""Lead search benchmark: N leads (default 10,000,000) in one account of a throwaway database, loaded
with COPY in bounded chunks (their search columns computed by the product's own functions,
lead_search.search_keys and search_words, as insert_judged does), the indexes built after the COPY,
then the searches the Leads page runs (leads_store.list_leads with a search, one page of 51 rows as
the console asks) against a floor measured in the same run: the primary-key lookup of one lead.
Medians of alternating rounds; each case's plan is EXPLAINed and the indexes it reads printed.

    .venv/bin/python -m bench.lead_search                  # 10M leads (load and index builds take a while)
    .venv/bin/python -m bench.lead_search --leads 300000   # a quick run

A prepared database kept for re-timing later (on a server given by DATABASE_URL):

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python -m bench.lead_search --keep lr_search_10m     # load once, time, keep it
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python -m bench.lead_search --reuse lr_search_10m    # time again, no load
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from leadrelay import migrations
from leadrelay.capture import lead_search, leads_store
from leadrelay.db import connect, init_connection
from tests.harness import TestDatabase, with_database

FIRST = [
    f"{a}{b}"
    for a in ("Ana", "Ben", "Chloé", "Dev", "Eun", "Femi", "Gus", "Hana", "Ivo", "Jun")
    for b in ("", "a", "o", "ie", "el", "ys", "ka", "ra", "is", "on")
]  # 100 first names
LAST = [
    f"{a}{b}{c}"
    for a in ("Mor", "Sil", "Kow", "Nak", "Obi", "Van", "Lind", "Gar", "Rah", "Sch")
    for b in ("ales", "va", "alski", "amura", "ora", "dijk", "berg", "cia", "man", "midt")
    for c in ("", "son", "er", "ez", "ski", "ova", "i", "o", "a", "e")
]  # 1,000 last names
ADJ = ["Zephyr", "Granite", "Lumen", "Vertex", "Harbor", "Quartz", "Nimbus", "Cobalt", "Saffron", "Aurora"]
NOUN = [
    f"{a}{b}"
    for a in ("Tech", "Data", "Cloud", "Bio", "Agri", "Fin", "Geo", "Med", "Nano", "Solar")
    for b in ("works", "labs", "logic", "systems", "ware", "hub", "core", "gen", "nova", "sphere")
]  # 100
SUFFIX = ["GmbH", "Ltd", "Inc", "SAS", "BV", "AB", "Oy", "SpA", "KK", "LLC"]
COLUMNS = [
    "lead_id",
    "account_id",
    "source_id",
    "platform_lead_id",
    "status",
    "fields",
    "received_at",
    "captured_at",
    "search_keys",
    "search_words",
]
CHUNK = 200_000


def _rows(account_id, sources, start, count, n, now):
    rnd = random.Random(start)
    for i in range(start, start + count):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        # Over 90 days in the order stored (a lead is stored when it is received, so the table's
        # physical order follows received_at, as in production), a minute of jitter.
        at = now - timedelta(seconds=(n - i) * 90 * 86400 / n + rnd.randrange(60))
        fields = {
            "first_name": first,
            "last_name": last,
            "email": f"{first.lower()}.{last.lower()}.{i}@example.com",
            "phone": f"+1415{i:07d}",
            "company": f"{rnd.choice(ADJ)} {rnd.choice(NOUN)} {rnd.choice(SUFFIX)}",
            "job_title": "Engineer",
        }
        pid = f"l:{i}"
        keys, words = lead_search.search_keys(fields, pid), lead_search.search_words(fields)
        yield (uuid.uuid4(), account_id, sources[i % len(sources)], pid, "ACCEPTED", fields, at, at, keys, words)


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


async def main(n: int, rounds: int, keep: str, reuse: str) -> None:
    db = TestDatabase()
    if reuse or keep:
        if not db.admin_dsn:
            raise SystemExit("--keep and --reuse need DATABASE_URL (the server to keep the database on)")
        db.name = reuse or keep
    if reuse:
        dsn = with_database(db.admin_dsn, reuse)
    elif keep:
        admin = await asyncpg.connect(db.admin_dsn)
        try:
            await admin.execute(f'CREATE DATABASE "{keep}"')
        finally:
            await admin.close()
        dsn = with_database(db.admin_dsn, keep)
        mig = await connect(dsn)
        try:
            await migrations.migrate(mig)
        finally:
            await mig.close()
    else:
        dsn = await db.create()
    con = await asyncpg.connect(dsn)
    await init_connection(con)
    # COPY is binary: jsonb's binary form is a version byte and the text.
    await con.set_type_codec(
        "jsonb",
        encoder=lambda v: b"\x01" + json.dumps(v).encode(),
        decoder=lambda b: json.loads(b[1:]),
        schema="pg_catalog",
        format="binary",
    )
    try:
        if reuse:
            account_id = await con.fetchval("SELECT account_id FROM accounts WHERE name = 'bench'")
            n = await con.fetchval("SELECT count(*) FROM leads")
            print(f"lead search at {n:,} leads (database {reuse}, reused); {os.cpu_count()} cores; {_load()}")
        else:
            print(f"lead search at {n:,} leads; {os.cpu_count()} cores; {_load()}", flush=True)
            account_id = await _fill(con, dsn, n)
        if rounds:  # --rounds 0: load only
            await _time(con, account_id, n, rounds)
    finally:
        await con.close()
        if not (keep or reuse):
            await db.drop()


async def _fill(con, dsn: str, n: int) -> uuid.UUID:
    account_id = await con.fetchval("INSERT INTO accounts (name) VALUES ('bench') RETURNING account_id")
    sources = [
        await con.fetchval(
            "INSERT INTO sources (account_id, name, platform) VALUES ($1, $2, 'CSV') RETURNING source_id",
            account_id,
            f"Source {i}",
        )
        for i in range(10)
    ]
    # Loaded without the secondary indexes and the report triggers, which are built after (as a
    # migration on a full table would), so the load measures COPY, not index upkeep; the primary key
    # and the (source, platform lead id) constraint stay.
    indexes = await con.fetch(
        """SELECT i.indexname, i.indexdef FROM pg_indexes i
           WHERE i.tablename = 'leads' AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"""
    )
    for r in indexes:
        await con.execute(f"DROP INDEX {r['indexname']}")
    await con.execute("ALTER TABLE leads DISABLE TRIGGER USER")
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    for start in range(0, n, CHUNK):
        await con.copy_records_to_table(
            "leads", records=_rows(account_id, sources, start, min(CHUNK, n - start), n, now), columns=COLUMNS
        )
        if start and start % 2_000_000 == 0:
            print(f"  {start:,} leads loaded ({time.perf_counter() - t0:.0f} s)", flush=True)
    print(f"COPY of {n:,} leads: {time.perf_counter() - t0:.1f} s", flush=True)
    # Two connections (index builds use about one core each), the biggest (GIN) first.
    todo = sorted(indexes, key=lambda r: "gin" not in r["indexdef"])
    await asyncio.gather(*(_build(dsn, todo[k::2]) for k in range(2)))
    await con.execute("ALTER TABLE leads ENABLE TRIGGER USER")
    t0 = time.perf_counter()
    await con.execute("VACUUM ANALYZE leads")
    print(f"VACUUM ANALYZE: {time.perf_counter() - t0:.1f} s; table {await _size(con, 'leads')}", flush=True)
    return account_id


async def _time(con, account_id, n: int, rounds: int) -> None:
    rnd = random.Random(7)
    probes = [rnd.randrange(n) for _ in range(rounds * 3)]
    some = await con.fetch(
        "SELECT lead_id, fields, platform_lead_id, received_at FROM leads WHERE platform_lead_id = ANY($1::text[])",
        [f"l:{i}" for i in probes],
    )

    def pick(r: int) -> asyncpg.Record:
        return some[r % len(some)]

    def after(r: int) -> tuple:
        return (pick(r)["received_at"], pick(r)["lead_id"])

    cases = {
        "floor: primary-key lookup of one lead": lambda r, c: c.fetch(
            "SELECT * FROM leads WHERE lead_id = $1", pick(r)["lead_id"]
        ),
        "exact: email": lambda r: pick(r)["fields"]["email"].upper(),
        "exact: phone, typed with spaces": lambda r: " ".join(
            pick(r)["fields"]["phone"][i : i + 3] for i in range(0, 12, 3)
        ),
        "exact: platform lead id": lambda r: pick(r)["platform_lead_id"],
        "exact: LeadID": lambda r: str(pick(r)["lead_id"]),
        "contains: first + last name (1 in 100,000)": lambda r: (
            f"{pick(r)['fields']['first_name']} {pick(r)['fields']['last_name']}"
        ),
        "contains: part of a last name (1 in 1,000)": lambda r: pick(r)["fields"]["last_name"][1:],
        "contains: company (1 in 10,000)": lambda r: " ".join(pick(r)["fields"]["company"].split()[:2]),
        "contains: part of a company word (1 in 100)": lambda r: pick(r)["fields"]["company"].split()[1][2:],
        "contains: 3 letters, 'ski' (~1 in 5)": lambda r: "ski",
        "contains: 3 letters, 'ski', a later page": lambda r: ("ski", after(r)),
    }
    texts = {label: make for label, make in cases.items() if not label.startswith("floor")}

    async def run(label: str, r: int, c=con):
        if label.startswith("floor"):
            return await cases[label](r, c)
        made = texts[label](r)
        text, cursor = made if isinstance(made, tuple) else (made, None)
        f = leads_store.LeadFilter(search=lead_search.parse(text))
        return await leads_store.list_leads(c, account_id, f, after=cursor, limit=51)

    for label in cases:
        explaining = _Explaining(con)
        rows = await run(label, 0, explaining)
        reads = " then ".join(explaining.reads) or "leads_pkey"
        print(f"  {label}: {len(rows)} rows on the first page; reads {reads}", flush=True)
    times: dict[str, list[float]] = {k: [] for k in cases}
    for r in range(rounds):
        order = list(cases) if r % 2 == 0 else list(reversed(cases))
        for label in order:
            t0 = time.perf_counter()
            await run(label, r + 1)
            times[label].append((time.perf_counter() - t0) * 1000)
    floor = statistics.median(times["floor: primary-key lookup of one lead"])
    print(f"\nmedians of {rounds} alternating rounds at {n:,} leads, WALKED {leads_store.WALKED:,} ({_load()}):")
    for label, ts in times.items():
        ms = statistics.median(ts)
        print(f"  {label:<48}{ms:>9.1f} ms  ({ms / floor:>6.1f}x the floor; max {max(ts):.1f} ms)", flush=True)


async def _build(dsn: str, indexes: list) -> None:
    con = await asyncpg.connect(dsn)
    try:
        await con.execute("SET maintenance_work_mem = '1GB'")
        for r in indexes:
            t0 = time.perf_counter()
            await con.execute(r["indexdef"])
            size = await con.fetchval("SELECT pg_size_pretty(pg_relation_size($1::regclass))", r["indexname"])
            print(f"CREATE INDEX {r['indexname']}: {time.perf_counter() - t0:.1f} s, {size}", flush=True)
    finally:
        await con.close()


async def _size(con, name: str) -> str:
    return await con.fetchval("SELECT pg_size_pretty(pg_total_relation_size($1::regclass))", name)


class _Explaining:
    """A connection stand-in that runs each statement and keeps the indexes its plan reads (a
    contains-search's walk, and the index lookup after it when the walk did not fill the page)."""

    def __init__(self, con) -> None:
        self.con = con
        self.reads: list[str] = []

    async def fetch(self, sql: str, *args):
        self.reads.append(_indexes(await self.con.fetch("EXPLAIN " + sql, *args)))
        return await self.con.fetch(sql, *args)

    async def execute(self, sql: str, *args):
        return await self.con.execute(sql, *args)

    def transaction(self):
        return self.con.transaction()


def _indexes(plan: list) -> str:
    """The indexes a plan (EXPLAIN's rows) reads."""
    lines = [r[0] for r in plan]
    used = sorted(
        {w for line in lines for w in line.replace("(", " ").split() if w.startswith(("leads_", "leads_pkey"))}
    )
    return ", ".join(used) or "no index"


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--leads", type=int, default=10_000_000)
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--keep", default="", help="load into this database (DATABASE_URL's server) and keep it")
    p.add_argument("--reuse", default="", help="time the searches on this kept database, without loading")
    p.add_argument("--walked", type=int, default=0, help="try another leads_store.WALKED (contains-searches)")
    a = p.parse_args()
    if a.walked:
        leads_store.WALKED = a.walked
    asyncio.run(main(a.leads, a.rounds, a.keep, a.reuse))
