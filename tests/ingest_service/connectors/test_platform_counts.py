"""The platforms' own counts stored for the reports: after a successful poll (per recent UTC day) and
by GetSourceCounts (the window asked), against the sandbox over real HTTP."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
from google.protobuf.timestamp_pb2 import Timestamp

from ingest_service.connectors import connections_store, platform_counts, pollers
from leadrelay.v1 import ingest_pb2
from tests.ingest_service.connector_support import (
    facebook_source,
    leads_of,
    linkedin_source,
    post,
)


def midnight() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


async def connected_days_ago(pool: asyncpg.Pool, source_id: str, days: int) -> None:
    """As if the source was connected `days` UTC days ago (its first poll reads from then)."""
    async with pool.acquire() as con:
        await con.execute(
            "UPDATE source_connections SET connected_at = $2 WHERE source_id = $1",
            UUID(source_id),
            midnight() - timedelta(days=days),
        )


async def poll(servers, pool: asyncpg.Pool, source_id: str) -> int:
    async with pool.acquire() as con:
        connection = await connections_store.connection(con, UUID(source_id))
    return await pollers.poll_source(servers.ingest.deps, connection)


async def stored(pool: asyncpg.Pool, source_id: str) -> list[tuple]:
    async with pool.acquire() as con:
        rows = await con.fetch(
            """SELECT day, window_start, window_end, platform_reported, leadrelay_count FROM platform_counts
               WHERE source_id = $1 ORDER BY window_start, window_end""",
            UUID(source_id),
        )
    return [tuple(r) for r in rows]


async def leads_yesterday_and_today(
    web, sandbox, form: str, **yesterday: object
) -> tuple[datetime, datetime, int]:  # web: a session, not the fixture
    """Three leads the sandbox Page created yesterday around noon and two today, not delivered by
    webhook (a poll reads them): today's and yesterday's midnight, and yesterday noon's timestamp."""
    today = midnight()
    noon = int((today - timedelta(hours=12)).timestamp())
    await post(
        web,
        f"{sandbox.url}/graph/_control/leads",
        {"form_id": form, "count": 3, "created_time": noon, "deliver": False, **yesterday},
    )
    await post(
        web,
        f"{sandbox.url}/graph/_control/leads",
        {
            "form_id": form,
            "count": 2,
            "created_time": max(int(time.time()) - 5, int(today.timestamp())),
            "deliver": False,
        },
    )
    return today, today - timedelta(days=1), noon


