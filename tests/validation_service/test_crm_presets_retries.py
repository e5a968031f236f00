"""Issue 18: a CRM that took the lead but whose answer never came (the call timed out after the record
was made) gets the retry without making a second record, for the vendors with no email key: Salesforce
and Dynamics upsert by our lead id, Pipedrive is asked for the person before the lead is sent again."""

from __future__ import annotations

import asyncpg
import pytest

from tests.harness import Api
from tests.validation_service.crm_support import VendorOrg, person, seed_people, seed_person_source, settled
from tests.validation_service.test_crm_presets_delivery import create
from tests.waiting import eventually

# The stand-in makes the record, then answers after 3 s; the destination gives up after 0.5 s.
SLOW_ANSWER = {"timeout_seconds": 3}


@pytest.mark.parametrize("preset", ["salesforce", "dynamics"])
async def test_a_timed_out_upsert_sent_again_updates_the_record_it_made(
    api: Api, pool: asyncpg.Pool, sandbox, preset: str
) -> None:
    org = VendorOrg(sandbox.url, preset)
    source_id = await seed_person_source(pool, api.account.account_id)
    await create(api, source_id, org, preset, timeout_ms=500, batch_size=1)
    await org.set(sequence=["timeout"], **SLOW_ANSWER)
    [lead] = await seed_people(pool, api.account.account_id, source_id, [person(1)])
    [row] = await eventually(lambda: settled(pool, [lead]), what=f"{preset} settled after a timeout", within=30)
    full = await org._call("GET")
    assert (row["status"], row["attempts"]) == ("POSTED", 2)
    assert (full["created"], full["updated"], full["doubled"]) == (1, 1, [])
    assert [row["record_id"]] == list(full["records"])
    if preset == "dynamics":  # the row's primary key is our lead id
        assert row["record_id"] == str(lead)


async def test_a_timed_out_salesforce_batch_is_upserted_again_whole(api: Api, pool: asyncpg.Pool, sandbox) -> None:
    org = VendorOrg(sandbox.url, "salesforce")
    source_id = await seed_person_source(pool, api.account.account_id)
    await create(api, source_id, org, "salesforce", timeout_ms=500, batch_size=200)
    await org.set(sequence=["timeout"], **SLOW_ANSWER)
    ids = await seed_people(pool, api.account.account_id, source_id, [person(i) for i in range(4)])
    rows = await eventually(lambda: settled(pool, ids), what="salesforce batch settled after a timeout", within=30)
    full = await org._call("GET")
    assert [r["status"] for r in rows] == ["POSTED"] * 4
    assert (full["created"], full["doubled"]) == (4, [])
    assert sum(full["records_per_call"]) == full["received"]  # only the collections endpoint was called
    assert {r["record_id"] for r in rows} == set(full["records"])
    for row, lead_id in zip(rows, ids, strict=True):
        assert full["records"][row["record_id"]]["LeadRelay_Lead_ID__c"] == str(lead_id)


async def test_pipedrive_finds_the_person_a_timed_out_call_made_instead_of_adding_one(
    api: Api, pool: asyncpg.Pool, sandbox
) -> None:
    org = VendorOrg(sandbox.url, "pipedrive")
    source_id = await seed_person_source(pool, api.account.account_id)
    await create(api, source_id, org, "pipedrive", timeout_ms=500)
    await org.set(sequence=["timeout"], **SLOW_ANSWER)
    [lead] = await seed_people(pool, api.account.account_id, source_id, [person(1)])
    [row] = await eventually(lambda: settled(pool, [lead]), what="pipedrive settled after a timeout", within=30)
    full = await org._call("GET")
    assert (row["status"], row["attempts"]) == ("POSTED", 2)
    assert (full["created"], full["doubled"], full["lookups"], full["calls"]) == (1, [], 1, 2)
    assert [row["record_id"]] == list(full["records"])
    async with pool.acquire() as con:
        attempts = await con.fetch(
            "SELECT outcome, status_code, request_excerpt AS request FROM post_out_attempts"
            " WHERE lead_id = $1 ORDER BY attempt",
            lead,
        )
    assert [(a["outcome"], a["status_code"]) for a in attempts] == [("retry", 0), ("posted", 200)]
    assert attempts[1]["request"].startswith("GET ") and "/api/v1/persons/search?term=" in attempts[1]["request"]
    assert "pd-secret-token" not in attempts[1]["request"]


