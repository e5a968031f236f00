"""Issues 6 and 17 figure: batch import of a generated CSV (12 columns, 10% bad rows) through ImportLeads.

    .venv/bin/python -m bench.import_csv [--rows 1000000] [--rounds 3] [--before DIR] [--chunk 1048576]

Rounds alternate a raw asyncpg COPY of the same rows into `leads` (one connection: the floor) and the
import; it prints each round's ratio and their median, the CPU each process spent per row, and the
ingest process's peak resident memory (VmHWM). `--before DIR` runs another checkout's services (the
code before a change; its leadrelay/v1 generated) against the same database in the same rounds, so a
before/after comparison shares the machine's moment. The services run as their own processes against
a throwaway database; the file is generated to a temporary file and streamed from disk in chunks
(the import's client never holds it). The 2-connection COPY is printed once, for reference.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg

from bench.processes import (
    CpuMeter,
    Stack,
    cpu_seconds,
    describe_cpu,
    machine_line,
    peak_rss_mb,
    postmaster_pid,
    stack,
)
from leadrelay.v1 import common_pb2, ingest_pb2, validation_pb2

COLUMNS = [
    "email",
    "phone",
    "first_name",
    "last_name",
    "company",
    "job_title",
    "country",
    "city",
    "zip",
    "website",
    "industry",
    "comments",
]
MAPPING = [common_pb2.FieldMapping(column=c, form_field=c) for c in COLUMNS] + [
    common_pb2.FieldMapping(column="notes", unmapped_fields=True)
]
RULES = [
    validation_pb2.Rule(column="email", required=validation_pb2.Required()),
    validation_pb2.Rule(column="email", email=validation_pb2.EmailCheck()),
    validation_pb2.Rule(
        column="country",
        picklist=validation_pb2.Picklist(allowed=["United States", "Germany", "France"], case_insensitive=True),
    ),
]
COPY_COLUMNS = ["lead_id", "account_id", "source_id", "platform_lead_id", "fields"]
HEADER = [
    "E-mail",
    "Phone Number",
    "First Name",
    "Last Name",
    "Company",
    "Job Title",
    "Country",
    "City",
    "Zip Code",
    "Website",
    "Industry",
    "Comments",
]


# The raw COPY's leads are PROCESSING: a sweeper judging a million of them mid-run would be measured too.
NO_SWEEP = {"LEADRELAY_SWEEPER_MIN_AGE_SECONDS": "1e9"}


def row(i: int) -> list[str]:
    bad = i % 10 == 9
    email = f"person{i}@example{i % 97}.com" if not (bad and i % 20 == 9) else f"person{i}-at-example.com"
    country = ("Germany", "United States", "france")[i % 3] if not (bad and i % 20 == 19) else "Narnia"
    return [
        email,
        f"+1 415 555 {i % 10000:04d}",
        "Ann",
        f"Lee {i}",
        "Acme, Inc.",
        'Head of "Growth"',
        country,
        "Berlin",
        f"{10000 + i % 89999}",
        "https://example.com",
        "Software",
        "Met at booth 4",
    ]


def write_file(path: str, n: int) -> int:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(HEADER)
        for start in range(0, n, 10_000):
            w.writerows(row(i) for i in range(start, min(n, start + 10_000)))
    return os.path.getsize(path)


async def new_source(s: Stack, name: str, mapping=MAPPING, rules=RULES) -> str:
    src = await s.ingest.CreateSource(ingest_pb2.CreateSourceRequest(name=name, platform=common_pb2.PLATFORM_CSV))
    await s.ingest.SetDefaultMapping(ingest_pb2.SetMappingRequest(source_id=src.source_id, mappings=mapping))
    await s.validation.SetAcceptanceCriteria(
        validation_pb2.SetAcceptanceCriteriaRequest(source_id=src.source_id, rules=rules)
    )
    return src.source_id


def file_chunks(spec: ingest_pb2.ImportSpec, path: str, chunk: int) -> Iterator[ingest_pb2.ImportChunk]:
    yield ingest_pb2.ImportChunk(spec=spec)
    with open(path, "rb") as f:
        while data := f.read(chunk):
            yield ingest_pb2.ImportChunk(data=data)


def copy_rows(path: str) -> list[list[tuple[str, str]]]:
    """The file's rows as the raw COPY takes them, (platform lead id, fields JSON), in chunks of 50,000."""
    chunks: list[list[tuple[str, str]]] = [[]]
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        for n, values in enumerate(reader, 1):
            if len(chunks[-1]) == 50_000:
                chunks.append([])
            chunks[-1].append((f"copy-{n}", json.dumps(dict(zip(COLUMNS, values, strict=True)))))
    return chunks


