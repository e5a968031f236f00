"""Report days in the account's time zone: the Source, Rejections and Leads reports count a lead on
the day it arrived where the account is, at :45 offsets too, before and after the deltas are folded;
a zone change counts the account's past leads again, and a lead stored while that happens is counted
once."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import asyncpg

from leadrelay import accounts, report_counts
from leadrelay.settings import Settings
from reports_app import queries
from reports_app.database import reading
from reports_app.filters import ReportFilter
from tests.reports_app import seed

D = date(2026, 3, 10)
PICK = "REJECT_LEAD_INVALID_LIST_VALUE"
# Kathmandu is UTC+05:45: its 10 March ends at 18:15 UTC.
LAST_MINUTE = datetime(2026, 3, 10, 18, 14, 59, tzinfo=UTC)
FIRST_MINUTE = datetime(2026, 3, 10, 18, 15, tzinfo=UTC)


async def _reports(pool: asyncpg.Pool, settings: Settings, account_id, day: date, zone: str) -> dict:
    f = ReportFilter(day, day, zone=zone)
    async with reading(pool, settings.reports_database_role) as con:
        return {
            "source": sorted((r["status"], r["n"]) for r in await queries.source_counts(con, account_id, f) if r["n"]),
            "rejections": [(r["day"], r["n"]) for r in await queries.rejection_counts(con, account_id, f)],
            "reasons": [(r["custom_reason"], r["n"]) for r in await queries.rejection_reasons(con, account_id, f)],
            "leads": sorted(r["platform_lead_id"] for r in await queries.leads_page(con, account_id, f)),
        }


async def _seed_boundary(pool: asyncpg.Pool, account_id) -> None:
    async with pool.acquire() as con:
        src = await seed.source(con, account_id, "Events")
        await seed.lead(con, account_id, src, LAST_MINUTE, platform_lead_id="late")
        await seed.lead(
            con,
            account_id,
            src,
            FIRST_MINUTE,
            status="REJECTED",
            code=PICK,
            reason='country: "Nepal" is not on the picklist',
            platform_lead_id="early",
        )


async def test_a_quarter_hour_offset_zone_splits_its_days_at_local_midnight(pool, account, settings: Settings):
    async with pool.acquire() as con:
        await accounts.set_console_settings(con, account.account_id, time_zone="Asia/Kathmandu")
    await _seed_boundary(pool, account.account_id)
    expected = {
        D: {"source": [("ACCEPTED", 1)], "rejections": [], "reasons": [], "leads": ["late"]},
        D + timedelta(days=1): {
            "source": [("REJECTED", 1)],
            "rejections": [(D + timedelta(days=1), 1)],
            "reasons": [('country: "Nepal" is not on the picklist', 1)],
            "leads": ["early"],
        },
    }
    # Unfolded deltas, then the aggregates the rollup folded them into: the same days.
    for _ in range(2):
        for day, want in expected.items():
            assert await _reports(pool, settings, account.account_id, day, "Asia/Kathmandu") == want
        async with pool.acquire() as con:
            await report_counts.rollup(con)
            assert not await con.fetchval(
                "SELECT count(*) FROM report_lead_deltas WHERE account_id = $1", account.account_id
            )


async def test_a_zone_change_counts_past_leads_again_by_the_new_days(pool, account, settings: Settings):
    await _seed_boundary(pool, account.account_id)
    async with pool.acquire() as con:
        await report_counts.rollup(con)
    # UTC: both on 10 March.
    assert (await _reports(pool, settings, account.account_id, D, "UTC"))["leads"] == ["early", "late"]
    async with pool.acquire() as con:
        await accounts.set_console_settings(con, account.account_id, time_zone="Asia/Kathmandu")
        assert await con.fetchval("SELECT time_zone FROM accounts WHERE account_id = $1", account.account_id) == (
            "Asia/Kathmandu"
        )
    assert (await _reports(pool, settings, account.account_id, D, "Asia/Kathmandu"))["source"] == [("ACCEPTED", 1)]
    nxt = await _reports(pool, settings, account.account_id, D + timedelta(days=1), "Asia/Kathmandu")
    assert (nxt["source"], nxt["rejections"]) == ([("REJECTED", 1)], [(D + timedelta(days=1), 1)])
    # Back to UTC: the same leads, on UTC's days again.
    async with pool.acquire() as con:
        await accounts.set_console_settings(con, account.account_id, time_zone="UTC")
    back = await _reports(pool, settings, account.account_id, D, "UTC")
    assert (back["source"], back["rejections"]) == ([("ACCEPTED", 1), ("REJECTED", 1)], [(D, 1)])


async def test_a_lead_stored_during_a_zone_change_is_counted_once(pool, account, settings: Settings):
    await _seed_boundary(pool, account.account_id)
    async with pool.acquire() as writer, pool.acquire() as changer:
        src = await writer.fetchval("SELECT source_id FROM sources WHERE account_id = $1", account.account_id)
        tx = writer.transaction()
        await tx.start()
        # Stored (its delta appended) but not committed while the zone changes and the rebuild runs.
        await seed.lead(writer, account.account_id, src, LAST_MINUTE, platform_lead_id="meanwhile")
        await asyncio.wait_for(
            accounts.set_console_settings(changer, account.account_id, time_zone="Asia/Kathmandu"), 30
        )
        await tx.commit()
        await report_counts.rollup(changer)
        exact = await changer.fetch(
            """SELECT (received_at AT TIME ZONE 'Asia/Kathmandu')::date AS day, status, count(*) AS n
               FROM leads WHERE account_id = $1 GROUP BY 1, 2 ORDER BY 1, 2""",
            account.account_id,
        )
    assert [(r["day"], r["status"], r["n"]) for r in exact] == [
        (D, "ACCEPTED", 2),
        (D + timedelta(days=1), "REJECTED", 1),
    ]
    assert (await _reports(pool, settings, account.account_id, D, "Asia/Kathmandu"))["source"] == [("ACCEPTED", 2)]


async def test_an_unknown_zone_changes_nothing(pool, account):
    async with pool.acquire() as con:
        try:
            await report_counts.set_zone(con, account.account_id, "Mars/Olympus")
        except asyncpg.InvalidParameterValueError as exc:
            assert "Mars/Olympus" in str(exc)
        else:
            raise AssertionError("PostgreSQL took a zone it does not know")
        assert await con.fetchval("SELECT time_zone FROM accounts WHERE account_id = $1", account.account_id) == "UTC"