async def test_pipedrive_sends_the_lead_when_the_failed_call_made_no_person(
    api: Api, pool: asyncpg.Pool, sandbox
) -> None:
    org = VendorOrg(sandbox.url, "pipedrive")
    source_id = await seed_person_source(pool, api.account.account_id)
    await create(api, source_id, org, "pipedrive", timeout_ms=500)
    await org.set(sequence=["fail"])  # a 503: nothing made
    [lead] = await seed_people(pool, api.account.account_id, source_id, [person(1)])
    [row] = await eventually(lambda: settled(pool, [lead]), what="pipedrive settled after a 503")
    full = await org._call("GET")
    assert (row["status"], row["attempts"]) == ("POSTED", 2)
    # The 503, the look-up finding nobody, the person made.
    assert (full["created"], full["doubled"], full["lookups"], full["calls"]) == (1, [], 1, 3)
    assert [row["record_id"]] == list(full["records"])


async def _pipedrive_leads(api: Api, pool: asyncpg.Pool, sandbox, sequence: list[str], people: list[dict]):  # type: ignore[no-untyped-def]
    org = VendorOrg(sandbox.url, "pipedrive")
    source_id = await seed_person_source(pool, api.account.account_id)
    await create(api, source_id, org, "pipedrive_leads", timeout_ms=500)
    await org.set(sequence=sequence, **SLOW_ANSWER)
    leads = await seed_people(pool, api.account.account_id, source_id, people)
    rows = await eventually(lambda: settled(pool, leads), what="pipedrive leads settled", within=30)
    return rows, await org._call("GET")


async def test_pipedrive_person_and_lead_are_made_once_each_and_a_refused_person_refuses_the_lead(
    api: Api, pool: asyncpg.Pool, sandbox
) -> None:
    rows, full = await _pipedrive_leads(api, pool, sandbox, [], [person(1), person(2, "nobody@invalid.test")])
    assert [r["status"] for r in rows] == ["POSTED", "REJECTED_BY_DESTINATION"]
    assert rows[1]["last_error"] == "person: Invalid email: nobody@invalid.test"
    lead = full["records"][rows[0]["record_id"]]
    person_record = full["records"][str(lead["person_id"])]
    assert (lead["title"].startswith("Lead from LeadRelay "), person_record["name"]) == (True, "Ana1 Paz1")
    assert (full["created"], full["leads_created"], full["doubled"], full["leads_doubled"]) == (1, 1, [], [])


@pytest.mark.parametrize(
    ("sequence", "calls"),
    [
        # Search, person, lead made but its answer late; search (found), the person's leads (ours found).
        (["accept", "accept", "timeout"], 5),
        # Search, person made but its answer late; search (found), the person's leads (none), the lead.
        (["accept", "timeout"], 5),
    ],
)
async def test_pipedrive_person_and_lead_after_a_timeout_make_no_second_one(
    api: Api, pool: asyncpg.Pool, sandbox, sequence: list[str], calls: int
) -> None:
    [row], full = await _pipedrive_leads(api, pool, sandbox, sequence, [person(1)])
    assert (row["status"], row["attempts"]) == ("POSTED", 2)
    assert (full["created"], full["leads_created"], full["doubled"], full["leads_doubled"]) == (1, 1, [], [])
    assert full["calls"] == calls
    [lead_id] = [k for k, r in full["records"].items() if "title" in r]
    assert row["record_id"] == lead_id