async def copy_baseline(
    dsn: str, account_id: uuid.UUID, source_id: str, chunks: list[list[tuple[str, str]]], streams: int
) -> tuple[float, float]:
    """Seconds for a raw COPY of the same rows into `leads` (fields only: no answers, events or
    judgement; the search columns left empty, their defaults: the floor does none of our work) over
    `streams` connections at once: one is the classic baseline, two use both cores; and the CPU
    seconds its backends spent (read before they close: a process gone is not counted after)."""
    sid = uuid.UUID(source_id)
    records = [[(uuid.uuid4(), account_id, sid, pid, fields) for pid, fields in chunk] for chunk in chunks]
    cons = [await asyncpg.connect(dsn) for _ in range(streams)]
    backends = [await con.fetchval("SELECT pg_backend_pid()") for con in cons]
    todo = list(reversed(records))

    async def stream(con: asyncpg.Connection) -> None:
        while todo:
            await con.copy_records_to_table("leads", records=todo.pop(), columns=COPY_COLUMNS)

    try:
        cpu = sum(cpu_seconds(pid) for pid in backends)
        started = time.perf_counter()
        await asyncio.gather(*(stream(con) for con in cons))
        took = time.perf_counter() - started
        return took, sum(cpu_seconds(pid) for pid in backends) - cpu
    finally:
        for con in cons:
            await con.close()


async def import_file(s: Stack, source_id: str, path: str, chunk: int) -> tuple[float, ingest_pb2.ImportProgress, int]:
    """(seconds, the last message, failed rows streamed) of one ImportLeads of the file."""
    started = time.perf_counter()
    last = None
    failed = 0
    async for p in s.ingest.ImportLeads(
        file_chunks(ingest_pb2.ImportSpec(source_id=source_id, file_name="bench.csv"), path, chunk)
    ):
        failed += len(p.failed_rows)
        last = p
    assert last is not None and last.done
    return time.perf_counter() - started, last, failed


async def warm_up(s: Stack, chunk: int) -> None:
    small = tempfile.mktemp(suffix=".csv")
    write_file(small, 2000)
    try:
        await import_file(s, await new_source(s, "warmup"), small, chunk)
    finally:
        os.unlink(small)


