"""A crash or a cancel during ImportLeads, then the retry: every row stored once and posted once.

The import is found again by the id the client chose (spec.import_id) or by the same file and spec;
its lead ids are the same, so the retry stores only the rows the first call did not. Posting goes to
a sandbox CRM tenant, which counts records per lead."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from uuid import UUID

import asyncpg
import grpc
import pytest

from leadrelay.v1 import ingest_pb2, validation_pb2
from tests.conftest import Servers
from tests.harness import Api, new_account, rpc_error
from tests.ingest_service.file_support import chunks, csv_bytes, file_source, final, ingest_process, run, stopped
from tests.validation_service.post_out_support import Crm, insert_destination
from tests.waiting import eventually

ROWS = 60_000  # six batches: a call stopped after the first leaves rows unread
ACCEPT_EVERY = 50  # 2% accepted: few enough posts to wait for

RULES = [
    validation_pb2.Rule(column="email", required=validation_pb2.Required()),
    validation_pb2.Rule(column="country", picklist=validation_pb2.Picklist(allowed=["Germany"])),
]


def big_file(n: int = ROWS) -> bytes:
    rows = [["E-mail", "Country"]]
    rows += [[f"p{i}@example.com", "Germany" if i % ACCEPT_EVERY == 0 else "Narnia"] for i in range(n)]
    return csv_bytes(rows)


def accepted_rows() -> int:
    return len(range(0, ROWS, ACCEPT_EVERY))


def upload(spec: ingest_pb2.ImportSpec, data: bytes) -> Iterator[ingest_pb2.ImportChunk]:
    return iter(chunks(spec, data, size=1 << 20))


async def stored(pool: asyncpg.Pool, source_id: str) -> tuple[int, int]:
    """(leads of the source, distinct platform lead ids among them)."""
    async with pool.acquire() as con:
        row = await con.fetchrow(
            "SELECT count(*) AS n, count(DISTINCT platform_lead_id) AS d FROM leads WHERE source_id = $1",
            UUID(source_id),
        )
    return row["n"], row["d"]


async def status(api: Api, import_id: str) -> int:
    return (await api.ingest.GetImport(ingest_pb2.GetImportRequest(import_id=import_id))).status


async def crm_source(api: Api, pool: asyncpg.Pool, sandbox) -> tuple[str, Crm]:
    source_id = await file_source(api, rules=RULES)
    crm = Crm(sandbox.url)
    await insert_destination(pool, api.account.account_id, UUID(source_id), crm.url)
    return source_id, crm


async def posted_once(crm: Crm) -> None:
    async def all_created() -> dict:
        stats = await crm.stats()
        return stats if stats["created"] >= accepted_rows() else {}

    stats = await eventually(all_created, within=120, what="every accepted lead posted")
    assert stats["created"] == accepted_rows() and stats["leads"] == accepted_rows()
    assert stats["doubled"] == []


async def test_a_cancelled_import_resumed_with_its_id_stores_and_posts_every_row_once(
    api: Api, pool: asyncpg.Pool, sandbox
) -> None:
    source_id, crm = await crm_source(api, pool, sandbox)
    data = big_file()
    spec = ingest_pb2.ImportSpec(source_id=source_id, file_name="fair.csv", import_id=str(uuid.uuid4()))
    call = api.ingest.ImportLeads(upload(spec, data))
    seen = 0
    async for message in call:
        assert message.import_id == spec.import_id
        seen += 1
        if seen == 2:  # the first batch is stored: stop the client here
            call.cancel()
            break
    await eventually(
        lambda: _is(api, spec.import_id, ingest_pb2.IMPORT_STATUS_INTERRUPTED), what="the import marked interrupted"
    )
    listed = await api.ingest.ListImports(ingest_pb2.ListImportsRequest(status=ingest_pb2.IMPORT_STATUS_INTERRUPTED))
    assert [i.import_id for i in listed.imports] == [spec.import_id]
    assert listed.imports[0].file_name == "fair.csv" and listed.imports[0].rows_read >= 10_000
    first, _ = await stored(pool, source_id)
    assert 0 < first < ROWS

    done, failed = final(await run(api.ingest.ImportLeads, spec, data))
    assert done.import_id == spec.import_id and done.resumed
    assert (done.rows_read, done.rows_accepted, done.rows_rejected) == (ROWS, accepted_rows(), ROWS - accepted_rows())
    assert done.rows_already_stored >= first
    assert len(failed) == ROWS - accepted_rows()
    assert await stored(pool, source_id) == (ROWS, ROWS)
    assert await status(api, spec.import_id) == ingest_pb2.IMPORT_STATUS_FINISHED
    await posted_once(crm)


async def _is(api: Api, import_id: str, wanted: int) -> bool:
    return await status(api, import_id) == wanted


async def test_ingest_killed_mid_import_then_the_same_file_again_stores_and_posts_every_row_once(
    api: Api, pool: asyncpg.Pool, servers: Servers, sandbox
) -> None:
    source_id, crm = await crm_source(api, pool, sandbox)
    data = big_file()
    spec = ingest_pb2.ImportSpec(source_id=source_id, file_name="fair.csv")  # no id: the file finds its import
    first = await ingest_process(servers, lease_seconds=1.0)
    try:
        killed = Api(api.account, first.target, servers.validation_target, servers.feedback_target)
        call = killed.ingest.ImportLeads(upload(spec, data))
        import_id = (await call.read()).import_id
        await eventually(lambda: _some_stored(pool, source_id), what="the first rows stored")
        first.proc.kill()  # SIGKILL: no cleanup, chunks may still be in flight in the validation service
        await first.proc.wait()
        error = await rpc_error(call.read())
        assert error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, grpc.StatusCode.INTERNAL)
        await killed.close()
    finally:
        await stopped(first.proc)
    assert (await stored(pool, source_id))[0] < ROWS

    # The lapsed lease shows the import interrupted; the client sends the same file again.
    await eventually(lambda: _is(api, import_id, ingest_pb2.IMPORT_STATUS_INTERRUPTED), what="the lease lapsed")
    second = await ingest_process(servers, lease_seconds=1.0)
    try:
        retry = Api(api.account, second.target, servers.validation_target, servers.feedback_target)
        done, _ = final([m async for m in retry.ingest.ImportLeads(upload(spec, data))])
        await retry.close()
    finally:
        await stopped(second.proc)
    assert done.import_id == import_id and done.resumed and done.rows_already_stored > 0
    assert (done.rows_read, done.rows_accepted, done.rows_rejected) == (ROWS, accepted_rows(), ROWS - accepted_rows())
    assert await stored(pool, source_id) == (ROWS, ROWS)
    await posted_once(crm)


async def _some_stored(pool: asyncpg.Pool, source_id: str) -> bool:
    return (await stored(pool, source_id))[0] > 0


async def test_the_same_file_sent_again_replays_the_finished_import(api: Api, pool: asyncpg.Pool) -> None:
    source_id = await file_source(api)
    data = csv_bytes([["email", "country"], ["ana@example.com", "Germany"], ["bo@example.com", "Narnia"]])
    spec = ingest_pb2.ImportSpec(source_id=source_id)
    done, _ = final(await run(api.ingest.ImportLeads, spec, data))
    again, failed = final(await run(api.ingest.ImportLeads, spec, data))
    assert again.import_id == done.import_id and again.resumed and again.rows_already_stored == 2
    assert (again.rows_accepted, again.rows_rejected) == (1, 1)
    assert [(f[0], f[3]) for f in failed] == [(3, "REJECT_LEAD_INVALID_LIST_VALUE")]
    assert await stored(pool, source_id) == (2, 2)
    # Another spec (here: the file name does not count, a column mapping does) is another import.
    other = ingest_pb2.ImportSpec(
        source_id=source_id, columns=[ingest_pb2.ColumnMapping(header="country", column="")], file_name="x.csv"
    )
    third, _ = final(await run(api.ingest.ImportLeads, other, data))
    assert third.import_id != done.import_id and not third.resumed


async def test_an_import_id_sent_with_another_file_is_refused_naming_the_field(api: Api) -> None:
    source_id = await file_source(api)
    spec = ingest_pb2.ImportSpec(source_id=source_id, import_id=str(uuid.uuid4()))
    final(await run(api.ingest.ImportLeads, spec, csv_bytes([["email"], ["ana@example.com"]])))
    error = await rpc_error(run(api.ingest.ImportLeads, spec, csv_bytes([["email"], ["bo@example.com"]])))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("spec.import_id: ") and "another file or spec" in error.details()
    # A new id for a file already imported names the import to resume instead.
    fresh = ingest_pb2.ImportSpec(source_id=source_id, import_id=str(uuid.uuid4()))
    clash = await rpc_error(run(api.ingest.ImportLeads, fresh, csv_bytes([["email"], ["ana@example.com"]])))
    assert clash.code() == grpc.StatusCode.ALREADY_EXISTS and spec.import_id in clash.details()


async def test_an_interrupted_import_can_be_abandoned_and_the_file_then_starts_a_new_import(
    api: Api, pool: asyncpg.Pool, other_api: Api
) -> None:
    source_id = await file_source(api, rules=RULES)
    data = big_file(15_000)
    spec = ingest_pb2.ImportSpec(source_id=source_id)
    call = api.ingest.ImportLeads(upload(spec, data))
    import_id = (await call.read()).import_id
    call.cancel()
    await eventually(lambda: _is(api, import_id, ingest_pb2.IMPORT_STATUS_INTERRUPTED), what="interrupted")

    theirs = await rpc_error(other_api.ingest.AbandonImport(ingest_pb2.AbandonImportRequest(import_id=import_id)))
    assert theirs.code() == grpc.StatusCode.PERMISSION_DENIED
    info = await api.ingest.AbandonImport(ingest_pb2.AbandonImportRequest(import_id=import_id))
    assert info.status == ingest_pb2.IMPORT_STATUS_ABANDONED
    again = await rpc_error(api.ingest.AbandonImport(ingest_pb2.AbandonImportRequest(import_id=import_id)))
    assert again.code() == grpc.StatusCode.FAILED_PRECONDITION and "abandoned" in again.details()
    resumed = ingest_pb2.ImportSpec(source_id=source_id, import_id=import_id)
    refused = await rpc_error(run(api.ingest.ImportLeads, resumed, data))
    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION and "was abandoned" in refused.details()

    done, _ = final(await run(api.ingest.ImportLeads, spec, data))
    assert done.import_id != import_id and not done.resumed and done.rows_read == 15_000


@pytest.fixture
async def other_api(servers: Servers, pool: asyncpg.Pool) -> AsyncIterator[Api]:
    client = Api(await new_account(pool), servers.ingest_target, servers.validation_target, servers.feedback_target)
    yield client
    await client.close()
