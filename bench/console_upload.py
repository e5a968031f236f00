"""Issue 15 figure: N fixed rejected leads uploaded through the console's Upload leads page, driven in
a real headless Chromium, until the result is shown -- against the same re-upload as a bare
ReuploadLeads call (the floor) in the same run.

    .venv/bin/python -m bench.console_upload [--rows 10000] [--rounds 3]

Each round gets two fresh sets of N rejected leads (imported with a country off the picklist, then
exported and fixed): one is re-uploaded by the RPC alone (the clock runs from the first byte sent to
the stream's last message), the other through the page (the file chosen and previewed first; the
clock runs from the Apply click to the result on screen: "Every row of the file was applied."). The
preview is timed the same way against a dry-run ReuploadLeads. Rounds alternate the two arms;
medians are printed (target <= 10 s for 10,000 rows through the page).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import secrets
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.import_csv import file_chunks, new_source, write_file
from bench.processes import Stack, machine_line, stack
from bench.reupload import RULES
from leadrelay.crypto import generate_key
from leadrelay.v1 import common_pb2, ingest_pb2
from reports_app import users
from tests.reports_app.console_support import chromium, quiet, running_console, sign_in

PASSWORD = "bench console password"


@dataclass(frozen=True)
class ConsoleSettings:
    """What running_console reads of the settings."""

    database_url: str
    internal_token: str
    secret_key: str
    validation_target: str
    ingest_target: str


async def fixed_file(s: Stack, rows: int, name: str) -> bytes:
    """A new source's `rows` rejected leads, exported and fixed (every country on the picklist)."""
    source_id = await new_source(s, name, rules=RULES)
    path = tempfile.mktemp(suffix=".csv")
    write_file(path, rows)
    async for _ in s.ingest.ImportLeads(file_chunks(ingest_pb2.ImportSpec(source_id=source_id), path, 1 << 20)):
        pass
    os.unlink(path)
    data = b"".join(
        [
            c.data
            async for c in s.ingest.ExportLeads(
                ingest_pb2.ExportLeadsRequest(source_id=source_id, status=common_pb2.LEAD_STATUS_REJECTED)
            )
        ]
    )
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(table) == rows + 1, len(table)
    country = table[0].index("country")
    for r in table[1:]:
        r[country] = "Atlantis"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(table)
    return b"\xef\xbb\xbf" + buffer.getvalue().encode()


async def by_rpc(s: Stack, data: bytes, *, dry_run: bool) -> tuple[float, ingest_pb2.ImportProgress]:
    spec = ingest_pb2.ImportSpec(file_name="fixed.csv", dry_run=dry_run)
    chunks = [ingest_pb2.ImportChunk(spec=spec)] + [
        ingest_pb2.ImportChunk(data=data[i : i + (1 << 20)]) for i in range(0, len(data), 1 << 20)
    ]
    started = time.perf_counter()
    last = ingest_pb2.ImportProgress()
    async for p in s.ingest.ReuploadLeads(iter(chunks)):
        last = p
    return time.perf_counter() - started, last


async def by_page(page, base: str, path: Path, rows: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(preview seconds, apply seconds) through the page."""
    await page.goto(f"{base}/upload-leads")
    await page.get_by_role("heading", name="Upload leads", exact=True).wait_for()
    await quiet(page)
    await page.locator('input[type="file"]').set_input_files(path)
    preview = page.get_by_role("button", name="Preview changes")
    await preview.wait_for()
    await quiet(page)
    started = time.perf_counter()
    await preview.click()
    apply = page.get_by_role("button", name=f"Apply {rows:,} rows")
    await apply.wait_for()
    previewed = time.perf_counter() - started
    await quiet(page)
    started = time.perf_counter()
    await apply.click()
    await page.get_by_text("Every row of the file was applied.").wait_for()
    return previewed, time.perf_counter() - started


async def main(args: argparse.Namespace) -> None:
    print(machine_line())
    token, key = secrets.token_urlsafe(24), generate_key()
    async with stack({"LEADRELAY_INTERNAL_TOKEN": token, "LEADRELAY_SECRET_KEY": key}) as s:
        email = f"bench-{secrets.token_hex(4)}@example.com"
        async with s.pool.acquire() as con:
            await users.create_user(con, s.account_id, email, PASSWORD, users.ADMIN)
        # The Upload leads page calls ingest only (which calls validation itself).
        settings = ConsoleSettings(s.dsn, token, key, "127.0.0.1:1", s.ingest_target)
        rpc_apply: list[float] = []
        rpc_preview: list[float] = []
        page_apply: list[float] = []
        page_preview: list[float] = []
        tmp = Path(tempfile.mkdtemp(prefix="lr-bench-console-"))
        async with running_console(settings) as app, chromium() as browser:  # type: ignore[arg-type]
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(300_000)
            await sign_in(page, app.url, email, PASSWORD, "/upload-leads")
            for round_ in range(args.rounds):
                rpc_data = await fixed_file(s, args.rows, f"rpc-{round_}")
                page_data = await fixed_file(s, args.rows, f"page-{round_}")
                path = tmp / f"fixed-{round_}.csv"
                path.write_bytes(page_data)
                arms = ["rpc", "page"] if round_ % 2 == 0 else ["page", "rpc"]
                for arm in arms:
                    if arm == "rpc":
                        seconds, _ = await by_rpc(s, rpc_data, dry_run=True)
                        rpc_preview.append(seconds)
                        seconds, last = await by_rpc(s, rpc_data, dry_run=False)
                        assert last.rows_accepted == args.rows, last.message
                        rpc_apply.append(seconds)
                    else:
                        previewed, applied = await by_page(page, app.url, path, args.rows)
                        page_preview.append(previewed)
                        page_apply.append(applied)
                print(
                    f"round {round_ + 1}: apply rpc {rpc_apply[-1]:.2f} s, page {page_apply[-1]:.2f} s; "
                    f"preview rpc {rpc_preview[-1]:.2f} s, page {page_preview[-1]:.2f} s"
                )
    med = statistics.median
    print(f"{args.rows:,} fixed rows, medians of {args.rounds} alternating rounds:")
    print(f"  ReuploadLeads alone (the floor):            {med(rpc_apply):6.2f} s")
    print(f"  through the page, Apply -> result shown:    {med(page_apply):6.2f} s  (target <= 10 s)")
    print(f"    ratio to the RPC alone:                   {med(page_apply) / med(rpc_apply):6.2f}")
    print(f"  dry-run ReuploadLeads alone:                {med(rpc_preview):6.2f} s")
    print(f"  through the page, Preview -> changes shown: {med(page_preview):6.2f} s")
    print(f"    ratio to the dry run alone:               {med(page_preview) / med(rpc_preview):6.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
