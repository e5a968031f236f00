"""ValidateNewLeads (the bulk import's path): leads judged before they are stored, then stored once with
their judgement, events, duplicate keys and post-out enqueue, through the real servers."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import asyncpg
import grpc
import pytest

from ingest_service.capture.intake import new_lead_ids
from leadrelay import clients
from leadrelay.auth import internal_metadata
from leadrelay.v1 import common_pb2, ingest_pb2, validation_pb2, validation_pb2_grpc
from tests.harness import Api, new_account, rpc_error
from tests.ingest_service.capture_support import lead, new_source, rule, set_rules
from tests.validation_service.post_out_support import Crm

ACCEPTED = common_pb2.LEAD_STATUS_ACCEPTED
REJECTED = common_pb2.LEAD_STATUS_REJECTED


@pytest.fixture
async def importer(api: Api, servers) -> AsyncIterator[validation_pb2_grpc.ValidationServiceStub]:
    """ValidationService as ingest's importer calls it: the internal token, on the account's behalf."""
    channel = clients.channel(
        servers.validation_target, internal_metadata(servers.settings.internal_token, api.account.account_id)
    )
    yield validation_pb2_grpc.ValidationServiceStub(channel)
    await channel.close()


def new_lead(lead_id: uuid.UUID, source_id: str, plid: str, **fields: str) -> validation_pb2.NewLead:
    answers = [{"name": k, "values": [v]} for k, v in fields.items()]
    return validation_pb2.NewLead(
        lead_id=str(lead_id),
        source_id=source_id,
        platform_lead_id=plid,
        answers_json=json.dumps(answers),
        fields_json=json.dumps(fields),
    )


async def test_each_lead_is_stored_once_already_judged(importer, api: Api, pool: asyncpg.Pool, sandbox) -> None:
    source = await new_source(api)
    await set_rules(api, source.source_id)
    destination = await api.postout.CreateDestination(
        validation_pb2.CreateDestinationRequest(
            source_id=source.source_id,
            name="CRM",
            url=Crm(sandbox.url).url,
            body=[common_pb2.FieldMapping(column="Email", lead_column="email")],
        )
    )
    good, bad = new_lead_ids(2)
    response = await importer.ValidateNewLeads(
        validation_pb2.ValidateNewLeadsRequest(
            via="import 7",
            leads=[
                new_lead(
                    good,
                    source.source_id,
                    "import:7:2",
                    email="Ann@Example.COM",
                    phone="(415) 555-0123",
                    country="usa",
                    job_function="Sales",
                ),
                new_lead(
                    bad, source.source_id, "import:7:3", email="not-an-email", country="Narnia", job_function="Sales"
                ),
            ],
        )
    )
    assert [(o.lead_id, o.platform_lead_id, o.status, o.disposition_code, o.duplicate) for o in response.outcomes] == [
        (str(good), "import:7:2", ACCEPTED, "", False),
        (str(bad), "import:7:3", REJECTED, "REJECT_LEAD_INVALID_EMAIL", False),
    ]
    assert response.outcomes[1].custom_reason.startswith('email: "not-an-email" is not a valid email address')
    assert 'country: "Narnia" is not on the picklist' in response.outcomes[1].custom_reason

    stored = await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=str(good)))
    assert (stored.status, stored.criteria_version, stored.platform_lead_id) == (ACCEPTED, 1, "import:7:2")
    assert dict(stored.fields) == {
        "email": "Ann@example.com",
        "phone": "+14155550123",
        "country": "United States",
        "job_function": "Sales",
    }
    assert [(a.name, list(a.values)) for a in stored.answers] == [
        ("email", ["Ann@Example.COM"]),
        ("phone", ["(415) 555-0123"]),
        ("country", ["usa"]),
        ("job_function", ["Sales"]),
    ]
    # A post-out worker may already have delivered it (then, and only then, a `posted` event follows).
    events = [(e.type, e.detail) for e in stored.events]
    # One event says how it came and the verdict (intake's `received` and `validated` in one).
    assert events[:1] == [("imported", "import 7: ACCEPTED (criteria v1)")]
    assert events[1:] in ([], [("posted", f"destination {destination.destination_id}")])
    assert stored.received_at == stored.captured_at
    rejected = await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=str(bad)))
    assert rejected.status == REJECTED and rejected.custom_reason == response.outcomes[1].custom_reason
    assert [(e.type, e.detail) for e in rejected.events] == [
        ("imported", "import 7: REJECTED REJECT_LEAD_INVALID_EMAIL (criteria v1)"),
    ]
    async with pool.acquire() as con:
        queued = await con.fetch(
            "SELECT lead_id, destination_id::text FROM post_outs WHERE source_id = $1", uuid.UUID(source.source_id)
        )
        processing = await con.fetchval(
            "SELECT count(*) FROM leads WHERE source_id = $1 AND status = 'PROCESSING'", uuid.UUID(source.source_id)
        )
    assert [tuple(r) for r in queued] == [(good, destination.destination_id)]
    assert stored.post_out_status in ("PENDING", "POSTED")  # a post-out worker may have delivered it already
    assert processing == 0


async def test_a_known_platform_lead_id_is_left_as_it_was(importer, api: Api) -> None:
    source = await new_source(api)
    first = await api.ingest.SubmitLead(lead(source.source_id, "p-1", email="first@example.com"))
    (again,) = new_lead_ids(1)
    response = await importer.ValidateNewLeads(
        validation_pb2.ValidateNewLeadsRequest(
            via="import 8", leads=[new_lead(again, source.source_id, "p-1", email="second@example.com")]
        )
    )
    (outcome,) = response.outcomes
    assert (outcome.lead_id, outcome.duplicate, outcome.status) == (
        str(again),
        True,
        common_pb2.LEAD_STATUS_UNSPECIFIED,
    )
    kept = await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=first.lead_id))
    assert kept.fields["email"] == "first@example.com" and [e.type for e in kept.events] == ["received", "validated"]
    err = await rpc_error(api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=str(again))))
    assert err.code() == grpc.StatusCode.NOT_FOUND


async def test_duplicate_rule_spans_the_batch_and_stored_leads_and_remembers_new_keys(importer, api: Api) -> None:
    source = await new_source(api)
    await set_rules(
        api,
        source.source_id,
        [
            rule("email", email=validation_pb2.EmailCheck()),
            rule(duplicate=validation_pb2.Duplicate(window_days=30, columns=["email"])),
        ],
    )
    stored = await api.ingest.SubmitLead(lead(source.source_id, "s-1", email="old@example.com"))
    ids = new_lead_ids(3)
    response = await importer.ValidateNewLeads(
        validation_pb2.ValidateNewLeadsRequest(
            via="import 9",
            leads=[
                new_lead(ids[0], source.source_id, "n-1", email="OLD@example.com"),
                new_lead(ids[1], source.source_id, "n-2", email="new@example.com"),
                new_lead(ids[2], source.source_id, "n-3", email="new@EXAMPLE.com"),
            ],
        )
    )
    assert [(o.status, o.disposition_code) for o in response.outcomes] == [
        (REJECTED, "REJECT_LEAD_DUPLICATE"),
        (ACCEPTED, ""),
        (REJECTED, "REJECT_LEAD_DUPLICATE"),
    ]
    assert f"(lead {stored.lead_id})" in response.outcomes[0].custom_reason
    assert "an earlier row of this batch" in response.outcomes[2].custom_reason or str(ids[1]) in (
        response.outcomes[2].custom_reason
    )
    later = await api.ingest.SubmitLead(lead(source.source_id, "s-2", email="new@example.com"))
    assert (later.status, later.disposition_code) == (REJECTED, "REJECT_LEAD_DUPLICATE")
    assert f"(lead {ids[1]})" in later.custom_reason


async def test_a_switched_off_source_rejects_and_keeps_the_leads(importer, api: Api) -> None:
    source = await new_source(api, "Paused")
    await set_rules(api, source.source_id)
    await api.ingest.UpdateSource(ingest_pb2.UpdateSourceRequest(source_id=source.source_id, enabled=False))
    (lead_id,) = new_lead_ids(1)
    response = await importer.ValidateNewLeads(
        validation_pb2.ValidateNewLeadsRequest(
            via="import 10", leads=[new_lead(lead_id, source.source_id, "x-1", email="a@example.com")]
        )
    )
    (outcome,) = response.outcomes
    assert (outcome.status, outcome.disposition_code, outcome.custom_reason) == (
        REJECTED,
        "REJECT_LEAD_SOURCE_DISABLED",
        "source 'Paused' is switched off",
    )
    stored = await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=str(lead_id)))
    assert stored.status == REJECTED and stored.fields["email"] == "a@example.com"


async def test_bad_requests_name_the_lead_and_store_nothing(importer, api: Api, pool: asyncpg.Pool, servers) -> None:
    source = await new_source(api)
    ids = new_lead_ids(2)
    good = new_lead(ids[0], source.source_id, "b-1", email="a@example.com")
    cases = [
        (
            validation_pb2.NewLead(lead_id=str(ids[1]), source_id=source.source_id, fields_json="[1]"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "leads[1].fields_json",
        ),
        (
            validation_pb2.NewLead(lead_id=str(ids[1]), source_id=source.source_id, fields_json='{"a": 1}'),
            grpc.StatusCode.INVALID_ARGUMENT,
            "leads[1].fields_json",
        ),
        (
            validation_pb2.NewLead(lead_id=str(ids[1]), source_id=source.source_id, answers_json="[{"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "leads[1].answers_json",
        ),
        (
            validation_pb2.NewLead(lead_id="", source_id=source.source_id, fields_json="{}"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "leads[1].lead_id",
        ),
        (
            validation_pb2.NewLead(lead_id="nope", source_id=source.source_id, fields_json="{}"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "leads[1].lead_id",
        ),
    ]
    for bad, code, where in cases:
        err = await rpc_error(
            importer.ValidateNewLeads(validation_pb2.ValidateNewLeadsRequest(via="import 11", leads=[good, bad]))
        )
        assert err.code() == code and where in err.details(), (where, err.details())
    other = Api(await new_account(pool), servers.ingest_target, servers.validation_target, servers.feedback_target)
    try:
        theirs = await new_source(other)
        err = await rpc_error(
            importer.ValidateNewLeads(
                validation_pb2.ValidateNewLeadsRequest(
                    via="import 12", leads=[new_lead(ids[1], theirs.source_id, "b-2", email="a@example.com")]
                )
            )
        )
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED and theirs.source_id in err.details()
    finally:
        await other.close()
    async with pool.acquire() as con:
        assert await con.fetchval("SELECT count(*) FROM leads WHERE lead_id = ANY($1)", ids) == 0
    # No fields at all is a lead with nothing mapped: stored, and judged as such.
    response = await importer.ValidateNewLeads(
        validation_pb2.ValidateNewLeadsRequest(
            via="import 13", leads=[validation_pb2.NewLead(lead_id=str(ids[1]), source_id=source.source_id)]
        )
    )
    assert [(o.status, o.platform_lead_id) for o in response.outcomes] == [(ACCEPTED, str(ids[1]))]
    stored = await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=str(ids[1])))
    assert dict(stored.fields) == {} and list(stored.answers) == []


async def test_an_api_key_cannot_call_validatenewleads_and_nothing_is_stored(api: Api, pool: asyncpg.Pool) -> None:
    source = await new_source(api)
    [lead_id] = new_lead_ids(1)
    err = await rpc_error(
        api.validation.ValidateNewLeads(
            validation_pb2.ValidateNewLeadsRequest(
                via="import 20", leads=[new_lead(lead_id, source.source_id, "k-1", email="a@example.com")]
            )
        )
    )
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED and "internal" in err.details()
    async with pool.acquire() as con:
        assert await con.fetchval("SELECT count(*) FROM leads WHERE lead_id = $1", lead_id) == 0


async def test_answers_that_are_not_a_list_of_answers_are_refused_naming_the_lead(importer, api: Api) -> None:
    source = await new_source(api)
    good, bad = new_lead_ids(2)
    for answers in ('{"email": "a@example.com"}', '[{"name": "email", "values": "a@example.com"}]', '["x"]', "5"):
        err = await rpc_error(
            importer.ValidateNewLeads(
                validation_pb2.ValidateNewLeadsRequest(
                    via="import 21",
                    leads=[
                        new_lead(good, source.source_id, "s-1", email="a@example.com"),
                        validation_pb2.NewLead(
                            lead_id=str(bad), source_id=source.source_id, answers_json=answers, fields_json="{}"
                        ),
                    ],
                )
            )
        )
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "leads[1].answers_json" in err.details(), answers
    listed = await api.ingest.ListLeads(ingest_pb2.ListLeadsRequest(source_id=source.source_id))
    assert list(listed.leads) == []  # nothing stored, and the source still lists


async def test_a_lead_id_already_taken_is_a_clear_error_naming_it(
    importer, api: Api, pool: asyncpg.Pool, servers
) -> None:
    source = await new_source(api)
    other = Api(await new_account(pool), servers.ingest_target, servers.validation_target, servers.feedback_target)
    try:
        theirs = await other.ingest.SubmitLead(lead((await new_source(other)).source_id, "t-1", email="t@example.com"))
    finally:
        await other.close()
    mine = await api.ingest.SubmitLead(lead(source.source_id, "m-1", email="m@example.com"))
    [fresh] = new_lead_ids(1)
    cases = [
        (theirs.lead_id, grpc.StatusCode.PERMISSION_DENIED, theirs.lead_id),
        (mine.lead_id, grpc.StatusCode.INVALID_ARGUMENT, f"leads[1].lead_id: lead {mine.lead_id} already exists"),
    ]
    for taken, code, message in cases:
        err = await rpc_error(
            importer.ValidateNewLeads(
                validation_pb2.ValidateNewLeadsRequest(
                    via="import 22",
                    leads=[
                        new_lead(fresh, source.source_id, "n-1", email="n@example.com"),
                        new_lead(uuid.UUID(taken), source.source_id, "n-2", email="n2@example.com"),
                    ],
                )
            )
        )
        assert err.code() == code and message in err.details(), err.details()
    err = await rpc_error(
        importer.ValidateNewLeads(
            validation_pb2.ValidateNewLeadsRequest(
                via="import 23",
                leads=[
                    new_lead(fresh, source.source_id, "n-1", email="n@example.com"),
                    new_lead(fresh, source.source_id, "n-2", email="n2@example.com"),
                ],
            )
        )
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "leads[1].lead_id: repeats leads[0]" in err.details()
    async with pool.acquire() as con:
        assert await con.fetchval("SELECT count(*) FROM leads WHERE lead_id = $1", fresh) == 0
