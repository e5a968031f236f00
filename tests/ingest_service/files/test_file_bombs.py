"""XLSX bombs against a separately started ingest process: refused with INVALID_ARGUMENT naming the
limit, the process's peak memory bounded, its health answering throughout. The bombs are built here:
a small file whose shared-strings part unzips to 256 MiB of one string (refused from the zip's
directory: the size does not change what happens), and a tiny file declaring A1:XFD1048576."""

from __future__ import annotations

import asyncio
import io
import re
import zipfile
from collections.abc import AsyncIterator

import aiohttp
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ingest_service.files.csv_reader import CsvError
from ingest_service.files.file_budget import Budget, Stopped, XlsxLimits
from ingest_service.files.upload_file import scan
from leadrelay import clients
from leadrelay.v1 import ingest_pb2
from tests.conftest import Servers
from tests.harness import Api
from tests.ingest_service.file_support import (
    IngestProcess,
    chunks,
    file_source,
    ingest_process,
    stopped,
    xlsx_bytes,
)

RSS_BOUND_MB = 500  # the ingest process's peak resident memory, bombs included
HANG_BOUND_SECONDS = 60  # the call's gRPC deadline: a hang fails the test instead of stalling it

SHEET = "xl/worksheets/sheet1.xml"
SHARED = "xl/sharedStrings.xml"


def _rebuild(base: bytes, replace: dict[str, bytes], add: dict[str, object] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item.filename, replace.get(item.filename, src.read(item.filename)))
        for name, write in (add or {}).items():
            with dst.open(name, "w", force_zip64=True) as f:
                write(f)
    return out.getvalue()


def shared_string_bomb(mib: int = 256) -> bytes:
    """A workbook whose A2 is shared string 0: one string of `mib` MiB."""
    base = xlsx_bytes([["email"], ["x"]])
    with zipfile.ZipFile(io.BytesIO(base)) as z:
        sheet = z.read(SHEET)
        rels = z.read("xl/_rels/workbook.xml.rels")
        types = z.read("[Content_Types].xml")
    sheet = re.sub(rb'<c r="A2"[^>]*>.*?</c>', b'<c r="A2" t="s"><v>0</v></c>', sheet)
    rels = rels.replace(
        b"</Relationships>",
        b'<Relationship Id="rIdSS" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        b'sharedStrings" Target="sharedStrings.xml"/></Relationships>',
    )
    types = types.replace(
        b"</Types>",
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    )

    def strings(f) -> None:
        f.write(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" uniqueCount="1"><si><t>')
        block = b"A" * (1 << 20)
        for _ in range(mib):
            f.write(block)
        f.write(b"</t></si></sst>")

    return _rebuild(
        base, {SHEET: sheet, "xl/_rels/workbook.xml.rels": rels, "[Content_Types].xml": types}, {SHARED: strings}
    )


def dimension_bomb() -> bytes:
    base = xlsx_bytes([["email"], ["ana@example.com"]])
    with zipfile.ZipFile(io.BytesIO(base)) as z:
        sheet = z.read(SHEET)
    return _rebuild(base, {SHEET: re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', sheet)})


def far_cell_bomb() -> bytes:
    """No declared size, but a cell in the sheet's last column: openpyxl would pad the row to it."""
    base = xlsx_bytes([["email"], ["ana@example.com"]])
    with zipfile.ZipFile(io.BytesIO(base)) as z:
        sheet = z.read(SHEET)
    sheet = re.sub(rb'<dimension ref="[^"]*"/>', b"", sheet)
    sheet = sheet.replace(b"</row></sheetData>", b'<c r="XFD2" t="inlineStr"><is><t>x</t></is></c></row></sheetData>')
    return _rebuild(base, {SHEET: sheet})


@pytest.fixture(scope="module")
async def process(servers: Servers) -> AsyncIterator[IngestProcess]:
    proc = await ingest_process(servers)
    yield proc
    await stopped(proc.proc)


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


async def _health_while(call: asyncio.Task, process: IngestProcess) -> list[str]:
    """Asks gRPC health and HTTP /healthz, one after the other, until the call ends; every answer."""
    answers = []
    async with clients.channel(process.target) as ch, aiohttp.ClientSession() as web:
        stub = health_pb2_grpc.HealthStub(ch)
        while True:
            reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
            answers.append(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
            async with web.get(f"http://127.0.0.1:{process.http_port}/healthz", timeout=aiohttp.ClientTimeout(5)) as r:
                answers.append(str(r.status))
            if call.done():
                return answers


async def _refusal(api: Api, process: IngestProcess, data: bytes) -> tuple[grpc.aio.AioRpcError, list[str]]:
    source_id = await file_source(api)
    remote = Api(api.account, process.target, process.target, process.target)
    try:
        spec = ingest_pb2.ImportSpec(source_id=source_id, file_name="bomb.xlsx")

        async def call() -> grpc.aio.AioRpcError:
            try:
                async for _ in remote.ingest.ImportLeads(iter(chunks(spec, data, 1 << 20)), timeout=HANG_BOUND_SECONDS):
                    pass
            except grpc.aio.AioRpcError as exc:
                return exc
            raise AssertionError("the bomb was imported")

        task = asyncio.create_task(call())
        health = await _health_while(task, process)
        return await task, health
    finally:
        await remote.close()


@pytest.mark.parametrize(
    ("bomb", "limit"),
    [
        (shared_string_bomb, "LEADRELAY_XLSX_MAX_RATIO"),
        (dimension_bomb, "LEADRELAY_XLSX_MAX_COLUMNS"),
        (far_cell_bomb, "LEADRELAY_XLSX_MAX_COLUMNS"),
    ],
)
async def test_an_xlsx_bomb_is_refused_naming_the_limit_in_bounded_memory_with_health_answering(
    api: Api,
    process: IngestProcess,
    bomb,
    limit: str,
) -> None:
    error, health = await _refusal(api, process, bomb())
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("file: row ") and limit in error.details()
    assert health and set(health) == {"SERVING", "200"}
    assert peak_rss_mb(process.proc.pid) <= RSS_BOUND_MB


def test_a_shared_strings_table_over_its_limit_is_refused_naming_it() -> None:
    data = shared_string_bomb(2)
    limits = XlsxLimits(max_shared_strings_bytes=1 << 20, max_ratio=1 << 20)
    with pytest.raises(CsvError, match="LEADRELAY_XLSX_MAX_SHARED_STRINGS_BYTES"):
        scan(io.BytesIO(data), max_rows=10, budget=Budget(xlsx=limits))


def test_a_file_read_past_its_wall_time_is_refused_naming_the_limit() -> None:
    data = xlsx_bytes([["email"], *[[f"p{i}@example.com"] for i in range(600)]])
    with pytest.raises(CsvError, match=r"longer than 0 s \(LEADRELAY_FILE_MAX_SECONDS\)"):
        scan(io.BytesIO(data), max_rows=1000, budget=Budget(seconds=0))


def test_a_reader_stops_at_once_when_its_call_has_ended() -> None:
    budget = Budget()
    budget.stop.set()
    with pytest.raises(Stopped):
        scan(io.BytesIO(xlsx_bytes([["email"], ["ana@example.com"]])), max_rows=10, budget=budget)
