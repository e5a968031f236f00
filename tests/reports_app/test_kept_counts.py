"""The console's kept counts (migrations 0035, 0036) equal a count of the base tables: the Post-outs
page's deliveries per destination after real deliveries, retries, CRM rejections, failures and
re-sends by the validation service's workers; the Lifecycle page's funnel (a lead counted once per
stage however many events took it there), statuses and unmapped stages after duplicates, remaps,
status changes and deleted leads. Exact numbers, before and after the fold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from feedback_service import feedback_store
from feedback_service.recording import NewEvent
from feedback_service.stages import MetaStage
from leadrelay.report_counts import rollup
from leadrelay.settings import Settings
from leadrelay.v1 import validation_pb2
from reports_app import queries, setup_queries
from reports_app.database import reading
from tests.harness import Api
from tests.reports_app import seed
from tests.validation_service.post_out_support import Crm, insert_destination, seed_leads, seed_source, statuses
from tests.waiting import eventually

AT = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
COLUMNS = ("pending", "retrying", "posted", "rejected_by_destination", "failed")


async def _destinations_from_deliveries(pool: asyncpg.Pool, account_id) -> dict[str, dict[str, int]]:
    async with pool.acquire() as con:
        rows = await con.fetch(
            """SELECT d.name, p.status, count(p.status) AS n
               FROM destinations d LEFT JOIN post_outs p USING (destination_id)
               WHERE d.account_id = $1 GROUP BY 1, 2""",
            account_id,
        )
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        counts = out.setdefault(r["name"], dict.fromkeys(COLUMNS, 0))
        if r["status"]:
            counts[r["status"].lower()] = r["n"]
    return out


async def _destinations_on_page(pool: asyncpg.Pool, settings: Settings, account_id) -> dict[str, dict[str, int]]:
    async with reading(pool, settings.reports_database_role) as con:
        return {d["name"]: {c: d[c] for c in COLUMNS} for d in await queries.destination_status(con, account_id)}


async def test_destination_counts_equal_the_deliveries_through_retries_and_resends(
    api: Api, pool: asyncpg.Pool, settings: Settings, sandbox
) -> None:
    account_id = api.account.account_id
    source_id = await seed_source(pool, account_id)
    ok, picky, down = Crm(sandbox.url), Crm(sandbox.url), Crm(sandbox.url)
    await ok.set(fail_rate=0.3, seed=3)  # server errors: retried until posted
    await picky.set(sequence=["reject", "reject", "fail"], fail_status=422, reject_reason="duplicate")
    await down.set(fail_rate=1.0)
    for name, crm in (("Ok", ok), ("Picky", picky)):
        await insert_destination(pool, account_id, source_id, crm.url, name=name)
    idle = await insert_destination(pool, account_id, source_id, down.url, name="Idle", enabled=False)
    leads = await seed_leads(pool, account_id, source_id, 12)

    async def settled() -> bool:
        got = await statuses(pool, leads)
        return got.get("POSTED", 0) == 12 + 9 and got.get("REJECTED_BY_DESTINATION") == 2 and got.get("FAILED") == 1

    await eventually(settled, within=60, what="every delivery judged")
    await eventually(lambda: _same(pool, settings, account_id), what="the page's counts to equal the deliveries")
    page = await _destinations_on_page(pool, settings, account_id)
    assert page == {
        "Idle": dict.fromkeys(COLUMNS, 0),  # switched off: nothing enqueued for it
        "Ok": dict.fromkeys(COLUMNS, 0) | {"posted": 12},
        "Picky": dict.fromkeys(COLUMNS, 0) | {"posted": 9, "rejected_by_destination": 2, "failed": 1},
    }
    # Re-send the rejected and failed ones (the CRM takes them now) and the posted ones again.
    await api.postout.RetryPostOuts(validation_pb2.RetryPostOutsRequest(lead_ids=[str(x) for x in leads]))
    await eventually(lambda: _posted_to_both(pool, leads), within=60, what="re-sent and posted")
    async with pool.acquire() as con:
        await con.execute("DELETE FROM leads WHERE lead_id = $1", leads[0])  # its deliveries go with it
        await con.execute("DELETE FROM destinations WHERE destination_id = $1", idle)
    assert await _destinations_on_page(pool, settings, account_id) == await _destinations_from_deliveries(
        pool, account_id
    )
    async with pool.acquire() as con:
        await rollup(con)
    assert await _destinations_on_page(pool, settings, account_id) == {
        "Ok": dict.fromkeys(COLUMNS, 0) | {"posted": 11},
        "Picky": dict.fromkeys(COLUMNS, 0) | {"posted": 11},
    }


async def _same(pool: asyncpg.Pool, settings: Settings, account_id) -> bool:
    return await _destinations_on_page(pool, settings, account_id) == await _destinations_from_deliveries(
        pool, account_id
    )


async def _posted_to_both(pool: asyncpg.Pool, leads: list) -> bool:
    async with pool.acquire() as con:
        return await con.fetchval(
            """SELECT count(*) FROM post_outs p JOIN destinations d USING (destination_id)
                   WHERE p.lead_id = ANY($1::uuid[]) AND d.enabled AND p.status = 'POSTED'""",
            leads,
        ) == 2 * len(leads)


def _event(lead_id, crm_stage: str, stage: MetaStage, days: int) -> NewEvent:
    return NewEvent(lead_id=lead_id, crm_stage=crm_stage, meta_stage=stage, changed_at=AT + timedelta(days=days))


async def _lifecycle_on_page(pool: asyncpg.Pool, settings: Settings, account_id) -> tuple:
    async with reading(pool, settings.reports_database_role) as con:
        funnel = {r["meta_stage"]: (r["leads"], r["events"]) for r in await queries.stage_funnel(con, account_id)}
        status = [(r["status"], r["events"]) for r in await queries.dispatch_status(con, account_id)]
        unmapped = [(r["crm_stage"], r["events"]) for r in await queries.unmapped_stages(con, account_id)]
        received = [(r["crm_stage"], r["changes"]) for r in await setup_queries.stages_received(con, account_id)]
    return funnel, status, unmapped, received


async def _lifecycle_from_events(pool: asyncpg.Pool, account_id) -> tuple:
    async with pool.acquire() as con:
        funnel = {
            r["meta_stage"]: (r["leads"], r["events"])
            for r in await con.fetch(
                """SELECT meta_stage, count(DISTINCT lead_id) AS leads, count(*) AS events FROM feedback_events
                   WHERE account_id = $1 GROUP BY 1""",
                account_id,
            )
        }
        status = [
            (r["status"], r["n"])
            for r in await con.fetch(
                "SELECT status, count(*) AS n FROM feedback_events WHERE account_id = $1 GROUP BY 1 ORDER BY 1",
                account_id,
            )
        ]
        unmapped = [
            (r["crm_stage"], r["n"])
            for r in await con.fetch(
                """SELECT e.crm_stage, count(*) AS n FROM feedback_events e
                   LEFT JOIN feedback_stage_mappings m ON m.account_id = e.account_id AND m.crm_stage = e.crm_stage
                   WHERE e.account_id = $1 AND m.crm_stage IS NULL GROUP BY 1 ORDER BY 2 DESC, 1""",
                account_id,
            )
        ]
        received = [
            (r["crm_stage"], r["n"])
            for r in await con.fetch(
                "SELECT crm_stage, count(*) AS n FROM feedback_events WHERE account_id = $1 GROUP BY 1 ORDER BY 1",
                account_id,
            )
        ]
    return funnel, status, unmapped, received


async def test_lifecycle_counts_a_lead_once_per_stage_through_duplicates_remaps_and_deletes(
    pool: asyncpg.Pool, account, settings: Settings
) -> None:
    account_id = account.account_id
    mql, lead, won = MetaStage.MARKETING_QUALIFIED_LEAD, MetaStage.LEAD, MetaStage.CONVERTED
    async with pool.acquire() as con:
        source_id = await seed.source(con, account_id, "Events")
        a, b, c = [await seed.lead(con, account_id, source_id, AT) for _ in range(3)]
        await feedback_store.replace_mapping(con, account_id, {"New": lead, "MQL": mql, "Won": won})
        await feedback_store.insert_events(
            con,
            account_id,
            [
                _event(a, "New", lead, 0),
                _event(a, "MQL", mql, 1),
                _event(a, "MQL", mql, 2),  # the same lead reaches MQL twice: counted once
                _event(a, "MQL", mql, 2),  # an identical repeat: not stored at all
                _event(b, "New", lead, 0),
                _event(b, "MQL", mql, 3),
                _event(c, "Lead in", MetaStage.NOT_ASSIGNED, 0),  # a CRM stage nobody mapped
            ],
        )
        # In two statements, the second repeating a lead and stage of the first.
        await feedback_store.insert_events(con, account_id, [_event(b, "Won", won, 4), _event(c, "MQL", mql, 4)])
        await feedback_store.insert_events(con, account_id, [_event(b, "Won", won, 5)])
    expected_funnel = {"LEAD": (2, 2), "MARKETING_QUALIFIED_LEAD": (3, 4), "CONVERTED": (1, 2), "NOT_ASSIGNED": (1, 1)}
    page = await _lifecycle_on_page(pool, settings, account_id)
    assert page == await _lifecycle_from_events(pool, account_id)
    assert page == (
        expected_funnel,
        [("PENDING", 9)],
        [("Lead in", 1)],
        [("Lead in", 1), ("MQL", 4), ("New", 2), ("Won", 2)],
    )

    async with pool.acquire() as con:
        ids = [
            r["event_id"]
            for r in await con.fetch(
                "SELECT event_id FROM feedback_events WHERE account_id = $1 ORDER BY 1", account_id
            )
        ]
        await feedback_store.mark_sent(con, ids[:3], "trace")
        await feedback_store.mark_failed(con, [(ids[3], "Meta: invalid parameter", "t2")])
        await rollup(con)
        # "Lead in" mapped now: its pending event moves to LEAD, c's first LEAD.
        await feedback_store.replace_mapping(con, account_id, {"New": lead, "MQL": mql, "Won": won, "Lead in": lead})
        await feedback_store.remap_pending(con, account_id, {"Lead in": lead})
    page = await _lifecycle_on_page(pool, settings, account_id)
    assert page == await _lifecycle_from_events(pool, account_id)
    assert page[0] == {"LEAD": (3, 3), "MARKETING_QUALIFIED_LEAD": (3, 4), "CONVERTED": (1, 2)}
    assert page[1] == [("FAILED", 1), ("PENDING", 5), ("SENT", 3)]
    assert page[2] == []

    async with pool.acquire() as con:
        await con.execute("DELETE FROM leads WHERE lead_id = $1", a)  # its events go with it
        await rollup(con)
    page = await _lifecycle_on_page(pool, settings, account_id)
    assert page == await _lifecycle_from_events(pool, account_id)
    assert page[0] == {"LEAD": (2, 2), "MARKETING_QUALIFIED_LEAD": (2, 2), "CONVERTED": (1, 2)}
    async with pool.acquire() as con:
        assert await con.fetchval("SELECT count(*) FROM lifecycle_lead_stages WHERE lead_id = $1", a) == 0
