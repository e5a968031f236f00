"""Helpers for the file tests (import, re-upload, export): a source with criteria, upload streams,
a separately started ingest process."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from leadrelay import clients
from leadrelay.v1 import common_pb2, ingest_pb2, validation_pb2
from tests.harness import Api
from tests.ports import free_ports
from tests.waiting import eventually

MAPPING = [
    common_pb2.FieldMapping(column="email", form_field="email"),
    common_pb2.FieldMapping(column="phone", form_field="phone"),
    common_pb2.FieldMapping(column="first_name", form_field="first_name"),
    common_pb2.FieldMapping(column="country", form_field="country"),
    common_pb2.FieldMapping(column="lead_source", constant=common_pb2.Constant(string_value="Trade show")),
    common_pb2.FieldMapping(column="notes", unmapped_fields=True),
]
RULES = [
    validation_pb2.Rule(column="email", required=validation_pb2.Required()),
    validation_pb2.Rule(column="email", email=validation_pb2.EmailCheck()),
    validation_pb2.Rule(
        column="country", picklist=validation_pb2.Picklist(allowed=["Germany", "United States"], case_insensitive=True)
    ),
]


async def file_source(api: Api, name: str = "Events", rules=RULES, mapping=MAPPING) -> str:
    source = await api.ingest.CreateSource(ingest_pb2.CreateSourceRequest(name=name, platform=common_pb2.PLATFORM_CSV))
    if mapping:
        await api.ingest.SetDefaultMapping(ingest_pb2.SetMappingRequest(source_id=source.source_id, mappings=mapping))
    if rules:
        await api.validation.SetAcceptanceCriteria(
            validation_pb2.SetAcceptanceCriteriaRequest(source_id=source.source_id, rules=rules)
        )
    return source.source_id


def chunks(spec: ingest_pb2.ImportSpec, data: bytes, size: int = 1000) -> list[ingest_pb2.ImportChunk]:
    return [ingest_pb2.ImportChunk(spec=spec)] + [
        ingest_pb2.ImportChunk(data=data[i : i + size]) for i in range(0, len(data), size)
    ]


async def run(call, spec: ingest_pb2.ImportSpec, data: bytes) -> list[ingest_pb2.ImportProgress]:
    return [p async for p in call(iter(chunks(spec, data)))]


def final(messages: list[ingest_pb2.ImportProgress]) -> tuple[ingest_pb2.ImportProgress, list[tuple]]:
    """The done message and every failed row of the stream as (row, lead_id, column, code, reason)."""
    assert messages[-1].done
    assert all(not m.done for m in messages[:-1])
    failed = [(f.row, f.lead_id, f.column, f.disposition_code, f.reason) for m in messages for f in m.failed_rows]
    return messages[-1], failed


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    import csv

    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def export(api: Api, **request) -> bytes:
    return b"".join([c.data async for c in api.ingest.ExportLeads(ingest_pb2.ExportLeadsRequest(**request))])


@dataclass
class IngestProcess:
    proc: asyncio.subprocess.Process
    target: str
    http_port: int


async def _serving(target: str, proc: asyncio.subprocess.Process) -> bool:
    assert proc.returncode is None, "the ingest process ended"
    try:
        async with clients.channel(target) as ch:
            reply = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=1)
    except grpc.aio.AioRpcError:
        return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


async def ingest_process(servers, lease_seconds: float = 30.0) -> IngestProcess:
    """`python -m ingest_service` on the session's database, calling the session's validation service."""
    grpc_port, http_port = free_ports(2)
    env = {
        **os.environ,
        **servers.settings.as_env(),
        "INGEST_GRPC_PORT": str(grpc_port),
        "INGEST_HTTP_PORT": str(http_port),
        "LEADRELAY_IMPORT_LEASE_SECONDS": str(lease_seconds),
    }
    env.pop("PYTEST_CURRENT_TEST", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ingest_service",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    target = f"127.0.0.1:{grpc_port}"
    try:
        await eventually(lambda: _serving(target, proc), within=60, every=0.2, what="the ingest process serving")
    except BaseException:
        await stopped(proc)
        raise
    return IngestProcess(proc, target, http_port)


async def stopped(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()
        await proc.wait()
