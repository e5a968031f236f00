"""Issue 17 figures: ExportLeads of N leads to CSV and to XLSX against a raw COPY of the same rows,
and the XLSX writers on PyPI compared on the same rows.

    .venv/bin/python -m bench.export [--rows 1000000] [--rounds 3] [--compare-rows 200000]

Seeds N leads (12 mapped columns) with COPY. Each round measures, in turn: the floor, a raw asyncpg
`COPY (SELECT * FROM leads WHERE source_id = ...) TO STDOUT` (CSV); ExportLeads CSV; ExportLeads
XLSX; the figures are the medians of the rounds and their ratios to the floor's median. The ingest
process's peak resident memory is printed at the end.

Writers (--compare-rows > 0): the first --compare-rows export rows (as text cells, as the export
writes them) go to a file; each candidate writes them in a fresh process, in alternating rounds,
with its wall time and peak RSS; the floor is the COPY of the same rows. Candidates not installed
are skipped: `.venv/bin/pip install -e '.[bench]'` brings XlsxWriter and PyExcelerate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg

from bench.import_csv import COLUMNS, new_source, row
from bench.processes import machine_line, peak_rss_mb, stack
from leadrelay.v1 import common_pb2, ingest_pb2

WRITERS = ("rustpy-xlsxwriter", "xlsxwriter", "pyexcelerate", "openpyxl")


async def seed(con: asyncpg.Connection, account_id: uuid.UUID, source_id: uuid.UUID, rows: int) -> None:
    for start in range(0, rows, 50_000):
        await con.copy_records_to_table(
            "leads",
            records=[
                (
                    uuid.uuid4(),
                    account_id,
                    source_id,
                    f"e-{i}",
                    "REJECTED",
                    "REJECT_LEAD_INVALID_EMAIL",
                    json.dumps(dict(zip(COLUMNS, row(i), strict=True))),
                )
                for i in range(start, min(rows, start + 50_000))
            ],
            columns=["lead_id", "account_id", "source_id", "platform_lead_id", "status", "disposition_code", "fields"],
        )
    await con.execute("ANALYZE leads")


async def copy_floor(con: asyncpg.Connection, source_id: uuid.UUID, limit: int | None = None) -> float:
    query = "SELECT * FROM leads WHERE source_id = $1" + (
        f" ORDER BY received_at, lead_id LIMIT {limit}" if limit else ""
    )
    started = time.perf_counter()
    await con.copy_from_query(query, source_id, output=_drop, format="csv")
    return time.perf_counter() - started


async def _drop(data: bytes) -> None:
    del data  # streamed and discarded, like a client writing to disk


async def export_once(s: Any, source_id: uuid.UUID, fmt: int) -> tuple[float, int]:
    started = time.perf_counter()
    size = 0
    async for chunk in s.ingest.ExportLeads(ingest_pb2.ExportLeadsRequest(source_id=str(source_id), format=fmt)):
        size += len(chunk.data)
    return time.perf_counter() - started, size


async def main(args: argparse.Namespace) -> None:
    print(machine_line())
    async with stack() as s:
        source_id = uuid.UUID(await new_source(s, "export"))
        con = await asyncpg.connect(s.dsn)
        try:
            await seed(con, s.account_id, source_id, args.rows)
            times: dict[str, list[float]] = {"COPY": [], "CSV": [], "XLSX": []}
            sizes: dict[str, int] = {}
            for n in range(args.rounds):
                times["COPY"].append(await copy_floor(con, source_id))
                for fmt, name in ((common_pb2.FILE_FORMAT_CSV, "CSV"), (common_pb2.FILE_FORMAT_XLSX, "XLSX")):
                    wall, sizes[name] = await export_once(s, source_id, fmt)
                    times[name].append(wall)
                print(f"  round {n + 1}: " + "  ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()), flush=True)
            floor = statistics.median(times["COPY"])
            print(f"{args.rows} leads, medians of {args.rounds} alternating rounds:")
            print(f"  raw COPY TO STDOUT (csv): {floor:7.2f} s  (floor)")
            for name in ("CSV", "XLSX"):
                wall = statistics.median(times[name])
                rate = args.rows / wall
                print(
                    f"  ExportLeads {name:4}: {wall:7.2f} s  {rate:9.0f} rows/s  {sizes[name] / 1e6:7.1f} MB"
                    f"  {wall / floor:5.1f}x the floor"
                )
            print(f"  ingest peak RSS: {peak_rss_mb(s.ingest_proc.pid):.0f} MB")
            if args.compare_rows:
                await compare_writers(con, s, source_id, min(args.compare_rows, args.rows), args.rounds)
        finally:
            await con.close()


async def compare_writers(con: asyncpg.Connection, s: Any, source_id: uuid.UUID, rows: int, rounds: int) -> None:
    from leadrelay import lead_export
    from leadrelay.capture import leads_store, sources_store
    from leadrelay.capture.leads_store import LeadFilter

    async with s.pool.acquire() as pooled, pooled.transaction(readonly=True):
        columns = await sources_store.account_columns(pooled, s.account_id, source_id)
        cursor = await leads_store.export_text_cursor(pooled, s.account_id, LeadFilter(source_id=source_id), columns)
        data = [tuple(r) for r in await cursor.fetch(rows)]
    with tempfile.TemporaryDirectory(prefix="leadrelay-writers-") as tmp:
        rows_file = os.path.join(tmp, "rows.pickle")
        await asyncio.to_thread(_dump, rows_file, (lead_export.xlsx_header(columns), data))
        del data
        figures: dict[str, list[float]] = {"COPY": []}
        rss: dict[str, float] = {}
        for _ in range(rounds):
            figures["COPY"].append(await copy_floor(con, source_id, rows))
            for writer in WRITERS:
                result = await asyncio.to_thread(_run_writer, writer, rows_file, os.path.join(tmp, "out.xlsx"))
                if result is None:
                    continue
                figures.setdefault(writer, []).append(result[0])
                rss[writer] = max(rss.get(writer, 0.0), result[1])
            print("  writers round: " + "  ".join(f"{k} {v[-1]:.2f} s" for k, v in figures.items()), flush=True)
    floor = statistics.median(figures["COPY"])
    print(f"XLSX writers, {rows} export rows, medians of {rounds} alternating rounds (writing only, rows in memory):")
    print(f"  raw COPY TO STDOUT of the same rows: {floor:6.2f} s  (floor)")
    for writer in WRITERS:
        if writer not in figures:
            print(f"  {writer:18} not installed (pip install -e '.[bench]')")
            continue
        wall = statistics.median(figures[writer])
        print(f"  {writer:18} {wall:7.2f} s  {wall / floor:6.1f}x the floor  peak RSS {rss[writer]:5.0f} MB")


def _dump(path: str, value: object) -> None:
    with open(path, "wb") as out:
        pickle.dump(value, out)


def _run_writer(writer: str, rows_file: str, out: str) -> tuple[float, float] | None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.export", "--write-with", writer, rows_file, out],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == 3:
        return None
    if done.returncode:
        raise RuntimeError(f"{writer}: {done.stderr[-2000:]}")
    wall, rss = done.stdout.split()
    return float(wall), float(rss)


def write_with(writer: str, rows_file: str, out: str) -> None:
    """One candidate writes the rows: prints wall seconds and the process's peak RSS in MB."""
    with open(rows_file, "rb") as file:
        header, rows = pickle.load(file)
    try:
        write = _writer(writer)
    except ImportError:
        sys.exit(3)
    started = time.perf_counter()
    write(out, header, rows)
    wall = time.perf_counter() - started
    print(wall, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _writer(name: str) -> Callable[[str, list[str], list[tuple[Any, ...]]], None]:
    if name == "rustpy-xlsxwriter":
        from leadrelay import xlsx_sheet

        return lambda out, header, rows: (xlsx_sheet.write(out, header, rows), None)[1]
    if name == "xlsxwriter":
        import xlsxwriter

        def xw(out: str, header: list[str], rows: list[tuple[Any, ...]]) -> None:
            book = xlsxwriter.Workbook(
                out,
                {
                    "constant_memory": True,
                    "strings_to_numbers": False,
                    "strings_to_formulas": False,
                    "strings_to_urls": False,
                },
            )
            sheet = book.add_worksheet("Leads")
            sheet.write_row(0, 0, header)
            for n, r in enumerate(rows, 1):
                sheet.write_row(n, 0, r)
            sheet.freeze_panes(1, 0)
            sheet.autofilter(0, 0, len(rows), len(header) - 1)
            book.close()

        return xw
    if name == "pyexcelerate":
        import pyexcelerate

        def pe(out: str, header: list[str], rows: list[tuple[Any, ...]]) -> None:
            book = pyexcelerate.Workbook()
            book.new_sheet("Leads", data=[header, *rows])  # takes the whole sheet: not streaming
            book.save(out)

        return pe
    from openpyxl import Workbook

    def op(out: str, header: list[str], rows: list[tuple[Any, ...]]) -> None:
        book = Workbook(write_only=True)
        sheet = book.create_sheet("Leads")
        sheet.append(header)
        for r in rows:
            sheet.append(r)
        book.save(out)

    return op


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--write-with":
        write_with(*sys.argv[2:])
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compare-rows", type=int, default=200_000)
    asyncio.run(main(parser.parse_args()))
