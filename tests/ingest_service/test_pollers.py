"""The pull side against the sandbox: dropped webhooks recovered, refused tokens, throttling."""

import time
from uuid import UUID

from ingest_service import connections_store, pollers
from ingest_service.connectors import BACKOFF_BASE_SECONDS
from leadrelay.v1 import ingest_pb2
from tests.ingest_service.connector_support import (
    connection_row,
    facebook_source,
    judged,
    leads_of,
    linkedin_source,
    post,
    watermarks,
)


async def _poll(servers, pool, source_id: str) -> int:
    async with pool.acquire() as con:
        connection = await connections_store.connection(con, UUID(source_id))
    return await pollers.poll_source(servers.ingest.deps, connection)


async def test_webhooks_that_never_came_are_recovered_by_the_pull(web, api, servers, sandbox, pool):
    fb = await facebook_source(
        api, sandbox, web, forms=2, webhook_url=f"{servers.settings.public_base_url}/webhooks/facebook", drop_rate=1.0
    )
    ids = []
    for form_id in fb.form_ids:
        ids += (await post(web, f"{sandbox.url}/graph/_control/leads", {"form_id": form_id, "count": 130}))["ids"]
    await post(web, f"{sandbox.url}/graph/_control/drain")
    assert await leads_of(pool, fb.source_id) == []  # every notification was dropped
    assert await _poll(servers, pool, fb.source_id) == 260  # 100-lead pages: cursor paging on both forms
    rows = await judged(pool, fb.source_id, 260)
    assert sorted(r["platform_lead_id"] for r in rows) == sorted(ids)
    marks = await watermarks(pool, fb.source_id)
    assert set(marks) == set(fb.form_ids) and all(m >= int(time.time()) - 5 for m in marks.values())
    # Overlapping polls are harmless: the same leads, nothing new.
    await _poll(servers, pool, fb.source_id)
    assert len(await leads_of(pool, fb.source_id)) == 260
    assert (await connection_row(pool, fb.source_id))["last_polled_at"] is not None


async def test_a_refused_token_marks_the_source_for_reconnect_and_stops_polling(web, api, servers, sandbox, pool):
    fb = await facebook_source(api, sandbox, web)
    await post(web, f"{sandbox.url}/graph/_control/errors", {"code": 190, "count": -1, "access_token": fb.token})
    try:
        assert await _poll(servers, pool, fb.source_id) == 0
    finally:
        async with web.delete(f"{sandbox.url}/graph/_control/errors", json={"access_token": fb.token}):
            pass
    row = await connection_row(pool, fb.source_id)
    assert row["state"] == "NEEDS_RECONNECT"
    assert "refused the token" in row["last_error"] and "190" in row["last_error"]
    source = await api.ingest.GetSource(ingest_pb2.GetSourceRequest(source_id=fb.source_id))
    assert source.state == ingest_pb2.SOURCE_STATE_NEEDS_RECONNECT and "190" in source.last_error
    async with pool.acquire() as con:
        assert UUID(fb.source_id) not in {r["source_id"] for r in await connections_store.pollable(con)}
    # Reconnecting with a good token makes it ACTIVE and pollable again.
    await api.ingest.ConnectSource(ingest_pb2.ConnectSourceRequest(source_id=fb.source_id, access_token=fb.token))
    assert (await connection_row(pool, fb.source_id))["state"] == "ACTIVE"


async def test_throttling_backs_off_and_keeps_the_watermark(web, api, servers, sandbox, pool):
    fb = await facebook_source(api, sandbox, web)
    form_id = fb.form_ids[0]
    first = (
        await post(
            web,
            f"{sandbox.url}/graph/_control/leads",
            {"form_id": form_id, "count": 3, "created_time": int(time.time()) - 30},
        )
    )["ids"]
    await _poll(servers, pool, fb.source_id)
    before = await watermarks(pool, fb.source_id)
    later = (
        await post(web, f"{sandbox.url}/graph/_control/leads", {"form_id": form_id, "count": 2, "deliver": False})
    )["ids"]
    for code in (80005, 613):
        await post(web, f"{sandbox.url}/graph/_control/errors", {"code": code, "count": 1, "access_token": fb.token})
        assert await _poll(servers, pool, fb.source_id) == 0
        row = await connection_row(pool, fb.source_id)
        assert row["state"] == "ACTIVE" and row["backoff_until"] is not None and str(code) in row["last_error"]
        assert await watermarks(pool, fb.source_id) == before
    assert row["backoff_seconds"] == 2 * BACKOFF_BASE_SECONDS
    async with pool.acquire() as con:
        assert UUID(fb.source_id) not in {r["source_id"] for r in await connections_store.pollable(con)}
    # The next read resumes from the kept watermark and gets what was missed.
    await _poll(servers, pool, fb.source_id)
    rows = await judged(pool, fb.source_id, 5)
    assert sorted(r["platform_lead_id"] for r in rows) == sorted(first + later)
    row = await connection_row(pool, fb.source_id)
    assert row["backoff_until"] is None and row["last_error"] == ""


async def test_linkedin_is_polled_from_its_watermark_with_paging(web, api, servers, sandbox, pool):
    li = await linkedin_source(api, sandbox, web)
    ids = (
        await post(
            web,
            f"{sandbox.url}/linkedin/_control/leads",
            {"form_id": str(li.form["id"]), "count": 230, "spread_ms": 60_000, "notify": False},
        )
    )["ids"]
    assert await _poll(servers, pool, li.source_id) == 230
    rows = await judged(pool, li.source_id, 230)
    assert sorted(r["platform_lead_id"] for r in rows) == sorted(ids)
    mark = (await watermarks(pool, li.source_id))[""]
    assert mark >= int(time.time() * 1000) - 10_000
    await post(web, f"{sandbox.url}/linkedin/_control/errors", {"status": 429, "count": 1, "access_token": li.token})
    assert await _poll(servers, pool, li.source_id) == 0
    assert (await watermarks(pool, li.source_id))[""] == mark
    assert (await connection_row(pool, li.source_id))["state"] == "ACTIVE"
    await post(web, f"{sandbox.url}/linkedin/_control/errors", {"status": 401, "count": 1, "access_token": li.token})
    await _poll(servers, pool, li.source_id)
    assert (await connection_row(pool, li.source_id))["state"] == "NEEDS_RECONNECT"
