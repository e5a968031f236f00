"""The RPCs the console's set-up pages need: criteria versions with who saved them and why, a draft
of the criteria judged against the source's last leads (nothing written), a test send that shows the
request and the CRM's answer and records nothing, and a destination paused by a person."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import grpc

from leadrelay import clients
from leadrelay.v1 import common_pb2, validation_pb2, validation_pb2_grpc
from tests.harness import Api, rpc_error
from tests.reports_app import seed
from tests.validation_service.crm_support import (
    STATIC_TOKEN,
    VendorOrg,
    person,
    seed_people,
    seed_person_source,
    settled,
)
from tests.waiting import eventually


def _picklist(allowed: list[str], mapper: dict[str, str] | None = None) -> validation_pb2.Rule:
    return validation_pb2.Rule(column="country", picklist=validation_pb2.Picklist(allowed=allowed, mapper=mapper or {}))


async def test_versions_name_who_saved_them_and_why(api: Api, pool: asyncpg.Pool, servers, settings) -> None:
    async with pool.acquire() as con:
        src = await seed.source(con, api.account.account_id, "Fair")
        user_id = await con.fetchval(
            """INSERT INTO report_users (account_id, email, password_hash, role)
               VALUES ($1, $2, 'x', 'admin') RETURNING user_id""",
            api.account.account_id,
            f"crit-{api.account.name}@example.com",
        )
    await api.validation.SetAcceptanceCriteria(
        validation_pb2.SetAcceptanceCriteriaRequest(source_id=str(src), rules=[_picklist(["Germany"])])
    )
    async with clients.channel(servers.validation_target) as ch:
        await validation_pb2_grpc.ValidationServiceStub(ch).SetAcceptanceCriteria(
            validation_pb2.SetAcceptanceCriteriaRequest(
                source_id=str(src), rules=[_picklist(["Germany", "France"])], note="rolled back to version 1"
            ),
            metadata=clients.as_account(settings.internal_token, api.account.account_id, user_id),
        )
    listed = await api.validation.ListCriteriaVersions(
        validation_pb2.ListCriteriaVersionsRequest(source_id=str(src), page_size=1)
    )
    assert [(v.version, v.actor, v.note) for v in listed.versions] == [
        (2, f"user:{user_id}", "rolled back to version 1")
    ]
    assert list(listed.versions[0].rules[0].picklist.allowed) == ["Germany", "France"]
    more = await api.validation.ListCriteriaVersions(
        validation_pb2.ListCriteriaVersionsRequest(source_id=str(src), page_token=listed.next_page_token)
    )
    assert [(v.version, v.actor.startswith("key:")) for v in more.versions] == [(1, True)]
    assert not more.next_page_token


async def test_a_draft_judges_the_last_leads_and_writes_nothing(api: Api, pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    async with pool.acquire() as con:
        src = await seed.source(con, api.account.account_id, "Fair")
        old = await seed.lead(
            con, api.account.account_id, src, now - timedelta(hours=3), fields={"email": "a@x.com", "country": "DE"}
        )
        rejected = await seed.lead(
            con,
            api.account.account_id,
            src,
            now - timedelta(hours=2),
            status="REJECTED",
            code="REJECT_LEAD_INVALID_LIST_VALUE",
            reason='country: "Deutschland" is not on the picklist',
            fields={"email": "b@x.com", "country": "Deutschland"},
        )
        newest = await seed.lead(
            con, api.account.account_id, src, now - timedelta(hours=1), fields={"email": "c@x.com", "country": "FR"}
        )
        before = await con.fetch("SELECT lead_id, status, updated_at FROM leads WHERE source_id = $1", src)
    draft = [_picklist(["DE"], {"Deutschland": "DE"})]
    answer = await api.validation.EvaluateLeads(
        validation_pb2.EvaluateLeadsRequest(source_id=str(src), draft_rules=draft, use_draft_rules=True, last_leads=2)
    )
    assert not answer.outcomes
    got = [(e.lead_id, e.stored_status, e.status, e.disposition_code) for e in answer.leads]
    assert got == [
        (
            str(newest),
            common_pb2.LEAD_STATUS_ACCEPTED,
            common_pb2.LEAD_STATUS_REJECTED,
            "REJECT_LEAD_INVALID_LIST_VALUE",
        ),
        (str(rejected), common_pb2.LEAD_STATUS_REJECTED, common_pb2.LEAD_STATUS_ACCEPTED, ""),
    ]
    assert answer.leads[1].stored_disposition_code == "REJECT_LEAD_INVALID_LIST_VALUE"
    assert str(old) not in {e.lead_id for e in answer.leads}
    async with pool.acquire() as con:
        assert await con.fetch("SELECT lead_id, status, updated_at FROM leads WHERE source_id = $1", src) == before
        assert await con.fetchval("SELECT criteria_version FROM sources WHERE source_id = $1", src) == 0
    bad = await rpc_error(
        api.validation.EvaluateLeads(
            validation_pb2.EvaluateLeadsRequest(
                source_id=str(src), draft_rules=[_picklist(["DE"], {"X": "Y"})], last_leads=2
            )
        )
    )
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad.details() == "draft_rules[0].picklist.mapper['X']: maps to 'Y', which is not an allowed value"


async def test_a_test_send_shows_the_request_and_answer_and_records_nothing(
    api: Api, pool: asyncpg.Pool, sandbox
) -> None:
    source_id = await seed_person_source(pool, api.account.account_id)
    org = VendorOrg(sandbox.url, "hubspot")
    await org.set(static_token=STATIC_TOKEN)
    dest = await api.postout.CreateDestination(
        validation_pb2.CreateDestinationRequest(
            source_id=str(source_id),
            name="HubSpot",
            url=org.base,
            preset="hubspot",
            headers={"Authorization": f"Bearer {STATIC_TOKEN}"},
        )
    )
    sent = await api.postout.SendTestLead(
        validation_pb2.SendTestLeadRequest(
            destination_id=dest.destination_id,
            fields={"email": "Test.Lead@Example.com", "first_name": "Tess", "last_name": "Lead"},
        )
    )
    assert (sent.method, sent.url, sent.status_code, sent.outcome) == (
        "POST",
        f"{org.base}/crm/v3/objects/contacts",
        201,
        "posted",
    )
    assert sent.request_headers["Authorization"] == "Bearer ••••••"
    assert sent.request_headers["Content-Type"] == "application/json"
    assert sent.request_headers["Idempotency-Key"].startswith("lr-test-")
    assert STATIC_TOKEN not in str(sent)
    assert '"email":"test.lead@example.com"' in sent.request_body
    assert sent.record_id and f'"id": "{sent.record_id}"' in sent.response_body.replace('":"', '": "')
    async with pool.acquire() as con:
        assert not await con.fetchval(
            "SELECT count(*) FROM post_outs WHERE destination_id = $1::uuid", dest.destination_id
        )
        assert not await con.fetchval(
            "SELECT count(*) FROM post_out_attempts WHERE destination_id = $1::uuid", dest.destination_id
        )
    refused = await api.postout.SendTestLead(
        validation_pb2.SendTestLeadRequest(destination_id=dest.destination_id, fields={"email": "x@invalid.test"})
    )
    assert (refused.status_code, refused.outcome) == (400, "rejected")
    missing = await rpc_error(
        api.postout.SendTestLead(validation_pb2.SendTestLeadRequest(destination_id=dest.destination_id))
    )
    assert missing.details() == "fields: name a lead_id, or give the test lead's fields"


async def test_a_person_pauses_a_destination_until_resumed(api: Api, pool: asyncpg.Pool, sandbox) -> None:
    source_id = await seed_person_source(pool, api.account.account_id)
    dest = await api.postout.CreateDestination(
        validation_pb2.CreateDestinationRequest(source_id=str(source_id), name="CRM", url=f"{sandbox.url}/crm/p")
    )
    paused = await api.postout.PauseDestination(
        validation_pb2.PauseDestinationRequest(destination_id=dest.destination_id)
    )
    assert (paused.state, paused.paused_reason) == (
        validation_pb2.DESTINATION_STATE_PAUSED,
        "paused by a person in the console",
    )
    resumed = await api.postout.ResumeDestination(
        validation_pb2.ResumeDestinationRequest(destination_id=dest.destination_id)
    )
    assert resumed.state == validation_pb2.DESTINATION_STATE_ACTIVE


async def test_each_attempt_keeps_what_it_sent_for_its_own_lead(api: Api, pool: asyncpg.Pool, sandbox) -> None:
    source_id = await seed_person_source(pool, api.account.account_id)
    org = VendorOrg(sandbox.url, "hubspot")
    await org.set(static_token=STATIC_TOKEN)
    dest = await api.postout.CreateDestination(
        validation_pb2.CreateDestinationRequest(
            source_id=str(source_id),
            name="HubSpot",
            url=org.base,
            preset="hubspot",
            headers={"Authorization": f"Bearer {STATIC_TOKEN}"},
        )
    )
    people = [person(1, "ana.one@example.com"), person(2, "ben.two@example.com")]
    leads = await seed_people(pool, api.account.account_id, source_id, people)
    await eventually(lambda: settled(pool, leads))
    for lead_id, email in zip(leads, ("ana.one@example.com", "ben.two@example.com"), strict=True):
        attempts = await api.postout.ListPostOutAttempts(
            validation_pb2.ListPostOutAttemptsRequest(lead_id=str(lead_id), destination_id=dest.destination_id)
        )
        (attempt,) = attempts.attempts
        assert attempt.outcome == "posted"
        assert attempt.request_excerpt.startswith(f"POST {org.base}/crm/v3/objects/contacts")
        assert email in attempt.request_excerpt
        assert STATIC_TOKEN not in attempt.request_excerpt
    first = (
        await api.postout.ListPostOutAttempts(validation_pb2.ListPostOutAttemptsRequest(lead_id=str(leads[0])))
    ).attempts[0]
    assert "ben.two@example.com" not in first.request_excerpt