async def main(args: argparse.Namespace) -> None:
    print(machine_line())
    path = tempfile.mktemp(prefix="lr-import-", suffix=".csv")
    try:
        size = write_file(path, args.rows)
        print(f"file: {args.rows} rows x 12 columns, {size / 1e6:.1f} MB, 10% bad rows; {args.rounds} rounds")
        async with contextlib.AsyncExitStack() as stacks:
            s = await stacks.enter_async_context(stack(NO_SWEEP))
            # The code before, run from another checkout against the same database: the before/after
            # comparison in the same run, rounds alternating, as the floor's.
            before = (
                await stacks.enter_async_context(stack(NO_SWEEP, code=Path(args.before), dsn=s.dsn))
                if args.before
                else None
            )
            for one in (s, before):
                if one is not None:
                    await warm_up(one, args.chunk)
            chunks = copy_rows(path)
            copied = sum(map(len, chunks))
            copy2, _ = await copy_baseline(s.dsn, s.account_id, await new_source(s, "copy2"), chunks, 2)
            procs = {"ingest": s.ingest_proc, "validation": s.validation_proc}
            meter = CpuMeter(procs, await postmaster_pid(s.pool))
            # The code before shares the PostgreSQL server; the steps run one at a time.
            meter_before = (
                CpuMeter({"ingest": before.ingest_proc, "validation": before.validation_proc}, meter.postmaster)
                if before is not None
                else None
            )
            ratios: list[float] = []
            ratios_before: list[float] = []
            copy_cpu: list[dict[str, float]] = []
            import_cpu: list[dict[str, float]] = []
            copy_seconds: list[float] = []
            cpu_reports: list[str] = []
            cpu_reports_before: list[str] = []
            for r in range(args.rounds):
                # Alternating order: whatever the machine does meanwhile falls on each side in turn.
                steps = ["copy", "import", "before"] if r % 2 == 0 else ["before", "import", "copy"]
                took: dict[str, float] = {}
                for step in steps:
                    if step == "copy":
                        client = time.process_time()
                        took[step], backend = await copy_baseline(
                            s.dsn, s.account_id, await new_source(s, "copy"), chunks, 1
                        )
                        copy_cpu.append(
                            {
                                "postgres": backend / copied * 1e6,
                                "client": (time.process_time() - client) / copied * 1e6,
                            }
                        )
                    elif step == "import":
                        cpu = meter.read()
                        took[step], last, failed = await import_file(s, await new_source(s, "import"), path, args.chunk)
                        import_cpu.append(meter.per_lead(cpu, args.rows))
                        cpu_reports.append(describe_cpu(import_cpu[-1]))
                        assert failed == last.rows_rejected + last.rows_errored
                    elif before is not None and meter_before is not None:
                        cpu = meter_before.read()
                        took[step], _, _ = await import_file(
                            before, await new_source(before, "import"), path, args.chunk
                        )
                        cpu_reports_before.append(meter_before.report(cpu, args.rows))
                ratios.append(took["import"] / took["copy"])
                copy_seconds.append(took["copy"])
                line = (
                    f"round {r + 1}: raw COPY {took['copy']:7.2f} s, ImportLeads {took['import']:7.2f} s "
                    f"({ratios[-1]:.2f}x)"
                )
                if "before" in took:
                    ratios_before.append(took["before"] / took["copy"])
                    line += f", the code before {took['before']:7.2f} s ({ratios_before[-1]:.2f}x)"
                print(line, flush=True)
            rss = peak_rss_mb(s.ingest_proc.pid)
            print(f"  summary: {last.message}; {failed} failed rows streamed")
            print(f"  the 2-connection COPY (both cores): {copy2:.2f} s, {copied / copy2:.0f} rows/s")
            for report in cpu_reports:
                print(f"  where the time goes: {report} (the client only streams the file)")
            for report in cpu_reports_before:
                print(f"  the code before: {report}")
            for each in copy_cpu:
                print(f"  the raw COPY: {', '.join(f'{k} {v:.0f}' for k, v in each.items())} us CPU per row")
            # The bound: the import's CPU spread perfectly over every core, against the COPY's wall time.
            cores = os.cpu_count() or 1
            copy_us = statistics.median(copy_seconds) / copied * 1e6
            cpu_all = statistics.median(sum(each.values()) for each in import_cpu)
            print(
                f"  the bound on {cores} cores: {cpu_all:.0f} us CPU a lead spread over them takes at least "
                f"{cpu_all / cores:.0f} us, the raw COPY {copy_us:.0f} us a row: at best "
                f"{cpu_all / cores / copy_us:.2f}x; 1.5x needs <= {1.5 * copy_us * cores:.0f} us CPU a lead in all"
            )
            print(
                f"ImportLeads of {args.rows:,} rows: median {statistics.median(ratios):.2f}x a raw single-connection "
                f"COPY of the same rows (rounds {', '.join(f'{x:.2f}' for x in ratios)}; target <= 1.5x)"
            )
            if ratios_before:
                print(
                    f"the code before ({args.before}): median {statistics.median(ratios_before):.2f}x "
                    f"(rounds {', '.join(f'{x:.2f}' for x in ratios_before)})"
                )
            print(f"  ingest process peak RSS:         {rss:8.0f} MB  (target <= 500 MB)")
            print(f"  validation process peak RSS:     {peak_rss_mb(s.validation_proc.pid):8.0f} MB")
    finally:
        if os.path.exists(path):  # noqa: ASYNC240
            os.unlink(path)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=1 << 20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--before", default="", help="another checkout (the code before a change) to run in the same rounds"
    )
    asyncio.run(main(parser.parse_args()))
