"""CRM presets end to end: CreateDestination from a preset, the validation server's workers posting
to the sandbox's strict vendor stand-ins over real HTTP, outcomes read as each vendor means them."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest

from leadrelay.v1 import validation_pb2
from tests.harness import Api
from tests.validation_service.crm_support import (
    VendorOrg,
    person,
    post_outs,
    seed_people,
    seed_person_source,
    settled,
)
from tests.waiting import eventually

INVALID = "nobody@invalid.test"
# The vendor's own words for a refused email (sandbox/crm_vendors.py answers as each vendor does).
REFUSAL = {
    "hubspot": "Email address nobody@invalid.test is invalid",
    "salesforce": "invalid email address",
    "marketo": "Value for field 'email' invalid",
    "zoho": "invalid data",
    "pipedrive": "Invalid email",
    "dynamics": "Invalid e-mail address",
}


async def create(api: Api, source_id: Any, org: VendorOrg, preset: str, **kw: Any) -> Any:
    """A destination from the preset, authenticated the way the vendor wants."""
    request: dict[str, Any] = dict(source_id=str(source_id), name=preset, url=org.base, preset=preset, timeout_ms=3000)
    if preset == "hubspot":
        await org.set(static_token="pat-na1-secret")
        request["headers"] = {"Authorization": "Bearer pat-na1-secret"}
    elif preset.startswith("pipedrive"):
        await org.set(static_token="pd-secret-token")
        request["url"] = f"{org.base}?api_token=pd-secret-token"
    else:
        grant = "refresh_token" if preset == "zoho" else "client_credentials"
        oauth = validation_pb2.OAuth(grant_type=grant, client_id="client-id", client_secret="client-secret")
        if preset == "zoho":
            oauth.refresh_token = "refresh-token"
            oauth.token_url = f"{org.base}/oauth/v2/token"
        if preset == "dynamics":
            oauth.token_url = f"{org.base}/oauth2/v2.0/token"
            oauth.scope = "https://org.crm.dynamics.com/.default"
        request["oauth"] = oauth
    request.update(kw)
    return await api.postout.CreateDestination(validation_pb2.CreateDestinationRequest(**request))


def vendor_id(stats: dict[str, Any], email: str) -> str:
    [found] = [k for k, r in stats["records"].items() if email.lower() in str(r).lower()]
    return found


@pytest.mark.parametrize("preset", ["hubspot", "salesforce", "marketo", "zoho", "pipedrive", "dynamics"])
async def test_each_preset_posts_to_its_vendor_with_record_ids_and_reads_a_record_refusal(
    api: Api, pool: asyncpg.Pool, sandbox, preset: str
) -> None:
    org = VendorOrg(sandbox.url, preset)
    source_id = await seed_person_source(pool, api.account.account_id)
    await create(api, source_id, org, preset)
    people = [person(1), person(2), person(3, INVALID), person(4)]
    leads = await seed_people(pool, api.account.account_id, source_id, people)
    rows = await eventually(lambda: settled(pool, leads), what=f"{preset} deliveries settled")
    stats = (await org.stats()) | {}
    assert [r["status"] for r in rows] == ["POSTED", "POSTED", "REJECTED_BY_DESTINATION", "POSTED"]
    assert REFUSAL[preset] in rows[2]["last_error"]
    assert stats["created"] == 3 and stats["doubled"] == []
    full = await org._call("GET")
    for row, p in zip(rows, people, strict=True):
        if row["status"] == "POSTED":
            assert row["record_id"] and row["record_id"].endswith(vendor_id(full, p["email"]))


async def test_marketo_gets_its_leads_as_one_call_with_each_record_judged(
    api: Api, pool: asyncpg.Pool, sandbox
) -> None:
    org = VendorOrg(sandbox.url, "marketo")
    source_id = await seed_person_source(pool, api.account.account_id)
    created = await create(api, source_id, org, "marketo")
    assert created.batch_size == 300
    people = [person(i) for i in range(9)] + [person(9, INVALID)]
    leads = await seed_people(pool, api.account.account_id, source_id, people)
    rows = await eventually(lambda: settled(pool, leads), what="marketo batch settled")
    assert [r["status"] for r in rows] == ["POSTED"] * 9 + ["REJECTED_BY_DESTINATION"]
    assert rows[9]["last_error"] == f"Value for field 'email' invalid: {INVALID}"
    stats = await org.stats()
    assert sum(stats["records_per_call"]) == 10 and len(stats["records_per_call"]) < 10
    assert (stats["created"], stats["tokens_issued"]) == (9, 1)
    records = (await org._call("GET"))["records"]
    assert records[rows[0]["record_id"]]["email"] == people[0]["email"].lower()
    assert records[rows[0]["record_id"]]["firstName"] == "Ana0"


@pytest.mark.parametrize("preset", ["salesforce", "zoho"])
async def test_salesforce_and_zoho_batch_endpoints_take_the_leads_in_one_call(
    api: Api, pool: asyncpg.Pool, sandbox, preset: str
) -> None:
    org = VendorOrg(sandbox.url, preset)
    source_id = await seed_person_source(pool, api.account.account_id)
    await create(api, source_id, org, preset)
    people = [person(i) for i in range(6)] + [person(6, INVALID)]
    leads = await seed_people(pool, api.account.account_id, source_id, people)
    rows = await eventually(lambda: settled(pool, leads), what=f"{preset} batch settled")
    assert [r["status"] for r in rows] == ["POSTED"] * 6 + ["REJECTED_BY_DESTINATION"]
    assert REFUSAL[preset] in rows[6]["last_error"]
    assert len({r["record_id"] for r in rows[:6]}) == 6
    stats = await org.stats()
    # Leads claimed together go in one call (workers claiming at the same moment may split them).
    assert sum(stats["records_per_call"]) == 7 and len(stats["records_per_call"]) < 7
    assert stats["created"] == 6


async def test_a_whole_batch_failure_retries_every_lead_and_posts_each_once(
    api: Api, pool: asyncpg.Pool, sandbox
) -> None:
    org = VendorOrg(sandbox.url, "marketo")
    await org.set(fail_rate=1)  # every call: 200 {"success": false, "errors": [{"code": "611"}]}
    source_id = await seed_person_source(pool, api.account.account_id)
    await create(api, source_id, org, "marketo")
    leads = await seed_people(pool, api.account.account_id, source_id, [person(i) for i in range(5)])

    async def all_retrying() -> bool:
        return all(r["status"] == "RETRYING" for r in await post_outs(pool, leads))

    await eventually(all_retrying, what="the failed batch waiting to retry")
    await org.set(fail_rate=0)
    rows = await eventually(lambda: settled(pool, leads), what="retried batch settled")
    assert [r["status"] for r in rows] == ["POSTED"] * 5 and all(r["attempts"] >= 2 for r in rows)
    async with pool.acquire() as con:
        first = await con.fetch(
            "SELECT outcome, reason FROM post_out_attempts WHERE lead_id = ANY($1::uuid[]) AND attempt = 1", leads
        )
    assert [(a["outcome"], a["reason"]) for a in first] == [("retry", "error 611: System error")] * 5
    stats = await org.stats()
    assert (stats["created"], stats["doubled"]) == (5, [])


async def test_marketo_success_false_is_never_posted(api: Api, pool: asyncpg.Pool, sandbox) -> None:
    org = VendorOrg(sandbox.url, "marketo")
    source_id = await seed_person_source(pool, api.account.account_id)
    template = '{"action": "createEverything", "lookupField": "email", "input": [{"email": "{{email}}"}]}'
    await create(api, source_id, org, "marketo", body_template=template)
    [lead] = await seed_people(pool, api.account.account_id, source_id, [person(1)])
    [row] = await eventually(lambda: settled(pool, [lead]), what="marketo answer judged")
    assert (row["status"], row["last_error"]) == (
        "REJECTED_BY_DESTINATION",
        "error 1003: Invalid action 'createEverything'",
    )


async def test_an_expired_marketo_token_is_renewed_and_the_delivery_succeeds(
    api: Api, pool: asyncpg.Pool, sandbox
) -> None:
    org = VendorOrg(sandbox.url, "marketo")
    source_id = await seed_person_source(pool, api.account.account_id)
    await create(api, source_id, org, "marketo")
    first = await seed_people(pool, api.account.account_id, source_id, [person(1)])
    await eventually(lambda: settled(pool, first), what="first lead posted")
    await org.set(expire_tokens=True)  # the session ends between two leads: Marketo answers 602
    second = await seed_people(pool, api.account.account_id, source_id, [person(2)])
    [row] = await eventually(lambda: settled(pool, second), what="second lead posted")
    assert (row["status"], row["attempts"]) == ("POSTED", 1)
    stats = await org.stats()
    assert (stats["tokens_issued"], stats["created"]) == (2, 2)


@pytest.mark.parametrize("preset", ["salesforce", "dynamics", "zoho"])
async def test_a_401_renews_the_token_once_then_posts(api: Api, pool: asyncpg.Pool, sandbox, preset: str) -> None:
    org = VendorOrg(sandbox.url, preset)
    source_id = await seed_person_source(pool, api.account.account_id)
    await create(api, source_id, org, preset, batch_size=1)
    await org.set(sequence=["expire"])
    [lead] = await seed_people(pool, api.account.account_id, source_id, [person(1)])
    [row] = await eventually(lambda: settled(pool, [lead]), what="posted after renewal")
    assert (row["status"], row["attempts"]) == ("POSTED", 1)
    assert (await org.stats())["tokens_issued"] == 2


async def test_a_token_that_cannot_be_renewed_pauses_the_destination_until_new_credentials(
    api: Api, pool: asyncpg.Pool, sandbox
) -> None:
    org = VendorOrg(sandbox.url, "zoho")
    await org.set(credentials={"refresh_token": "rotated-by-the-admin"})
    source_id = await seed_person_source(pool, api.account.account_id)
    created = await create(api, source_id, org, "zoho")
    leads = await seed_people(pool, api.account.account_id, source_id, [person(1), person(2)])

    async def paused() -> Any:
        listed = await api.postout.ListDestinations(validation_pb2.ListDestinationsRequest(source_id=str(source_id)))
        d = listed.destinations[0]
        return d if d.state == validation_pb2.DESTINATION_STATE_PAUSED else None

    destination = await eventually(paused, what="destination paused")
    assert destination.paused_reason == "token endpoint refused the credentials: HTTP 200: invalid_code"
    assert {r["status"] for r in await post_outs(pool, leads)} <= {"PENDING", "RETRYING"}
    assert (await org.stats())["calls"] == 0
    await api.postout.UpdateDestination(
        validation_pb2.UpdateDestinationRequest(
            destination_id=created.destination_id,
            set_oauth=True,
            oauth=validation_pb2.OAuth(
                grant_type="refresh_token",
                token_url=f"{org.base}/oauth/v2/token",
                client_id="client-id",
                client_secret="client-secret",
                refresh_token="rotated-by-the-admin",
                auth_scheme="Zoho-oauthtoken",
            ),
        )
    )
    rows = await eventually(lambda: settled(pool, leads), what="posted after new credentials")
    assert [r["status"] for r in rows] == ["POSTED", "POSTED"]


@pytest.mark.parametrize(("choice", "expected"), [("update", "POSTED"), ("reject", "REJECTED_BY_DESTINATION")])
async def test_hubspot_existing_contact_reads_as_the_user_chooses(
    api: Api, pool: asyncpg.Pool, sandbox, choice: str, expected: str
) -> None:
    org = VendorOrg(sandbox.url, "hubspot")
    source_id = await seed_person_source(pool, api.account.account_id)
    await create(api, source_id, org, "hubspot", preset_options={"existing_contact": choice})
    same = person(1)
    first = await seed_people(pool, api.account.account_id, source_id, [same])
    await eventually(lambda: settled(pool, first), what="first contact created")
    again = await seed_people(pool, api.account.account_id, source_id, [same])
    [row] = await eventually(lambda: settled(pool, again), what="existing contact judged")
    assert row["status"] == expected
    if expected != "POSTED":
        assert row["last_error"].startswith("Contact already exists. Existing ID: ")
    assert (await org.stats())["created"] == 1


async def test_a_crm_refusing_a_newly_issued_token_pauses_the_destination_without_failing_leads(
    api: Api, pool: asyncpg.Pool, sandbox
) -> None:
    org = VendorOrg(sandbox.url, "dynamics")
    source_id = await seed_person_source(pool, api.account.account_id)
    created = await create(api, source_id, org, "dynamics")
    await org.set(sequence=["expire", "expire"])  # the renewed token is refused too
    [lead] = await seed_people(pool, api.account.account_id, source_id, [person(1)])

    async def paused() -> Any:
        listed = await api.postout.ListDestinations(validation_pb2.ListDestinationsRequest(source_id=str(source_id)))
        d = listed.destinations[0]
        return d if d.state == validation_pb2.DESTINATION_STATE_PAUSED else None

    destination = await eventually(paused, what="destination paused")
    assert destination.paused_reason == "the CRM refused a newly issued access token (HTTP 401)"
    [row] = await post_outs(pool, [lead])
    assert row["status"] == "RETRYING"
    await api.postout.ResumeDestination(validation_pb2.ResumeDestinationRequest(destination_id=created.destination_id))
    [row] = await eventually(lambda: settled(pool, [lead]), what="posted after resume")
    assert row["status"] == "POSTED"


async def test_hubspot_with_oauth_renews_an_expired_token_and_posts(api: Api, pool: asyncpg.Pool, sandbox) -> None:
    org = VendorOrg(sandbox.url, "hubspot")
    source_id = await seed_person_source(pool, api.account.account_id)
    oauth = validation_pb2.OAuth(
        grant_type="refresh_token",
        token_url=f"{org.base}/oauth/v1/token",
        client_id="client-id",
        client_secret="client-secret",
        refresh_token="refresh-token",
    )
    request = validation_pb2.CreateDestinationRequest(
        source_id=str(source_id), name="HubSpot", url=org.base, preset="hubspot", oauth=oauth
    )
    await api.postout.CreateDestination(request)
    await org.set(sequence=["expire"])  # 401 EXPIRED_AUTHENTICATION on the first call
    leads = await seed_people(pool, api.account.account_id, source_id, [person(1), person(2)])
    rows = await eventually(lambda: settled(pool, leads), what="posted after renewal")
    assert [(r["status"], r["attempts"]) for r in rows] == [("POSTED", 1), ("POSTED", 1)]
    stats = await org.stats()
    assert (stats["tokens_issued"], stats["created"]) == (2, 2)


async def test_a_batched_lead_keeps_its_own_attempt_with_its_record_sent_and_answered(
    api: Api, pool: asyncpg.Pool, sandbox
) -> None:
    """What a batch records for each lead (issue 18 made it cheaper, not smaller): its attempt with
    its own record of the call as sent and its own result as answered (compact JSON, as read), its
    audit event, its delivery and its summary."""
    org = VendorOrg(sandbox.url, "hubspot")
    source_id = await seed_person_source(pool, api.account.account_id)
    created = await create(api, source_id, org, "hubspot")
    assert created.batch_size == 100
    people = [person(i) for i in range(3)]
    leads = await seed_people(pool, api.account.account_id, source_id, people)
    rows = await eventually(lambda: settled(pool, leads), what="hubspot batch settled")
    assert [r["status"] for r in rows] == ["POSTED"] * 3
    url = f"{org.base}/crm/v3/objects/contacts/batch/create"
    heads = {f"POST {url}\n\n"} | {f"POST {url}\n\n(this lead's record of the {n} sent)\n" for n in (2, 3)}
    async with pool.acquire() as con:
        for lead, p, row in zip(leads, people, rows, strict=True):
            [attempt] = await con.fetch(
                "SELECT attempt, outcome, status_code, request_excerpt, response_excerpt FROM post_out_attempts "
                "WHERE lead_id = $1",
                lead,
            )
            assert (attempt["attempt"], attempt["outcome"], attempt["status_code"]) == (1, "posted", 201)
            props = {
                "email": p["email"].lower(),
                "firstname": p["first_name"],
                "lastname": p["last_name"],
                "phone": p["phone"],
                "company": "Ñandú SA",
                "jobtitle": "CTO",
            }
            record = "{" + '"properties":{' + ",".join(f'"{k}":"{v}"' for k, v in props.items()) + "}}"
            head, _, sent = attempt["request_excerpt"].rpartition("\n")
            assert (head + "\n" in heads, sent) == (True, record)
            answer = json.loads(attempt["response_excerpt"])
            assert (answer["id"], answer["objectWriteTraceId"], answer["properties"]["company"]) == (
                row["record_id"],
                row["idempotency_key"],
                "Ñandú SA",
            )
            assert attempt["response_excerpt"] == json.dumps(answer, ensure_ascii=False, separators=(",", ":"))
            events = await con.fetch(
                "SELECT type, detail FROM lead_events WHERE lead_id = $1 AND type = 'posted'", lead
            )
            assert [(e["type"], e["detail"]) for e in events] == [
                ("posted", f"destination {created.destination_id}, record {row['record_id']}")
            ]
            assert await con.fetchval("SELECT post_out_status FROM leads WHERE lead_id = $1", lead) == "POSTED"


async def test_a_leads_summary_counts_its_other_destinations_deliveries(api: Api, pool: asyncpg.Pool, sandbox) -> None:
    """A batch's recording computes each lead's summary with the lead's deliveries to other
    destinations: in flight elsewhere shows first, posted once every destination has it."""
    good, failing = VendorOrg(sandbox.url, "hubspot"), VendorOrg(sandbox.url, "hubspot")
    source_id = await seed_person_source(pool, api.account.account_id)
    first = await create(api, source_id, good, "hubspot")
    await create(api, source_id, failing, "hubspot")
    await failing.set(fail_rate=1)  # every call: 502
    leads = await seed_people(pool, api.account.account_id, source_id, [person(i) for i in range(3)])

    async def split() -> list[str] | None:
        async with pool.acquire() as con:
            rows = await con.fetch(
                "SELECT destination_id, status FROM post_outs WHERE lead_id = ANY($1::uuid[])", leads
            )
            summaries = await con.fetch("SELECT post_out_status FROM leads WHERE lead_id = ANY($1::uuid[])", leads)
        posted = {r["status"] for r in rows if str(r["destination_id"]) == first.destination_id}
        others = {r["status"] for r in rows if str(r["destination_id"]) != first.destination_id}
        return [s["post_out_status"] for s in summaries] if (posted, others) == ({"POSTED"}, {"RETRYING"}) else None

    assert await eventually(split, what="posted to one, retrying at the other") == ["RETRYING"] * 3
    await failing.set(fail_rate=0)

    async def all_posted() -> list[str] | None:
        async with pool.acquire() as con:
            summaries = await con.fetch("SELECT post_out_status FROM leads WHERE lead_id = ANY($1::uuid[])", leads)
        done = [s["post_out_status"] for s in summaries]
        return done if set(done) == {"POSTED"} else None

    assert await eventually(all_posted, what="posted everywhere") == ["POSTED"] * 3
