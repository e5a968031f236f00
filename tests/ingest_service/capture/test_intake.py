"""SubmitLead(s) end to end through the real ingest and validation servers and PostgreSQL."""

from __future__ import annotations

import asyncio

import grpc

from leadrelay.v1 import common_pb2, ingest_pb2
from tests.harness import rpc_error
from tests.ingest_service.capture_support import lead, new_source, set_rules

ACCEPTED = common_pb2.LEAD_STATUS_ACCEPTED
REJECTED = common_pb2.LEAD_STATUS_REJECTED
PROCESSING = common_pb2.LEAD_STATUS_PROCESSING


async def test_accepts_a_good_lead_storing_normalised_fields_and_the_audit_trail(api):
    source = await new_source(api)
    await set_rules(api, source.source_id)
    outcome = await api.ingest.SubmitLead(
        lead(
            source.source_id,
            "p-1",
            email="Ann@EXAMPLE.com",
            phone_number="(415) 555-0123",
            country="usa",
            job_function="Engineering",
            city="Berlin",
        )
    )
    assert outcome.status == ACCEPTED
    assert (outcome.disposition_code, outcome.custom_reason, outcome.duplicate) == ("", "", False)
    got = await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=outcome.lead_id))
    assert dict(got.fields) == {
        "email": "Ann@example.com",
        "phone": "+14155550123",
        "country": "United States",
        "job_function": "Engineering",
        "lead_source": "LinkedIn Ads",
        "notes": "city: Berlin",
    }
    assert [(a.name, list(a.values)) for a in got.answers] == [
        ("email", ["Ann@EXAMPLE.com"]),
        ("phone_number", ["(415) 555-0123"]),
        ("country", ["usa"]),
        ("job_function", ["Engineering"]),
        ("city", ["Berlin"]),
    ]
    assert got.status == ACCEPTED and got.criteria_version == 1 and got.platform_lead_id == "p-1"
    assert [(e.type, e.detail) for e in got.events] == [
        ("received", "SubmitLead"),
        ("validated", "ACCEPTED (criteria v1)"),
    ]


async def test_rejects_with_first_failing_code_and_a_reason_naming_every_column(api):
    source = await new_source(api)
    await set_rules(api, source.source_id)
    outcome = await api.ingest.SubmitLead(
        lead(
            source.source_id,
            "p-2",
            email="not-an-email",
            phone_number="12",
            country="Narnia",
            job_function="Ingeniería",
        )
    )
    assert outcome.status == REJECTED
    assert outcome.disposition_code == "REJECT_LEAD_INVALID_EMAIL"
    reason = outcome.custom_reason
    assert 'email: "not-an-email" is not a valid email address' in reason
    assert 'phone: "12" is not a valid phone number' in reason
    assert 'country: "Narnia" is not on the picklist' in reason
    assert 'job_function: "Ingeniería" is not on the picklist' in reason
    stored = await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=outcome.lead_id))
    assert (stored.status, stored.disposition_code, stored.custom_reason) == (
        REJECTED,
        outcome.disposition_code,
        reason,
    )


async def test_a_repeat_platform_lead_id_returns_the_first_outcome_and_changes_nothing(api):
    source = await new_source(api)
    await set_rules(api, source.source_id)
    first = await api.ingest.SubmitLead(lead(source.source_id, "same", email="a@example.com"))
    again = await api.ingest.SubmitLead(lead(source.source_id, "same", email="other@example.com"))
    assert again.duplicate and not first.duplicate
    assert (again.lead_id, again.status) == (first.lead_id, first.status)
    got = await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=first.lead_id))
    assert got.fields["email"] == "a@example.com"
    assert [e.type for e in got.events] == ["received", "validated"]


