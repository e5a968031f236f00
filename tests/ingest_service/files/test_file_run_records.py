"""What the console's Upload leads and Import leads pages read back: each run names who started it
(the console's user, an API key), a re-upload of one source's leads is that source's and lists the
leads it changed, and a stream's first message gives the file's row count and each file column's
match."""

from __future__ import annotations

import csv
import io
import uuid

import asyncpg

from leadrelay import clients
from leadrelay.v1 import common_pb2, ingest_pb2, ingest_pb2_grpc
from tests.harness import Api
from tests.ingest_service.file_support import chunks, csv_bytes, export, file_source, final, run

ROWS = [
    ["email", "first_name", "country"],
    ["ana@example.com", "Ana", "Germany"],
    ["bo-at-example.com", "Bo", "Germany"],
    ["cy@example.com", "Cy", "Narnia"],
]


async def test_a_reupload_records_who_its_source_and_its_leads(api: Api, pool: asyncpg.Pool, servers) -> None:
    source_id = await file_source(api)
    done, _ = final(await run(api.ingest.ImportLeads, ingest_pb2.ImportSpec(source_id=source_id), csv_bytes(ROWS)))
    assert (done.rows_accepted, done.rows_rejected) == (1, 2)
    imported = (await api.ingest.ListImports(ingest_pb2.ListImportsRequest())).imports
    assert [(i.kind, i.actor) for i in imported] == [("import", f"key:{api.account.api_key.split('_')[1]}")]

    data = await export(api, source_id=source_id, status=common_pb2.LEAD_STATUS_REJECTED)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    header = rows[0]
    bo = next(r for r in rows[1:] if r[header.index("first_name")] == "Bo")
    bo[header.index("email")] = "bo@example.com"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows([header, bo])

    user_id = uuid.uuid4()
    meta = clients.as_account(servers.settings.internal_token, api.account.account_id, actor_user_id=user_id)
    async with clients.channel(servers.ingest_target) as ch:
        stub = ingest_pb2_grpc.IngestServiceStub(ch)
        messages = [
            m
            async for m in stub.ReuploadLeads(
                iter(chunks(ingest_pb2.ImportSpec(file_name="fixed.csv"), buffer.getvalue().encode())), metadata=meta
            )
        ]
        assert messages[0].rows_total == 1
        done, _ = final(messages)
        assert (done.rows_updated, done.rows_accepted) == (1, 1)
        info = await stub.GetImport(ingest_pb2.GetImportRequest(import_id=done.import_id), metadata=meta)
    assert (info.kind, info.actor, info.source_id, info.file_name) == (
        "reupload",
        f"user:{user_id}",
        source_id,
        "fixed.csv",
    )
    assert info.status == ingest_pb2.IMPORT_STATUS_FINISHED and info.rows_accepted == 1
    async with pool.acquire() as con:
        listed = await con.fetch(
            "SELECT lead_id::text, file_row FROM reupload_leads WHERE import_id = $1::uuid", done.import_id
        )
    assert [(r["lead_id"], r["file_row"]) for r in listed] == [(bo[0], 2)]


async def test_an_imports_first_message_gives_its_rows_and_each_columns_match(api: Api) -> None:
    source_id = await file_source(api)
    rows = [["E-mail", "Given name", "country", "Badge"], ["a@example.com", "Ana", "Germany", "17"]]
    messages = await run(
        api.ingest.ImportLeads, ingest_pb2.ImportSpec(source_id=source_id, dry_run=True), csv_bytes(rows)
    )
    first = messages[0]
    assert first.rows_total == 1
    assert [(c.column, c.header, c.use) for c in first.columns_matched] == [
        ("A", "E-mail", "email"),
        ("B", "Given name", "first_name"),
        ("C", "country", "country"),
    ]
    assert [(c.column, c.header, c.use) for c in first.columns_outside] == [("D", "Badge", "catch_all")]
