"""Lead search benchmark: N leads (default 10,000,000) in one account of a throwaway database, loaded
with COPY in bounded chunks, then the searches the Leads page runs (leads_store.list_leads with a
search, one page of 51 rows as the console asks) against a floor measured in the same run: the
primary-key lookup of one lead. Medians of alternating rounds.

    .venv/bin/python -m bench.lead_search                  # 10M leads (load and index builds take a while)
    .venv/bin/python -m bench.lead_search --leads 300000   # a quick run
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

from leadrelay.capture import lead_search, leads_store
from leadrelay.db import init_connection
from tests.harness import TestDatabase

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
COLUMNS = ["lead_id", "account_id", "source_id", "platform_lead_id", "status", "fields", "received_at", "captured_at"]
CHUNK = 200_000


def _rows(account_id, sources, start, count, now):
    rnd = random.Random(start)
    for i in range(start, start + count):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        at = now - timedelta(seconds=rnd.randrange(90 * 86400))
        fields = {
            "first_name": first,
            "last_name": last,
            "email": f"{first.lower()}.{last.lower()}.{i}@example.com",
            "phone": f"+1415{i:07d}",
            "company": f"{rnd.choice(ADJ)} {rnd.choice(NOUN)} {rnd.choice(SUFFIX)}",
            "job_title": "Engineer",
        }
        yield (uuid.uuid4(), account_id, sources[i % len(sources)], f"l:{i}", "ACCEPTED", fields, at, at)


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


async def main(n: int, rounds: int) -> None:
    db = TestDatabase()
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
        print(f"lead search at {n:,} leads; {os.cpu_count()} cores; {_load()}", flush=True)
        account_id = await con.fetchval("INSERT INTO accounts (name) VALUES ('bench') RETURNING account_id")
        sources = [
            await con.fetchval(
                "INSERT INTO sources (account_id, name, platform) VALUES ($1, $2, 'CSV') RETURNING source_id",
                account_id,
                f"Source {i}",
            )
            for i in range(10)
        ]
        # Loaded without the search indexes and the report triggers, which are built after (as a
        # migration on a full table would), so the load measures COPY, not this bench.
        await con.execute("DROP INDEX leads_search_keys, leads_search_words")
        await con.execute("ALTER TABLE leads DISABLE TRIGGER USER")
        now = datetime.now(UTC)
        t0 = time.perf_counter()
        for start in range(0, n, CHUNK):
            await con.copy_records_to_table(
                "leads", records=_rows(account_id, sources, start, min(CHUNK, n - start), now), columns=COLUMNS
            )
            if start and start % 2_000_000 == 0:
                print(f"  {start:,} leads loaded ({time.perf_counter() - t0:.0f} s)", flush=True)
        print(f"COPY of {n:,} leads: {time.perf_counter() - t0:.1f} s", flush=True)
        # The two indexes are built at once, on two connections (GIN builds use one core each).
        await asyncio.gather(
            _build(dsn, "leads_search_keys", "lead_search_keys(fields, platform_lead_id)"),
            _build(dsn, "leads_search_words", "lead_search_words(fields)"),
        )
        await con.execute("ALTER TABLE leads ENABLE TRIGGER USER")
        t0 = time.perf_counter()
        await con.execute("VACUUM ANALYZE leads")
        print(f"VACUUM ANALYZE: {time.perf_counter() - t0:.1f} s; table {await _size(con, 'leads')}", flush=True)

        rnd = random.Random(7)
        probes = [rnd.randrange(n) for _ in range(rounds * 3)]
        some = await con.fetch(
            "SELECT lead_id, fields, platform_lead_id FROM leads WHERE platform_lead_id = ANY($1::text[])",
            [f"l:{i}" for i in probes],
        )

        def pick(r: int) -> asyncpg.Record:
            return some[r % len(some)]

        cases = {
            "floor: primary-key lookup of one lead": lambda r: con.fetch(
                "SELECT * FROM leads WHERE lead_id = $1", pick(r)["lead_id"]
            ),
            "exact: email": lambda r: _search(con, account_id, pick(r)["fields"]["email"].upper()),
            "exact: phone, typed with spaces": lambda r: _search(
                con, account_id, " ".join(pick(r)["fields"]["phone"][i : i + 3] for i in range(0, 12, 3))
            ),
            "exact: platform lead id": lambda r: _search(con, account_id, pick(r)["platform_lead_id"]),
            "exact: LeadID": lambda r: _search(con, account_id, str(pick(r)["lead_id"])),
            "contains: first + last name (1 in 100,000)": lambda r: _search(
                con, account_id, f"{pick(r)['fields']['first_name']} {pick(r)['fields']['last_name']}"
            ),
            "contains: part of a last name (1 in 1,000)": lambda r: _search(
                con, account_id, pick(r)["fields"]["last_name"][1:]
            ),
            "contains: company (1 in 10,000)": lambda r: _search(
                con, account_id, " ".join(pick(r)["fields"]["company"].split()[:2])
            ),
            "contains: part of a company word (1 in 100)": lambda r: _search(
                con, account_id, pick(r)["fields"]["company"].split()[1][2:]
            ),
        }
        texts: dict[str, str] = {}
        for label, run in cases.items():
            rows = await run(0)
            print(f"  {label}: {len(rows)} rows on the first page", flush=True)
        for text in (pick(0)["fields"]["email"], pick(0)["fields"]["last_name"][1:], "Zephyr Techworks"):
            texts[text] = await _plan(con, text, account_id)
        print("  plans: " + "; ".join(f"{t!r} uses {p}" for t, p in texts.items()), flush=True)
        times: dict[str, list[float]] = {k: [] for k in cases}
        for r in range(rounds):
            order = list(cases) if r % 2 == 0 else list(reversed(cases))
            for label in order:
                t0 = time.perf_counter()
                await cases[label](r + 1)
                times[label].append((time.perf_counter() - t0) * 1000)
        floor = statistics.median(times["floor: primary-key lookup of one lead"])
        print(f"\nmedians of {rounds} alternating rounds ({_load()}):", flush=True)
        for label, ts in times.items():
            ms = statistics.median(ts)
            print(f"  {label:<48}{ms:>9.1f} ms  ({ms / floor:>6.1f}x the floor; max {max(ts):.1f} ms)", flush=True)
    finally:
        await con.close()
        await db.drop()


async def _build(dsn: str, name: str, expr: str) -> None:
    con = await asyncpg.connect(dsn)
    try:
        await con.execute("SET maintenance_work_mem = '512MB'")
        t0 = time.perf_counter()
        await con.execute(f"CREATE INDEX {name} ON leads USING gin ({expr})")
        size = await con.fetchval("SELECT pg_size_pretty(pg_relation_size($1::regclass))", name)
        print(f"CREATE INDEX {name}: {time.perf_counter() - t0:.1f} s, {size}", flush=True)
    finally:
        await con.close()


async def _search(con, account_id, text: str):
    f = leads_store.LeadFilter(search=lead_search.parse(text))
    return await leads_store.list_leads(con, account_id, f, after=None, limit=51)


async def _size(con, name: str) -> str:
    return await con.fetchval("SELECT pg_size_pretty(pg_total_relation_size($1::regclass))", name)


class _Explaining:
    """A connection stand-in whose fetch answers the statement's plan instead of its rows."""

    def __init__(self, con) -> None:
        self.con = con

    async def fetch(self, sql: str, *args):
        return await self.con.fetch("EXPLAIN " + sql, *args)


async def _plan(con, text: str, account_id) -> str:
    """The indexes the plan of the search's statement (as list_leads sends it) uses."""
    f = leads_store.LeadFilter(search=lead_search.parse(text))
    lines = [r[0] for r in await leads_store.list_leads(_Explaining(con), account_id, f, after=None, limit=51)]
    used = sorted({w for line in lines for w in line.replace("(", " ").split() if w.startswith("leads_")})
    return ", ".join(used) or "no index"


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--leads", type=int, default=10_000_000)
    p.add_argument("--rounds", type=int, default=15)
    a = p.parse_args()
    asyncio.run(main(a.leads, a.rounds))
