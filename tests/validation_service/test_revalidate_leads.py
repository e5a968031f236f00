"""RevalidateLeads against real servers: rejected leads re-judged without a file under the current
criteria -- a preview that changes nothing and counts what the applied call then does, accepted
leads posted exactly once to the sandbox CRM, ACCEPTED leads never touched, bounded pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import grpc

from leadrelay.v1 import common_pb2, ingest_pb2, validation_pb2
from tests.harness import Api, new_account, rpc_error
from tests.ingest_service.file_support import csv_bytes, file_source, final, run
from tests.validation_service.post_out_support import Crm
from tests.waiting import eventually

LIST = "REJECT_LEAD_INVALID_LIST_VALUE"


def _rules(allowed: list[str]) -> list[validation_pb2.Rule]:
    return [
        validation_pb2.Rule(column="email", email=validation_pb2.EmailCheck()),
        validation_pb2.Rule(column="country", picklist=validation_pb2.Picklist(allowed=allowed)),
    ]


ROWS = [
    ["email", "first_name", "country"],
    ["ana@example.com", "Ana", "Germany"],
    ["bo@example.com", "Bo", "Narnia"],
    ["cy@example.com", "Cy", "Narnia"],
    ["di@example.com", "Di", "Narnia"],
    ["ed@example.com", "Ed", "France"],
    ["fay-at-example.com", "Fay", "Narnia"],
]


async def _source(api: Api, sandbox) -> tuple[str, Crm, dict[str, str]]:  # type: ignore[no-untyped-def]
    source_id = await file_source(api, rules=_rules(["Germany"]))
    crm = Crm(sandbox.url)
    await api.postout.CreateDestination(
        validation_pb2.CreateDestinationRequest(
            source_id=source_id,
            name="CRM",
            url=crm.url,
            body=[
                common_pb2.FieldMapping(column="lead_id", lead_column="lead_id"),
                common_pb2.FieldMapping(column="Email", lead_column="email"),
            ],
        )
    )
    done, _ = final(await run(api.ingest.ImportLeads, ingest_pb2.ImportSpec(source_id=source_id), csv_bytes(ROWS)))
    assert (done.rows_accepted, done.rows_rejected) == (1, 5)
    leads = (await api.ingest.ListLeads(ingest_pb2.ListLeadsRequest(source_id=source_id))).leads
    return source_id, crm, {lead.fields["first_name"]: lead.lead_id for lead in leads}


async def _revalidate(api: Api, **request) -> list[validation_pb2.RevalidateProgress]:  # type: ignore[no-untyped-def]
    messages = [m async for m in api.validation.RevalidateLeads(validation_pb2.RevalidateLeadsRequest(**request))]
    assert messages[-1].done and not any(m.done for m in messages[:-1])
    return messages


async def _leads(api: Api, ids: dict[str, str]) -> dict[str, common_pb2.Lead]:
    return {name: await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=i)) for name, i in ids.items()}


def _state(lead: common_pb2.Lead) -> tuple:
    """What a re-judging may change (post-out's own `posted` events and status come and go)."""
    events = [(e.type, e.detail) for e in lead.events if e.type != "posted"]
    return lead.status, lead.disposition_code, lead.custom_reason, lead.criteria_version, dict(lead.fields), events


async def _states(api: Api, ids: dict[str, str]) -> dict[str, tuple]:
    return {name: _state(lead) for name, lead in (await _leads(api, ids)).items()}


async def _created(crm: Crm) -> dict[str, int]:
    return {lead: c["created"] for lead, c in (await crm.stats())["per_lead"].items()}


async def test_preview_changes_nothing_and_counts_what_the_applied_call_does(api: Api, sandbox) -> None:  # type: ignore[no-untyped-def]
    source_id, crm, ids = await _source(api, sandbox)
    await eventually(lambda: _posted_once(crm, [ids["Ana"]]), what="Ana posted")
    # Narnia becomes a country we take: the leads rejected for it can now be accepted.
    criteria = await api.validation.SetAcceptanceCriteria(
        validation_pb2.SetAcceptanceCriteriaRequest(source_id=source_id, rules=_rules(["Germany", "Narnia"]))
    )
    assert criteria.version == 2
    before = await _states(api, ids)
    select = {"source_id": source_id, "disposition_code": LIST, "column": "country", "value": "Narnia"}

    preview = await _revalidate(api, preview=True, **select)
    last = preview[-1]
    assert last.preview
    assert (last.leads_selected, last.leads_judged, last.leads_accepted, last.leads_rejected) == (3, 3, 3, 0)
    assert dict(last.criteria_versions) == {source_id: 2}
    assert sorted(e.lead_id for e in last.examples) == sorted([ids["Bo"], ids["Cy"], ids["Di"]])
    example = next(e for e in last.examples if e.lead_id == ids["Bo"])
    assert (example.old_disposition_code, example.old_custom_reason) == (
        LIST,
        'country: "Narnia" is not on the picklist',
    )
    assert (example.status, example.disposition_code) == (common_pb2.LEAD_STATUS_ACCEPTED, "")
    assert last.message == "3 of 3 leads judged, 3 would be accepted, 0 rejected, criteria v2"
    assert await _states(api, ids) == before
    assert await _created(crm) == {ids["Ana"]: 1}

    applied = (await _revalidate(api, **select))[-1]
    assert not applied.preview
    assert (applied.leads_selected, applied.leads_accepted, applied.leads_rejected) == (3, 3, 0)
    after = await _leads(api, ids)
    for name in ("Bo", "Cy", "Di"):
        assert after[name].status == common_pb2.LEAD_STATUS_ACCEPTED
        assert after[name].criteria_version == 2
        assert [e.detail for e in after[name].events if e.type == "validated"][-1] == "ACCEPTED (criteria v2)"
    for name in ("Ana", "Ed", "Fay"):
        assert _state(after[name]) == before[name]
    await eventually(lambda: _posted_once(crm, [ids[n] for n in ("Ana", "Bo", "Cy", "Di")]), what="posted once each")

    # Every non-accepted lead of the source: Ed (France) and Fay (bad email) stay rejected; the
    # accepted ones are never selected again, never posted twice.
    preview = (await _revalidate(api, source_id=source_id, preview=True))[-1]
    applied = (await _revalidate(api, source_id=source_id))[-1]
    counts = [(m.leads_selected, m.leads_accepted, m.leads_rejected) for m in (preview, applied)]
    assert counts == [(2, 0, 2), (2, 0, 2)]
    rejected = {e.lead_id: e.disposition_code for e in applied.examples}
    assert rejected == {ids["Ed"]: LIST, ids["Fay"]: "REJECT_LEAD_INVALID_EMAIL"}
    assert (await _states(api, ids))["Ana"] == before["Ana"]
    assert await _posted_once(crm, [ids[n] for n in ("Ana", "Bo", "Cy", "Di")])


async def _posted_once(crm: Crm, lead_ids: list[str]) -> bool:
    return await _created(crm) == dict.fromkeys(lead_ids, 1)


async def test_a_call_takes_at_most_max_leads_and_the_page_token_continues_the_selection(api: Api, sandbox) -> None:  # type: ignore[no-untyped-def]
    source_id, _, ids = await _source(api, sandbox)
    await api.validation.SetAcceptanceCriteria(
        validation_pb2.SetAcceptanceCriteriaRequest(source_id=source_id, rules=_rules(["Germany", "Narnia", "France"]))
    )
    token, seen, accepted = "", [], 0
    for _ in range(5):
        last = (await _revalidate(api, source_id=source_id, max_leads=2, page_token=token))[-1]
        assert last.leads_selected <= 2
        seen.append(last.leads_selected)
        accepted += last.leads_accepted
        token = last.next_page_token
        if not token:
            break
    assert seen == [2, 2, 1] and accepted == 4
    statuses = {n: lead.status for n, lead in (await _leads(api, ids)).items()}
    assert statuses.pop("Fay") == common_pb2.LEAD_STATUS_REJECTED
    assert set(statuses.values()) == {common_pb2.LEAD_STATUS_ACCEPTED}


async def test_the_received_window_selects_by_arrival(api: Api, sandbox) -> None:  # type: ignore[no-untyped-def]
    source_id, _, _ = await _source(api, sandbox)
    now = datetime.now(UTC)

    def window(since: datetime, until: datetime) -> dict:
        request = validation_pb2.RevalidateLeadsRequest()
        request.since.FromDatetime(since)
        request.until.FromDatetime(until)
        return {"since": request.since, "until": request.until}

    past = await _revalidate(
        api, source_id=source_id, preview=True, **window(now - timedelta(days=2), now - timedelta(days=1))
    )
    assert past[-1].leads_selected == 0
    around = await _revalidate(
        api, source_id=source_id, preview=True, **window(now - timedelta(hours=1), now + timedelta(hours=1))
    )
    assert around[-1].leads_selected == 5


async def test_bad_selections_are_refused_naming_the_field(api: Api, pool: asyncpg.Pool, servers, sandbox) -> None:  # type: ignore[no-untyped-def]
    source_id, _, _ = await _source(api, sandbox)
    other = await new_account(pool)
    other_api = Api(other, servers.ingest_target, servers.validation_target, servers.feedback_target)
    try:
        theirs = await file_source(other_api)
    finally:
        await other_api.close()
    now = datetime.now(UTC)
    later = validation_pb2.RevalidateLeadsRequest()
    later.since.FromDatetime(now)
    later.until.FromDatetime(now - timedelta(hours=1))
    cases = [
        ({"source_id": "nope"}, grpc.StatusCode.INVALID_ARGUMENT, "source_id: 'nope' is not a source id (a UUID)"),
        (
            {"source_id": source_id, "column": "shoe_size", "value": "42"},
            grpc.StatusCode.INVALID_ARGUMENT,
            f"column: 'shoe_size' is not a column of source {source_id}",
        ),
        ({"value": "Narnia"}, grpc.StatusCode.INVALID_ARGUMENT, "value: name the column the value is in"),
        (
            {"max_leads": 10_001},
            grpc.StatusCode.INVALID_ARGUMENT,
            "max_leads: must be between 0 (the default) and 10000",
        ),
        ({"max_leads": -1}, grpc.StatusCode.INVALID_ARGUMENT, "max_leads: must be between 0 (the default) and 10000"),
        ({"page_token": "garbage"}, grpc.StatusCode.INVALID_ARGUMENT, "page_token: not a token this service returned"),
        (
            {"since": later.since, "until": later.until},
            grpc.StatusCode.INVALID_ARGUMENT,
            "until: must be later than since",
        ),
        ({"source_id": theirs}, grpc.StatusCode.PERMISSION_DENIED, None),
    ]
    for request, code, details in cases:
        err = await rpc_error(_revalidate(api, **request))
        assert err.code() == code, request
        if details is not None:
            assert err.details() == details


async def test_named_leads_only_are_rejudged_and_their_events_name_the_key(api: Api, account, sandbox) -> None:  # type: ignore[no-untyped-def]
    source_id, crm, ids = await _source(api, sandbox)
    await api.validation.SetAcceptanceCriteria(
        validation_pb2.SetAcceptanceCriteriaRequest(source_id=source_id, rules=_rules(["Germany", "Narnia"]))
    )
    # Bo (rejected) and Ana (ACCEPTED: never selected); Cy and Di are left as they are.
    last = (await _revalidate(api, lead_ids=[ids["Bo"], ids["Ana"]]))[-1]
    assert (last.leads_selected, last.leads_accepted, last.leads_rejected) == (1, 1, 0)
    after = await _leads(api, ids)
    assert after["Bo"].status == common_pb2.LEAD_STATUS_ACCEPTED
    assert after["Cy"].status == after["Di"].status == common_pb2.LEAD_STATUS_REJECTED
    prefix = account.api_key.split("_")[1]
    # The import judged Bo first (its one "imported" event, by the system); the re-judge names the key.
    assert [(e.type, e.actor) for e in after["Bo"].events if e.type in ("imported", "validated")] == [
        ("imported", ""),
        ("validated", f"key:{prefix}"),
    ]
    await eventually(lambda: _posted_once(crm, [ids["Ana"], ids["Bo"]]), what="Bo posted once")
    err = await rpc_error(
        api.validation.RevalidateLeads(validation_pb2.RevalidateLeadsRequest(lead_ids=["nope"])).read()
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "lead_ids[0]" in err.details()