async def test_submit_leads_keeps_order_and_marks_repeats_within_the_batch(api):
    source = await new_source(api)
    await set_rules(api, source.source_id)
    response = await api.ingest.SubmitLeads(
        ingest_pb2.SubmitLeadsRequest(
            leads=[
                lead(source.source_id, "b-1", email="one@example.com"),
                lead(source.source_id, "b-2", email="bad"),
                lead(source.source_id, "b-1", email="one@example.com"),
            ]
        )
    )
    got = [(o.platform_lead_id, o.status, o.duplicate) for o in response.outcomes]
    assert got == [("b-1", ACCEPTED, False), ("b-2", REJECTED, False), ("b-1", ACCEPTED, True)]
    assert response.outcomes[0].lead_id == response.outcomes[2].lead_id


async def test_concurrent_single_submissions_are_each_answered(api):
    source = await new_source(api)
    await set_rules(api, source.source_id)
    outcomes = await asyncio.gather(
        *(api.ingest.SubmitLead(lead(source.source_id, f"c-{i}", email=f"c{i}@example.com")) for i in range(40))
    )
    assert [o.platform_lead_id for o in outcomes] == [f"c-{i}" for i in range(40)]
    assert {o.status for o in outcomes} == {ACCEPTED}
    assert len({o.lead_id for o in outcomes}) == 40


async def test_a_lead_without_platform_id_gets_its_lead_id_as_one(api):
    source = await new_source(api)
    outcome = await api.ingest.SubmitLead(lead(source.source_id, "", email="x@example.com"))
    assert outcome.platform_lead_id == outcome.lead_id
    assert outcome.status == ACCEPTED  # no criteria: everything is accepted


async def test_bad_input_names_the_index_and_field(api):
    source = await new_source(api)
    err = await rpc_error(
        api.ingest.SubmitLeads(
            ingest_pb2.SubmitLeadsRequest(
                leads=[
                    lead(source.source_id, "ok", email="a@example.com"),
                    ingest_pb2.SubmitLeadRequest(
                        source_id=source.source_id, answers=[common_pb2.Answer(name="", values=["x"])]
                    ),
                ]
            )
        )
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details().startswith("leads[1].answers[0].name:")
    err = await rpc_error(api.ingest.SubmitLead(ingest_pb2.SubmitLeadRequest(source_id=source.source_id)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and err.details().startswith("answers:")
    too_many = [lead(source.source_id, f"n{i}", email="a@example.com") for i in range(1001)]
    err = await rpc_error(api.ingest.SubmitLeads(ingest_pb2.SubmitLeadsRequest(leads=too_many)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and err.details().startswith("leads:")


async def test_unknown_source_and_form_are_not_found_naming_the_id(api):
    missing = "00000000-0000-4000-8000-000000000001"
    err = await rpc_error(api.ingest.SubmitLead(lead(missing, "x", email="a@example.com")))
    assert err.code() == grpc.StatusCode.NOT_FOUND and missing in err.details()
    source = await new_source(api)
    err = await rpc_error(api.ingest.SubmitLead(lead(source.source_id, "x", form_id="no-such-form", email="a@b.co")))
    assert err.code() == grpc.StatusCode.NOT_FOUND and "no-such-form" in err.details()
    listed = await api.ingest.ListLeads(ingest_pb2.ListLeadsRequest(source_id=source.source_id))
    assert list(listed.leads) == []


async def test_another_accounts_source_and_lead_are_permission_denied(api, pool, servers):
    from tests.harness import Api, new_account

    other_account = await new_account(pool)
    other = Api(other_account, servers.ingest_target, servers.validation_target, servers.feedback_target)
    try:
        theirs = await new_source(other)
        their_lead = await other.ingest.SubmitLead(lead(theirs.source_id, "t", email="t@example.com"))
        for call in (
            api.ingest.SubmitLead(lead(theirs.source_id, "mine", email="a@example.com")),
            api.ingest.GetSource(ingest_pb2.GetSourceRequest(source_id=theirs.source_id)),
            api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=their_lead.lead_id)),
        ):
            err = await rpc_error(call)
            assert err.code() == grpc.StatusCode.PERMISSION_DENIED
        err = await rpc_error(api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=their_lead.lead_id)))
        assert their_lead.lead_id in err.details()
    finally:
        await other.close()
