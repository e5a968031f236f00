"""What a LinkedIn member does to a response after submitting it: deleting it erases the lead's
personal data (a privacy request); submitting it again with other answers (a test form resent the same
day keeps its response id) updates the lead."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from ingest_service.connectors import connections_store, pollers
from leadrelay.v1 import ingest_pb2, validation_pb2
from tests.ingest_service.connector_support import inbox_rows, judged, leads_of, linkedin_source, post
from tests.validation_service.post_out_support import Crm, insert_destination
from tests.waiting import eventually


def _hook(servers) -> str:
    return f"{servers.settings.public_base_url}/webhooks/linkedin"


def _ts(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def _text(question_id: int, answer: str) -> dict:
    return {"questionId": question_id, "answerDetails": {"textQuestionAnswer": {"answer": answer}}}


async def _counts(api, source_id: str):
    since = datetime.now(UTC) - timedelta(hours=1)
    counts = await api.ingest.GetSourceCounts(
        ingest_pb2.GetSourceCountsRequest(source_id=source_id, since=_ts(since), until=_ts(datetime.now(UTC)))
    )
    return counts.received, counts.accepted, counts.rejected, counts.processing


async def test_a_deleted_response_erases_the_leads_personal_data_and_keeps_counts_and_trail(
    web, api, servers, sandbox, pool
):
    li = await linkedin_source(api, sandbox, web, webhook_url=_hook(servers))
    duplicate = validation_pb2.Duplicate(window_days=30, columns=["email"])
    await api.validation.SetAcceptanceCriteria(
        validation_pb2.SetAcceptanceCriteriaRequest(
            source_id=li.source_id, rules=[validation_pb2.Rule(column="email", duplicate=duplicate)]
        )
    )
    crm = Crm(sandbox.url)  # refuses every lead, quoting it, as a CRM answering "already exists" does
    await crm.set(reject_rate=1.0, reject_reason="kev.johnson@example.com already exists")
    await insert_destination(pool, api.account.account_id, UUID(li.source_id), crm.url)
    base = int(li.form["id"]) * 100
    answers = [_text(base + 1, "Kev"), _text(base + 2, "Johnson"), _text(base + 3, "kev.johnson@example.com")]
    [response_id] = (
        await post(web, f"{sandbox.url}/linkedin/_control/leads", {"form_id": str(li.form["id"]), "answers": answers})
    )["ids"]
    [row] = await judged(pool, li.source_id, 1)
    lead_id = str(row["lead_id"])
    await eventually(lambda: _refused_by_crm(api, lead_id))
    before = await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=lead_id))
    [refused] = [e for e in before.events if e.type == "post_rejected"]
    assert "kev.johnson@example.com" in refused.detail
    assert before.fields["email"] == "kev.johnson@example.com"
    counts = await _counts(api, li.source_id)
    assert await _keys(pool, lead_id) == 1  # the duplicate rule remembers the email
    # ForgetLeads leaves a lead that is not erased alone.
    kept = await api.validation.ForgetLeads(validation_pb2.ForgetLeadsRequest(lead_ids=[lead_id]))
    assert (kept.leads_forgotten, await _keys(pool, lead_id)) == (0, 1)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await api.validation.ForgetLeads(validation_pb2.ForgetLeadsRequest(lead_ids=[lead_id] * 1001))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "lead_ids" in refused.value.details()

    async with web.delete(f"{sandbox.url}/linkedin/_control/leads/{response_id}?notify=true") as reply:
        assert reply.status == 200

    async def deleted_done():
        rows = await inbox_rows(pool, "LINKEDIN", li.account_id)
        return [r for r in rows if ":DELETED" in r["dedupe_key"] and r["status"] != "PENDING"]

    [deleted] = await eventually(deleted_done)
    assert (deleted["status"], deleted["reason"]) == (
        "DONE",
        f"the member deleted response {response_id} on LinkedIn; 1 lead(s) erased",
    )
    after = await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=lead_id))
    assert list(after.answers) == []
    assert dict(after.fields) == dict.fromkeys(before.fields, "")  # the columns stay, empty
    assert after.custom_reason == ""
    assert (after.status, after.disposition_code) == (before.status, before.disposition_code)
    assert [e.type for e in after.events] == [*(e.type for e in before.events), "erased"]
    assert "member deleted the response" in after.events[-1].detail
    assert [(e.type, e.detail) for e in after.events if e.type == "post_rejected"] == [("post_rejected", "")]
    assert [e.detail for e in after.events if e.type == "received"] == ["webhook"]
    assert await _counts(api, li.source_id) == counts
    exported = b"".join(
        [c.data async for c in api.ingest.ExportLeads(ingest_pb2.ExportLeadsRequest(source_id=li.source_id))]
    )
    assert b"kev.johnson@example.com" not in exported and b"Johnson" not in exported
    assert response_id.encode() in exported  # the row is still there, anonymous
    assert await _keys(pool, lead_id) == 0  # validation forgot the email too
    async with pool.acquire() as con:
        kept = await con.fetch(
            """SELECT a.outcome, a.status_code, a.reason, a.response_excerpt, p.status, p.last_error
                 FROM post_out_attempts a JOIN post_outs p USING (lead_id, destination_id)
                WHERE a.lead_id = $1::uuid""",
            lead_id,
        )
    assert [tuple(r) for r in kept] == [("rejected", 200, "", "", "REJECTED_BY_DESTINATION", "")]


async def _refused_by_crm(api, lead_id: str):
    lead = await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=lead_id))
    return lead if any(e.type == "post_rejected" for e in lead.events) else None


async def _keys(pool, lead_id: str) -> int:
    async with pool.acquire() as con:
        return await con.fetchval("SELECT count(*) FROM lead_keys WHERE lead_id = $1::uuid", lead_id)


async def test_a_resubmitted_response_with_other_answers_updates_the_lead(web, api, servers, sandbox, pool):
    li = await linkedin_source(api, sandbox, web, webhook_url=_hook(servers))
    base = int(li.form["id"]) * 100
    first = [_text(base + 1, "Ann"), _text(base + 3, "ann@example.com")]
    [response_id] = (
        await post(
            web,
            f"{sandbox.url}/linkedin/_control/leads",
            {"form_id": str(li.form["id"]), "answers": first, "test_lead": True, "consent": True},
        )
    )["ids"]
    [lead] = await judged(pool, li.source_id, 1)
    assert lead["fields"]["email"] == "ann@example.com"

    second = [_text(base + 1, "Ann"), _text(base + 3, "ann.b@example.com")]
    await post(
        web,
        f"{sandbox.url}/linkedin/_control/leads",
        {
            "form_id": str(li.form["id"]),
            "answers": second,
            "test_lead": True,
            "consent": True,
            "response_id": response_id,
        },
    )

    async def updated():
        rows = await leads_of(pool, li.source_id)
        return rows if rows[0]["fields"]["email"] == "ann.b@example.com" and rows[0]["status"] != "PROCESSING" else []

    [again] = await eventually(updated)
    assert again["lead_id"] == lead["lead_id"]  # the same lead, not a second one
    got = await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=str(lead["lead_id"])))
    assert [e.type for e in got.events] == ["received", "validated", "updated", "validated"]
    assert got.events[2].detail == "webhook: resubmitted with changed answers; mapped and judged again"
    rows = await eventually(lambda: _settled(pool, li.account_id, 2))
    assert [r["status"] for r in rows] == ["DONE", "DONE"]

    # The same answers again (a redelivery, a poll overlap) change nothing.
    await post(
        web,
        f"{sandbox.url}/linkedin/_control/leads",
        {
            "form_id": str(li.form["id"]),
            "answers": second,
            "test_lead": True,
            "consent": True,
            "response_id": response_id,
        },
    )
    await eventually(lambda: _settled(pool, li.account_id, 3))
    got = await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=str(lead["lead_id"])))
    assert [e.type for e in got.events] == ["received", "validated", "updated", "validated"]


async def _settled(pool, account_id, count):
    rows = await inbox_rows(pool, "LINKEDIN", account_id)
    return rows if len(rows) == count and all(r["status"] != "PENDING" for r in rows) else []


async def test_a_resubmission_found_by_the_poll_updates_the_lead_too(web, api, servers, sandbox, pool):
    li = await linkedin_source(api, sandbox, web)
    base = int(li.form["id"]) * 100
    leads_url = f"{sandbox.url}/linkedin/_control/leads"
    first = {"form_id": str(li.form["id"]), "answers": [_text(base + 3, "cy@example.com")], "notify": False}
    [response_id] = (await post(web, leads_url, {**first, "consent": False}))["ids"]
    async with pool.acquire() as con:
        connection = await connections_store.connection(con, UUID(li.source_id))
    assert await pollers.poll_source(servers.ingest.deps, connection) == 1
    [lead] = await judged(pool, li.source_id, 1)
    await post(
        web,
        leads_url,
        {**first, "answers": [_text(base + 3, "cy@example.org")], "consent": False, "response_id": response_id},
    )
    await pollers.poll_source(servers.ingest.deps, connection)
    [again] = await judged(pool, li.source_id, 1)
    assert (again["lead_id"], again["fields"]["email"]) == (lead["lead_id"], "cy@example.org")
    got = await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=str(lead["lead_id"])))
    assert [(e.type, e.detail.split(":")[0]) for e in got.events][2] == ("updated", "poll")
