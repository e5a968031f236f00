"""Issue 6 figure: batch import of a generated CSV (12 columns, 10% bad rows) through ImportLeads.

    .venv/bin/python -m bench.import_csv [--rows 1000000] [--chunk 1048576]

Prints wall time, rows/s, the ratio to a raw asyncpg COPY of the same rows into `leads` (measured in
the same run, over one connection and over two: the bare insert using both cores, the floor no
import on this machine can beat), and the ingest process's peak resident memory (VmHWM). The ingest
and validation services run as their own processes against a throwaway database; the file is
generated to a temporary file and streamed from disk in chunks (the import's client never holds it).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterator

import asyncpg

from bench.processes import CpuMeter, Stack, machine_line, peak_rss_mb, postmaster_pid, stack
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
) -> float:
    """Seconds for a raw COPY of the same rows into `leads` (fields only: no answers, events or
    judgement) over `streams` connections at once: one is the classic baseline, two use both cores."""
    sid = uuid.UUID(source_id)
    records = [[(uuid.uuid4(), account_id, sid, pid, fields) for pid, fields in chunk] for chunk in chunks]
    cons = [await asyncpg.connect(dsn) for _ in range(streams)]
    todo = list(reversed(records))

    async def stream(con: asyncpg.Connection) -> None:
        while todo:
            await con.copy_records_to_table("leads", records=todo.pop(), columns=COPY_COLUMNS)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(stream(con) for con in cons))
        return time.perf_counter() - started
    finally:
        for con in cons:
            await con.close()


async def main(args: argparse.Namespace) -> None:
    print(machine_line())
    path = tempfile.mktemp(prefix="lr-import-", suffix=".csv")
    try:
        size = write_file(path, args.rows)
        print(f"file: {args.rows} rows x 12 columns, {size / 1e6:.1f} MB, 10% bad rows")
        async with stack() as s:
            source_id = await new_source(s, "import")
            warm = await new_source(s, "warmup")
            small = tempfile.mktemp(suffix=".csv")
            write_file(small, 2000)
            async for _ in s.ingest.ImportLeads(file_chunks(ingest_pb2.ImportSpec(source_id=warm), small, args.chunk)):
                pass
            os.unlink(small)

            chunks = copy_rows(path)
            copy_seconds = await copy_baseline(s.dsn, s.account_id, await new_source(s, "copy"), chunks, 1)
            copy2_seconds = await copy_baseline(s.dsn, s.account_id, await new_source(s, "copy2"), chunks, 2)
            copied = sum(map(len, chunks))
            del chunks
            procs = {"ingest": s.ingest_proc, "validation": s.validation_proc}
            meter = CpuMeter(procs, await postmaster_pid(s.pool))
            cpu = meter.read()
            started = time.perf_counter()
            last = None
            messages = 0
            failed = 0
            async for p in s.ingest.ImportLeads(
                file_chunks(ingest_pb2.ImportSpec(source_id=source_id, file_name="bench.csv"), path, args.chunk)
            ):
                messages += 1
                if messages == 1:
                    checked = time.perf_counter() - started  # the first message: the file is received and checked
                failed += len(p.failed_rows)
                last = p
            wall = time.perf_counter() - started
            cpu_report = meter.report(cpu, args.rows)
            assert last is not None and last.done
            rss = peak_rss_mb(s.ingest_proc.pid)
            print(f"raw asyncpg COPY of the same rows: {copy_seconds:8.2f} s  {copied / copy_seconds:10.0f} rows/s")
            print(
                f"  the same over 2 connections:     {copy2_seconds:8.2f} s  {copied / copy2_seconds:10.0f} rows/s"
                "  (both cores: the floor under any import here)"
            )
            print(
                f"ImportLeads:                       {wall:8.2f} s  {args.rows / wall:10.0f} rows/s  "
                f"(target <= 40 s for 1,000,000 rows)"
            )
            print(f"  of which receiving and checking the whole file before storing: {checked:6.2f} s")
            print(
                f"  ratio to COPY (time):            {wall / copy_seconds:8.1f} x slower "
                f"({wall / copy2_seconds:.1f} x the 2-connection COPY)"
            )
            print(f"  summary: {last.message}; {failed} failed rows streamed in {messages} messages")
            print(f"  where the time goes: {cpu_report} (the client only streams the file)")
            print(f"  ingest process peak RSS:         {rss:8.0f} MB  (target <= 500 MB)")
            print(f"  validation process peak RSS:     {peak_rss_mb(s.validation_proc.pid):8.0f} MB")
    finally:
        if os.path.exists(path):  # noqa: ASYNC240
            os.unlink(path)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=1 << 20)
    asyncio.run(main(parser.parse_args()))
