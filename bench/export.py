"""Issue 6 figure: ExportLeads of N leads to CSV and to XLSX.

    .venv/bin/python -m bench.export [--rows 1000000]

Seeds N leads (12 mapped columns) with COPY, then exports them through the RPC; prints wall time,
rows/s and the ingest process's peak resident memory after each format. Baseline in the same run:
a raw asyncpg COPY ... TO STDOUT (CSV) of the same rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

import asyncpg

from bench.import_csv import COLUMNS, new_source, row
from bench.processes import machine_line, peak_rss_mb, stack
from leadrelay.v1 import common_pb2, ingest_pb2


async def main(args: argparse.Namespace) -> None:
    print(machine_line())
    async with stack() as s:
        source_id = uuid.UUID(await new_source(s, "export"))
        con = await asyncpg.connect(s.dsn)
        try:
            for start in range(0, args.rows, 50_000):
                await con.copy_records_to_table(
                    "leads",
                    records=[
                        (
                            uuid.uuid4(),
                            s.account_id,
                            source_id,
                            f"e-{i}",
                            "REJECTED",
                            "REJECT_LEAD_INVALID_EMAIL",
                            json.dumps(dict(zip(COLUMNS, row(i), strict=True))),
                        )
                        for i in range(start, min(args.rows, start + 50_000))
                    ],
                    columns=[
                        "lead_id",
                        "account_id",
                        "source_id",
                        "platform_lead_id",
                        "status",
                        "disposition_code",
                        "fields",
                    ],
                )
            await con.execute("ANALYZE leads")
            sink = bytearray()
            started = time.perf_counter()
            await con.copy_from_query(
                "SELECT * FROM leads WHERE source_id = $1", source_id, output=lambda b: _drop(sink, b), format="csv"
            )
            baseline = time.perf_counter() - started
        finally:
            await con.close()
        print(f"raw COPY TO STDOUT (csv), {args.rows} rows: {baseline:7.2f} s")
        for fmt, name in ((common_pb2.FILE_FORMAT_CSV, "CSV"), (common_pb2.FILE_FORMAT_XLSX, "XLSX")):
            started = time.perf_counter()
            size = 0
            async for chunk in s.ingest.ExportLeads(
                ingest_pb2.ExportLeadsRequest(source_id=str(source_id), format=fmt)
            ):
                size += len(chunk.data)
            wall = time.perf_counter() - started
            print(
                f"ExportLeads {name:4}: {wall:7.2f} s  {args.rows / wall:9.0f} rows/s  {size / 1e6:7.1f} MB  "
                f"ratio to COPY {wall / baseline:5.1f}x  "
                f"ingest peak RSS so far {peak_rss_mb(s.ingest_proc.pid):5.0f} MB"
            )


async def _drop(sink: bytearray, data: bytes) -> None:
    del data  # streamed and discarded, like a client writing to disk


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    asyncio.run(main(parser.parse_args()))
