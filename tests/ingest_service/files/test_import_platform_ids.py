"""Rows carrying a platform's lead id (a Facebook download's `l:` ids) take the bulk path: the ids the
source already holds are those leads, reported already known with their current status (by the dry
run too), and the rest are stored already judged, once, with their identity and one `imported` event."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from leadrelay.v1 import common_pb2, ingest_pb2, validation_pb2
from tests.harness import Api
from tests.ingest_service.file_support import csv_bytes, file_source, final, run

MAPPING = [common_pb2.FieldMapping(column=c, form_field=c) for c in ("email", "country")] + [
    common_pb2.FieldMapping(column="notes", unmapped_fields=True)
]
RULES = [validation_pb2.Rule(column="country", picklist=validation_pb2.Picklist(allowed=["Germany"]))]
HEADER = ["id", "created_time", "form_id", "email", "country"]


async def _source_with_known_leads(api: Api) -> tuple[str, str, str]:
    """A source holding platform leads 111 (accepted) and 222 (rejected), as the API delivered them;
    and its form 998877, switched off. Returns (source id, lead id of 111, lead id of 222)."""
    source_id = await file_source(api, rules=RULES, mapping=MAPPING)
    await api.ingest.UpsertForm(
        ingest_pb2.UpsertFormRequest(source_id=source_id, platform_form_id="998877", name="Spring", enabled=False)
    )
    known = await api.ingest.SubmitLeads(
        ingest_pb2.SubmitLeadsRequest(
            leads=[
                ingest_pb2.SubmitLeadRequest(
                    source_id=source_id,
                    platform_lead_id=plid,
                    answers=[
                        common_pb2.Answer(name="email", values=[f"{plid}@example.com"]),
                        common_pb2.Answer(name="country", values=[country]),
                    ],
                )
                for plid, country in (("111", "Germany"), ("222", "Narnia"))
            ]
        )
    )
    assert [o.status for o in known.outcomes] == [common_pb2.LEAD_STATUS_ACCEPTED, common_pb2.LEAD_STATUS_REJECTED]
    return source_id, known.outcomes[0].lead_id, known.outcomes[1].lead_id


FILE = [
    HEADER,
    ["l:111", "2026-08-01T10:00:00+0000", "", "changed@example.com", "Narnia"],  # known, accepted
    ["l:222", "2026-08-01T10:01:00+0000", "", "222@example.com", "Germany"],  # known, rejected
    ["l:333", "2026-08-01T10:02:00+0000", "", "new@example.com", "Germany"],  # new
    ["l:333", "2026-08-01T10:02:00+0000", "", "new@example.com", "Germany"],  # the same lead again
    ["l:444", "2026-08-01T10:03:00+0000", "f:998877", "off@example.com", "Germany"],  # its form is off
]


async def _lead_count(pool: asyncpg.Pool, source_id: str) -> int:
    async with pool.acquire() as con:
        return await con.fetchval("SELECT count(*) FROM leads WHERE source_id = $1", UUID(source_id))


async def test_a_dry_run_reports_the_known_leads_with_their_status_and_stores_nothing(
    api: Api, pool: asyncpg.Pool
) -> None:
    source_id, _accepted, rejected = await _source_with_known_leads(api)
    spec = ingest_pb2.ImportSpec(source_id=source_id, dry_run=True)
    done, failed = final(await run(api.ingest.ImportLeads, spec, csv_bytes(FILE)))
    # 111 and 222 are the stored leads, with their own outcome (not the file's values judged); the
    # dry run judges the other rows' fields.
    assert (done.rows_read, done.rows_known, done.rows_accepted, done.rows_rejected) == (5, 2, 4, 1)
    assert [(f[0], f[1], f[3]) for f in failed] == [(3, rejected, "REJECT_LEAD_INVALID_LIST_VALUE")]
    assert await _lead_count(pool, source_id) == 2


async def test_an_import_with_platform_ids_meets_the_known_leads_and_stores_each_new_one_once(
    api: Api, pool: asyncpg.Pool
) -> None:
    source_id, accepted, rejected = await _source_with_known_leads(api)
    done, failed = final(await run(api.ingest.ImportLeads, ingest_pb2.ImportSpec(source_id=source_id), csv_bytes(FILE)))
    # Known: 111, 222, and the second 333 (the first one's lead).
    assert (done.rows_read, done.rows_known, done.rows_accepted, done.rows_rejected) == (5, 3, 3, 2)
    assert [(f[0], f[1], f[3]) for f in failed][:1] == [(3, rejected, "REJECT_LEAD_INVALID_LIST_VALUE")]
    [off] = failed[1:]
    assert (off[0], off[3], off[4]) == (6, "REJECT_LEAD_SOURCE_DISABLED", "form '998877' is switched off")
    listed = await api.ingest.ListLeads(ingest_pb2.ListLeadsRequest(source_id=source_id, page_size=10))
    by_plid = {lead.platform_lead_id: lead for lead in listed.leads}
    assert sorted(by_plid) == ["111", "222", "333", "444"] and len(listed.leads) == 4
    assert by_plid["111"].lead_id == accepted and by_plid["111"].fields["email"] == "111@example.com"
    new = await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=by_plid["333"].lead_id))
    assert new.status == common_pb2.LEAD_STATUS_ACCEPTED
    assert new.captured_at.ToJsonString() == "2026-08-01T10:02:00Z"
    assert [(e.type, e.detail) for e in new.events][:1] == [
        ("imported", f"import {done.import_id}: ACCEPTED (criteria v1)")
    ]
    off_lead = await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=by_plid["444"].lead_id))
    assert off_lead.form_id and dict(off_lead.platform_context) == {"form_id": "998877"}
    # The same file again: every row is a lead the source holds.
    again, _ = final(
        await run(
            api.ingest.ImportLeads, ingest_pb2.ImportSpec(source_id=source_id, file_name="again.csv"), csv_bytes(FILE)
        )
    )
    assert (again.rows_known, again.rows_accepted, again.rows_rejected) == (5, 3, 2)
    assert await _lead_count(pool, source_id) == 4