def ts(at: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(at)
    return out


async def test_a_facebook_poll_stores_each_recent_days_count_and_get_source_counts_its_window(
    web,
    api,
    servers,
    sandbox,
    pool,
):
    fb = await facebook_source(api, sandbox, web)
    await connected_days_ago(pool, fb.source_id, 2)
    form = fb.form_ids[0]
    today, yesterday, noon = await leads_yesterday_and_today(web, sandbox, form, spread_seconds=600)
    assert await poll(servers, pool, fb.source_id) == 5
    assert await stored(pool, fb.source_id) == [
        (yesterday.date(), yesterday, today, 3, 3),
        (today.date(), today, today + timedelta(days=1), 2, 2),
    ]
    # A lead the platform made visible late, behind the watermark: the poll cannot see it, and the
    # days were counted moments ago, so the next poll does not ask again.
    await post(
        web,
        f"{sandbox.url}/graph/_control/leads",
        {"form_id": form, "count": 1, "created_time": noon + 3600, "deliver": False},
    )
    await poll(servers, pool, fb.source_id)
    assert len(await leads_of(pool, fb.source_id)) == 5
    assert [r[3] for r in await stored(pool, fb.source_id)] == [3, 2]
    # The manager's check asks the platform now, and the answer is kept for the reports.
    counts = await api.ingest.GetSourceCounts(
        ingest_pb2.GetSourceCountsRequest(source_id=fb.source_id, since=ts(yesterday), until=ts(today))
    )
    assert (counts.received, counts.platform_reported, counts.difference) == (3, 4, 1)
    assert await stored(pool, fb.source_id) == [
        (yesterday.date(), yesterday, today, 4, 3),
        (today.date(), today, today + timedelta(days=1), 2, 2),
    ]
    # A window that is not one UTC day is kept too, without a day.
    counts = await api.ingest.GetSourceCounts(
        ingest_pb2.GetSourceCountsRequest(
            source_id=fb.source_id, since=ts(yesterday), until=ts(today + timedelta(days=1))
        )
    )
    assert (counts.received, counts.platform_reported) == (5, 6)
    assert (None, yesterday, today + timedelta(days=1), 6, 5) in await stored(pool, fb.source_id)


async def test_a_linkedin_poll_stores_paging_total_per_day(web, api, servers, sandbox, pool):
    li = await linkedin_source(api, sandbox, web)
    await connected_days_ago(pool, li.source_id, 3)
    today = midnight()
    yesterday = today - timedelta(days=1)
    form = str(li.form["id"])
    await post(
        web,
        f"{sandbox.url}/linkedin/_control/leads",
        {
            "form_id": form,
            "count": 2,
            "notify": False,
            "submitted_at": int((yesterday + timedelta(hours=20)).timestamp() * 1000),
        },
    )
    await post(
        web,
        f"{sandbox.url}/linkedin/_control/leads",
        {
            "form_id": form,
            "count": 1,
            "notify": False,
            "submitted_at": max(int(time.time() * 1000) - 5000, int(today.timestamp() * 1000)),
        },
    )
    assert await poll(servers, pool, li.source_id) == 3
    assert await stored(pool, li.source_id) == [
        (yesterday.date(), yesterday, today, 2, 2),
        (today.date(), today, today + timedelta(days=1), 1, 1),
    ]


async def test_no_count_is_stored_when_the_platform_refuses(web, api, servers, sandbox, pool):
    li = await linkedin_source(api, sandbox, web)
    # The count asked after a poll is throttled: nothing is stored, and the source backs off.
    await post(web, f"{sandbox.url}/linkedin/_control/leads", {"form_id": str(li.form["id"]), "notify": False})
    await post(web, f"{sandbox.url}/linkedin/_control/errors", {"status": 429, "count": 1, "access_token": li.token})
    async with pool.acquire() as con:
        connection = await connections_store.connection(con, UUID(li.source_id))
    assert await platform_counts.after_poll(servers.ingest.deps, connection) == 0
    assert await stored(pool, li.source_id) == []
    async with pool.acquire() as con:
        assert (await connections_store.connection(con, UUID(li.source_id)))["backoff_until"] is not None


def test_days_due_skips_fresh_checks_and_settled_equal_days():
    now = datetime(2026, 5, 2, 10, 0, tzinfo=UTC)
    connected = datetime(2026, 4, 1, tzinfo=UTC)
    day1, day2 = now.date() - timedelta(days=1), now.date()

    def row(platform: int, ours: int, checked: datetime) -> dict:
        return {"platform_reported": platform, "leadrelay_count": ours, "checked_at": checked}

    assert platform_counts.days_due(now, connected, {}) == [day1, day2]
    assert platform_counts.days_due(now, now - timedelta(hours=2), {}) == [day2]  # connected today
    assert (
        platform_counts.days_due(
            now,
            connected,
            {
                day1: row(4, 4, now - timedelta(hours=9)),  # checked after the day ended, equal: settled
                day2: row(1, 1, now - timedelta(minutes=5)),  # fresh
            },
        )
        == []
    )
    assert platform_counts.days_due(
        now,
        connected,
        {
            day1: row(4, 3, now - timedelta(hours=9)),  # complete but different: asked again
            day2: row(1, 1, now - timedelta(hours=1)),  # stale
        },
    ) == [day1, day2]
    assert platform_counts.days_due(
        now,
        connected,
        {
            day1: row(4, 4, datetime(2026, 5, 1, 23, 0, tzinfo=UTC)),  # equal, but counted before the day ended
            day2: row(1, 1, now - timedelta(hours=1)),
        },
    ) == [day1, day2]
