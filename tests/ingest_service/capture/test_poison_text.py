"""One NUL (or lone surrogate) in a lead, on every capture path, against the real servers and the
sandbox: the lead is stored with U+FFFD and judged, and nothing else it travels with fails."""

from __future__ import annotations

import asyncio
from uuid import UUID

from ingest_service.connectors import connections_store, pollers
from leadrelay.v1 import common_pb2, ingest_pb2
from tests.ingest_service.capture_support import lead, new_source
from tests.ingest_service.connector_support import answers_of, facebook_source, judged, leads_of, post
from tests.ingest_service.file_support import csv_bytes, file_source, final, run

ACCEPTED = common_pb2.LEAD_STATUS_ACCEPTED


async def test_a_nul_in_one_answer_of_a_submitleads_batch_fails_none_of_its_four_leads(api, pool):
    source = await new_source(api)
    batch = [lead(source.source_id, f"b-{i}", email=f"b{i}@example.com", city="Berlin") for i in range(3)]
    batch.insert(1, lead(source.source_id, "b-nul\x00", email="nul@example.com", city="Ber\x00lin"))
    reply = await api.ingest.SubmitLeads(ingest_pb2.SubmitLeadsRequest(leads=batch))
    assert [(o.platform_lead_id, o.status) for o in reply.outcomes] == [
        ("b-0", ACCEPTED),
        ("b-nul\ufffd", ACCEPTED),
        ("b-1", ACCEPTED),
        ("b-2", ACCEPTED),
    ]
    rows = {r["platform_lead_id"]: r for r in await leads_of(pool, source.source_id)}
    assert sorted(rows) == ["b-0", "b-1", "b-2", "b-nul\ufffd"]
    assert answers_of(rows["b-nul\ufffd"])["city"] == ["Ber\ufffdlin"]
    assert rows["b-nul\ufffd"]["fields"]["notes"] == "city: Ber\ufffdlin"
    got = await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=reply.outcomes[1].lead_id))
    assert got.status == ACCEPTED and [e.type for e in got.events] == ["received", "validated"]


async def test_a_nul_in_one_coalesced_submitlead_fails_none_of_the_innocent_callers(api, pool):
    source = await new_source(api)
    calls = [lead(source.source_id, f"c-{i}", email=f"c{i}@example.com") for i in range(14)]
    calls.insert(7, lead(source.source_id, "c-nul", email="c\x00@example.com", context="x\x00"))
    outcomes = await asyncio.gather(*(api.ingest.SubmitLead(c) for c in calls))
    assert [o.status for o in outcomes] == [ACCEPTED] * 15
    assert sorted(o.platform_lead_id for o in outcomes) == sorted(["c-nul", *(f"c-{i}" for i in range(14))])
    rows = {r["platform_lead_id"]: r for r in await leads_of(pool, source.source_id)}
    assert len(rows) == 15 and answers_of(rows["c-nul"])["email"] == ["c\ufffd@example.com"]


async def test_a_webhook_lead_with_a_nul_in_an_answer_is_stored_and_judged(web, api, servers, sandbox, pool):
    fb = await facebook_source(api, sandbox, web, webhook_url=f"{servers.settings.public_base_url}/webhooks/facebook")
    field_data = [{"name": "email", "values": ["w@example.com"]}, {"name": "city", "values": ["Ber\x00lin"]}]
    ids = (
        await post(web, f"{sandbox.url}/graph/_control/leads", {"form_id": fb.form_ids[0], "field_data": field_data})
    )["ids"]
    [row] = await judged(pool, fb.source_id, 1)
    assert row["platform_lead_id"] == ids[0] and row["status"] == "ACCEPTED"
    assert answers_of(row)["city"] == ["Ber\ufffdlin"] and answers_of(row)["email"] == ["w@example.com"]


async def test_a_poll_page_with_one_poisoned_lead_stores_all_22(web, api, servers, sandbox, pool):
    fb = await facebook_source(api, sandbox, web)  # no webhook: the pull is the only way in
    form_id = fb.form_ids[0]
    good = (
        await post(web, f"{sandbox.url}/graph/_control/leads", {"form_id": form_id, "count": 11, "deliver": False})
    )["ids"]
    poisoned = (
        await post(
            web,
            f"{sandbox.url}/graph/_control/leads",
            {
                "form_id": form_id,
                "deliver": False,
                "field_data": [{"name": "email", "values": ["p@example.com"]}, {"name": "note", "values": ["\x00"]}],
            },
        )
    )["ids"]
    good += (
        await post(web, f"{sandbox.url}/graph/_control/leads", {"form_id": form_id, "count": 10, "deliver": False})
    )["ids"]
    async with pool.acquire() as con:
        connection = await connections_store.connection(con, UUID(fb.source_id))
    assert await pollers.poll_source(servers.ingest.deps, connection) == 22  # one page of up to 100
    rows = {r["platform_lead_id"]: r for r in await judged(pool, fb.source_id, 22)}
    assert sorted(rows) == sorted(good + poisoned)
    assert answers_of(rows[poisoned[0]])["note"] == ["\ufffd"]


async def test_an_import_with_a_nul_in_one_cell_stores_every_row(api):
    source_id = await file_source(api)
    rows = [["email", "first_name", "country"]]
    rows += [[f"r{i}@example.com", "Ann" if i != 3 else "A\x00nn", "Germany"] for i in range(6)]
    messages = await run(
        api.ingest.ImportLeads, ingest_pb2.ImportSpec(source_id=source_id, file_name="nul.csv"), csv_bytes(rows)
    )
    done, failed = final(messages)
    assert (done.rows_read, done.rows_accepted, done.rows_rejected, done.rows_errored, failed) == (6, 6, 0, 0, [])
    listed = await api.ingest.ListLeads(ingest_pb2.ListLeadsRequest(source_id=source_id))
    names = sorted(lead.fields["first_name"] for lead in listed.leads)
    assert names == sorted(["A\ufffdnn"] + ["Ann"] * 5)
