"""The whole path: SubmitLead -> ACCEPTED -> delivered to the sandbox CRM -> POSTED in GetLead."""

from __future__ import annotations

from leadrelay.v1 import common_pb2, ingest_pb2, validation_pb2
from tests.harness import Api
from tests.validation_service.post_out_support import Crm
from tests.waiting import eventually


async def test_submitted_lead_is_accepted_delivered_and_shows_posted(api: Api, sandbox) -> None:
    source = await api.ingest.CreateSource(ingest_pb2.CreateSourceRequest(name="Web", platform=common_pb2.PLATFORM_API))
    crm = Crm(sandbox.url)
    await api.postout.CreateDestination(
        validation_pb2.CreateDestinationRequest(
            source_id=source.source_id,
            name="CRM",
            url=crm.url,
            body_format=validation_pb2.BODY_FORMAT_FORM,
            body=[
                common_pb2.FieldMapping(column="lead_id", lead_column="lead_id"),
                common_pb2.FieldMapping(column="Email", lead_column="email"),
                common_pb2.FieldMapping(column="Origin", constant=common_pb2.Constant(string_value="LeadRelay")),
            ],
            success=validation_pb2.SuccessCriteria(record_id_json_path="$.id"),
        )
    )
    outcome = await api.ingest.SubmitLead(
        ingest_pb2.SubmitLeadRequest(
            source_id=source.source_id,
            platform_lead_id="web-1",
            answers=[common_pb2.Answer(name="email", values=["zoe@example.com"])],
        )
    )
    assert outcome.status == common_pb2.LEAD_STATUS_ACCEPTED

    async def posted() -> common_pb2.Lead | None:
        lead = await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=outcome.lead_id))
        return lead if lead.post_out_status == "POSTED" else None

    lead = await eventually(posted, what="GetLead shows POSTED")
    assert "posted" in [e.type for e in lead.events]
    [record] = (await crm.stats())["records"]
    assert record["body"] == {"lead_id": outcome.lead_id, "Email": "zoe@example.com", "Origin": "LeadRelay"}
    assert record["content_type"] == "application/x-www-form-urlencoded"
    [post_out] = (await api.postout.ListPostOuts(validation_pb2.ListPostOutsRequest(lead_id=outcome.lead_id))).post_outs
    assert (post_out.status, post_out.record_id) == (validation_pb2.POST_OUT_STATUS_POSTED, record["id"])
