"""Unfinished uploads cannot pin memory: the upload is spooled to disk, an account runs a capped number
of uploads at once, and a stream that goes silent is ended. A private ingest server with a short idle
timeout and a cap of 2, wired to the session's validation service."""

from __future__ import annotations

import asyncio
import os
import stat
import tempfile
from collections.abc import AsyncIterator

import asyncpg
import grpc
import pytest

from ingest_service.app import running as ingest_running
from leadrelay.v1 import ingest_pb2
from tests.conftest import Servers
from tests.harness import Account, Api, new_account
from tests.ingest_service.file_support import csv_bytes, file_source, final, run
from tests.waiting import eventually

# Long enough that a loaded machine finishes the cap checks before silent uploads time out.
IDLE_SECONDS = 15.0
CAP = 2
TOTAL = 3  # the process's cap, all accounts
SENT = 3 << 20  # what each silent stream sends before going quiet


@pytest.fixture(scope="module")
async def limited(servers: Servers, pool: asyncpg.Pool) -> AsyncIterator[str]:
    settings = servers.settings.replace(upload_idle_seconds=IDLE_SECONDS, uploads_per_account=CAP, uploads_max=TOTAL)
    async with ingest_running(settings, pool, grpc_port=0, http_port=0) as ingest:
        yield f"127.0.0.1:{ingest.grpc_port}"


@pytest.fixture
async def lapi(account: Account, limited: str, servers: Servers) -> AsyncIterator[Api]:
    client = Api(account, limited, servers.validation_target, servers.feedback_target)
    yield client
    await client.close()


async def _silent_upload(spec: ingest_pb2.ImportSpec, stop: asyncio.Event) -> AsyncIterator[ingest_pb2.ImportChunk]:
    yield ingest_pb2.ImportChunk(spec=spec)
    for _ in range(SENT >> 20):
        yield ingest_pb2.ImportChunk(data=b"email\r\n" + b"x" * ((1 << 20) - 7))
    await stop.wait()


async def _spec_then_silence(spec: ingest_pb2.ImportSpec, stop: asyncio.Event) -> AsyncIterator[ingest_pb2.ImportChunk]:
    """An upload the server should refuse at once: no data in flight while it answers, so the refusal
    reaches the client as the server's own status even on a loaded machine."""
    yield ingest_pb2.ImportChunk(spec=spec)
    await stop.wait()


def _spools_on_disk() -> int:
    """Unlinked temporary files of this process (the test servers run in it) holding a silent upload."""
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        path = f"/proc/self/fd/{fd}"
        try:
            target = os.readlink(path)
            st = os.stat(path)
        except OSError:
            continue
        if target.startswith(tempfile.gettempdir()) and stat.S_ISREG(st.st_mode) and st.st_size >= SENT:
            n += 1
    return n


async def _error(call) -> grpc.aio.AioRpcError:
    try:
        async for _ in call:
            pass
    except grpc.aio.AioRpcError as exc:
        return exc
    raise AssertionError("the upload succeeded but was expected to fail")


async def test_silent_uploads_are_spooled_on_disk_and_those_beyond_the_caps_are_refused(
    lapi: Api, limited: str, servers: Servers, pool: asyncpg.Pool
) -> None:
    source_id = await file_source(lapi)
    spec = ingest_pb2.ImportSpec(source_id=source_id)
    other = Api(await new_account(pool), limited, servers.validation_target, servers.feedback_target)
    theirs = await file_source(other)
    stop = asyncio.Event()
    before = _spools_on_disk()
    silent = [lapi.ingest.ImportLeads(_silent_upload(spec, stop)) for _ in range(CAP)]
    try:
        # What they sent is in files on disk, not in the server's memory.
        await eventually(lambda: _at_least(before + CAP), what="the silent uploads spooled on disk")
        refused = await _error(lapi.ingest.ImportLeads(_spec_then_silence(spec, stop)))
        assert refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "LEADRELAY_UPLOADS_PER_ACCOUNT" in refused.details() and f"{CAP} uploads" in refused.details()
        # The cap is per account: another account imports meanwhile.
        file = csv_bytes([["email"], ["bo@example.com"]])
        done, _ = final(await run(other.ingest.ImportLeads, ingest_pb2.ImportSpec(source_id=theirs), file))
        assert done.rows_accepted == 1
        assert not any(call.done() for call in silent)
        # ... up to the process's cap, for all accounts together.
        held = other.ingest.ImportLeads(_silent_upload(ingest_pb2.ImportSpec(source_id=theirs), stop))
        await eventually(lambda: _at_least(before + TOTAL), what="a third silent upload spooled")
        beyond = await _error(
            other.ingest.ImportLeads(_spec_then_silence(ingest_pb2.ImportSpec(source_id=theirs), stop))
        )
        held.cancel()
        assert beyond.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "LEADRELAY_UPLOADS_MAX" in beyond.details() and f"{TOTAL} uploads" in beyond.details()
    finally:
        for call in silent:
            call.cancel()
        stop.set()
        await other.close()
    # The server closes the cancelled uploads' spools, and frees their slots with them.
    await eventually(lambda: _at_most(before), what="the cancelled uploads' spools closed")


async def test_a_silent_upload_is_ended_after_the_idle_timeout_and_frees_its_slot(lapi: Api) -> None:
    source_id = await file_source(lapi)
    spec = ingest_pb2.ImportSpec(source_id=source_id)
    stop = asyncio.Event()
    try:
        errors = await asyncio.gather(
            *(_error(lapi.ingest.ImportLeads(_silent_upload(spec, stop))) for _ in range(CAP))
        )
    finally:
        stop.set()
    for exc in errors:
        assert exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert "LEADRELAY_UPLOAD_IDLE_SECONDS" in exc.details()
    # Both slots are free again: a whole file imports.
    done, _ = final(await run(lapi.ingest.ImportLeads, spec, csv_bytes([["email"], ["ana@example.com"]])))
    assert (done.rows_read, done.rows_accepted) == (1, 1)


async def _at_least(n: int) -> bool:
    return _spools_on_disk() >= n


async def _at_most(n: int) -> bool:
    return _spools_on_disk() <= n
