"""Issue 17 figure: reading an XLSX import file, calamine (what ImportLeads and ReuploadLeads use)
against openpyxl's read-only mode (what they used before), on the same file in the same run.

    .venv/bin/python -m bench.xlsx_read [--rows 200000] [--rounds 3]

Writes an N-row file in the export's shape (23 text columns, leadrelay.lead_export) once; each round
then reads it, each reader in a fresh process (wall time and peak RSS): the floor, unzipping the
sheet's XML and nothing else (no reader can do less); our reader (ingest_service.files.xlsx_reader:
the extent check and calamine, every cell as text); openpyxl read-only, cells as text the same way.
Medians of the alternating rounds, and each one's ratio to the floor.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

from bench.import_csv import COLUMNS, row
from bench.processes import machine_line

READERS = ("unzip (floor)", "calamine", "openpyxl read-only")


def make_file(path: str, rows: int) -> None:
    from leadrelay import lead_export

    def data():  # type: ignore[no-untyped-def]
        for i in range(rows):
            fixed = [f"0190{i:08d}-0000-7000-8000-000000000001", "0190", None, "CSV", f"e-{i}"]
            yield [*fixed, "2026-01-31T09:30:05Z", "2026-01-31T09:30:05Z", "REJECTED", "X", None, None, *row(i)]

    lead_export.write_xlsx(path, COLUMNS, data())


def read_with(reader: str, path: str) -> None:
    # Imports first: the figure is the reading.
    from openpyxl import load_workbook

    from ingest_service.files.file_budget import XlsxLimits
    from ingest_service.files.xlsx_reader import cell_text, read_records

    started = time.perf_counter()
    cells = 0
    if reader == "unzip (floor)":
        with zipfile.ZipFile(path) as z, z.open("xl/worksheets/sheet1.xml") as xml:
            while block := xml.read(1 << 20):
                cells += len(block)
    elif reader == "calamine":
        with open(path, "rb") as file:
            for record in read_records(file, XlsxLimits()):
                cells += len(record.fields)
    else:
        book = load_workbook(path, read_only=True, data_only=True)
        sheet = book.worksheets[0]
        sheet.reset_dimensions()
        for values in sheet.iter_rows(values_only=True):
            cells += len([cell_text(v) for v in values])
        book.close()
    print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, cells)


def main(args: argparse.Namespace) -> None:
    print(machine_line())
    with tempfile.TemporaryDirectory(prefix="leadrelay-xlsx-read-") as tmp:
        path = os.path.join(tmp, "leads.xlsx")
        make_file(path, args.rows)
        size = os.path.getsize(path)
        walls: dict[str, list[float]] = {r: [] for r in READERS}
        rss: dict[str, float] = {}
        for n in range(args.rounds):
            for reader in READERS:
                out = subprocess.run(
                    [sys.executable, "-m", "bench.xlsx_read", "--read-with", reader, path],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.split()
                walls[reader].append(float(out[0]))
                rss[reader] = max(rss.get(reader, 0.0), float(out[1]))
            print(f"  round {n + 1}: " + "  ".join(f"{r} {w[-1]:.2f} s" for r, w in walls.items()), flush=True)
    floor = statistics.median(walls[READERS[0]])
    print(
        f"XLSX read, {args.rows} rows x 23 columns ({size / 1e6:.1f} MB), medians of {args.rounds} alternating rounds:"
    )
    for reader in READERS:
        wall = statistics.median(walls[reader])
        print(
            f"  {reader:20} {wall:7.2f} s  {args.rows / wall:8.0f} rows/s  {wall / floor:5.1f}x the floor  "
            f"peak RSS {rss[reader]:5.0f} MB"
        )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--read-with":
        read_with(sys.argv[2], sys.argv[3])
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    main(parser.parse_args())
