"""A destination that answers with a NUL, binary or UTF-16 (or whose rows vanish mid-flight) costs
only its own deliveries: every other delivery of the claimed batch is recorded, nothing is posted
twice, and the hostile deliveries get their attempt rows. Each test runs on a private database, so
one batch holds exactly the deliveries the test seeds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from leadrelay.db import create_pool
from leadrelay.settings import Settings
from tests import harness
from tests.harness import new_account
from tests.validation_service.post_out_support import Crm, insert_destination, seed_leads, seed_source, statuses
from tests.waiting import eventually
from validation_service import post_out_worker

STATUS_ONLY = {"success": {}}  # any 2xx is a success: the answer's bytes are only stored


@pytest.fixture
async def private(settings: Settings, database_dsn: str) -> AsyncIterator[tuple[Settings, object]]:
    db = harness.TestDatabase()
    db.admin_dsn = database_dsn  # a sibling database on the same server
    dsn = await db.create()
    s = settings.replace(database_url=dsn)
    pool = await create_pool(dsn, settings=s, min_size=1, max_size=4)
    try:
        yield s, pool
    finally:
        await pool.close()
        await db.drop()


async def _destination(pool, crm: Crm, n: int, **columns):
    account = await new_account(pool)
    source_id = await seed_source(pool, account.account_id)
    dest = await insert_destination(pool, account.account_id, source_id, crm.url, **columns)
    return dest, await seed_leads(pool, account.account_id, source_id, n)


async def test_nul_binary_and_utf16_answers_are_recorded_once_and_spare_the_batch(private, sandbox) -> None:
    settings, pool = private
    with_id, binary, innocent = Crm(sandbox.url), Crm(sandbox.url), Crm(sandbox.url)
    await with_id.set(sequence=["nul", "utf16", "nul"])
    await binary.set(sequence=["binary", "binary"])
    _, id_leads = await _destination(pool, with_id, 3, success={"record_id_json_path": "$.id"})
    _, binary_leads = await _destination(pool, binary, 2, **STATUS_ONLY)
    _, innocent_leads = await _destination(pool, innocent, 20)

    async with post_out_worker.new_session(settings) as session:
        workers = post_out_worker.PostOutWorkers(settings, pool, session)
        assert await workers.run_once() == 25  # one batch: every account's deliveries together
        assert await workers.run_once() == 0  # nothing comes back: each was recorded

    for leads in (id_leads, binary_leads, innocent_leads):
        assert await statuses(pool, leads) == {"POSTED": len(leads)}
    for crm, n in ((with_id, 3), (binary, 2), (innocent, 20)):
        stats = await crm.stats()
        assert (stats["received"], stats["created"], stats["doubled"]) == (n, n, [])

    attempts = await pool.fetch(
        "SELECT lead_id, outcome, response_excerpt FROM post_out_attempts WHERE lead_id = ANY($1::uuid[])",
        id_leads + binary_leads,
    )
    assert sorted(a["lead_id"] for a in attempts) == sorted(id_leads + binary_leads)
    assert {a["outcome"] for a in attempts} == {"posted"}
    excerpts = {a["lead_id"]: a["response_excerpt"] for a in attempts}
    for lead in binary_leads:
        assert "\x00" not in excerpts[lead] and "\ufffd" in excerpts[lead]
        assert len(excerpts[lead]) <= 1001  # bounded: 1,000 characters and an ellipsis
    record_ids = await pool.fetch("SELECT record_id FROM post_outs WHERE lead_id = ANY($1::uuid[])", id_leads)
    # The NUL answers' ids keep their text, the NUL shown as U+FFFD; the UTF-16 answer reads as JSON.
    assert sorted(r["record_id"] for r in record_ids) == ["crm-1\ufffd", "crm-2", "crm-3\ufffd"]


async def test_a_result_the_database_refuses_leaves_the_rest_of_the_batch_recorded(private, sandbox) -> None:
    settings, pool = private
    doomed, innocent = Crm(sandbox.url), Crm(sandbox.url)
    await doomed.set(latency_ms=500)
    doomed_dest, doomed_leads = await _destination(pool, doomed, 4)
    _, innocent_leads = await _destination(pool, innocent, 20)

    async with post_out_worker.new_session(settings) as session:
        workers = post_out_worker.PostOutWorkers(settings, pool, session)
        batch = asyncio.create_task(workers.run_once())
        await eventually(lambda: _received(doomed, 4), what="the doomed requests in flight")
        # The destination is deleted while its requests are in flight: its attempt rows can no
        # longer be written (their foreign key is gone), which used to fail the whole batch's write.
        await pool.execute("DELETE FROM destinations WHERE destination_id = $1", doomed_dest)
        assert await batch == 24
        assert await workers.run_once() == 0

    assert await statuses(pool, innocent_leads) == {"POSTED": 20}
    assert await statuses(pool, doomed_leads) == {}
    stats = await innocent.stats()
    assert (stats["received"], stats["created"]) == (20, 20)


async def _received(crm: Crm, n: int) -> bool:
    return (await crm.stats())["received"] >= n
