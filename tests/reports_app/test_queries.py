"""The report queries against the real PostgreSQL: aggregates kept current by the leads triggers,
exact counts per page, keyset paging, account isolation and the read-only role."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from leadrelay.capture import dispositions
from leadrelay.report_counts import rollup
from leadrelay.settings import Settings
from reports_app import queries, shaping
from reports_app.database import reading
from reports_app.filters import ReportFilter
from tests.harness import new_account
from tests.reports_app import seed

DAY = date(2026, 3, 10)
AT = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
PICK = "REJECT_LEAD_INVALID_LIST_VALUE"
EMAIL = "REJECT_LEAD_INVALID_EMAIL"


async def _world(pool: asyncpg.Pool, account_id):
    async with pool.acquire() as con:
        events = await seed.source(con, account_id, "Events")
        web = await seed.source(con, account_id, "Web", "FACEBOOK")
        for i in range(3):
            await seed.lead(con, account_id, events, AT, post_out="POSTED" if i < 2 else "FAILED")
        await seed.lead(
            con,
            account_id,
            events,
            AT - timedelta(days=1),
            status="REJECTED",
            code=EMAIL,
            reason='email: "bob@" is not a valid email address (no domain)',
        )
        for _ in range(2):
            await seed.lead(
                con,
                account_id,
                web,
                AT,
                status="REJECTED",
                code=PICK,
                reason='country: "Deutschland" is not on the picklist',
            )
        await seed.lead(con, account_id, web, AT, status="PROCESSING")
    return events, web


async def test_source_report_counts_every_status_code_and_post_out_per_source(pool, account, settings: Settings):
    await _world(pool, account.account_id)
    f = ReportFilter(DAY - timedelta(days=6), DAY)
    async with reading(pool, settings.reports_database_role) as con:
        srcs = await queries.sources(con, account.account_id)
        header, rows = shaping.source_report(await queries.source_counts(con, account.account_id, f), srcs)
    assert header == [
        "Source",
        "Platform",
        "Received",
        "Accepted",
        "Rejected",
        "Processing",
        *dispositions.CATALOGUE,  # every code, always: the columns never come and go with the window
        "Posted",
        "PostFailed",
        "PlatformReported",
        "Difference",
    ]
    by_code = [dict(zip(header, r, strict=True)) for r in rows]
    assert [[r["Source"], r["Received"], r[EMAIL], r[PICK], r["Posted"], r["PostFailed"]] for r in by_code] == [
        ["Events", 4, 1, 0, 2, 1],
        ["Web", 3, 0, 2, 0, 0],
    ]
    assert [[r[c] for c in dispositions.CATALOGUE if c not in (EMAIL, PICK)] for r in by_code] == [[0] * 7] * 2


async def test_counts_follow_updates_and_deletes_and_survive_rollup(pool, account, settings: Settings):
    events, web = await _world(pool, account.account_id)
    f = ReportFilter(DAY, DAY)
    async with pool.acquire() as con:
        # The PROCESSING lead is judged; one rejected lead is fixed and accepted; one posted lead deleted.
        await con.execute("UPDATE leads SET status = 'ACCEPTED' WHERE source_id = $1 AND status = 'PROCESSING'", web)
        await con.execute(
            """UPDATE leads SET status = 'ACCEPTED', disposition_code = '', custom_reason = ''
               WHERE lead_id = (SELECT lead_id FROM leads WHERE source_id = $1 AND status = 'REJECTED' LIMIT 1)""",
            web,
        )
        await con.execute(
            "DELETE FROM leads WHERE lead_id = (SELECT lead_id FROM leads WHERE source_id = $1 "
            "AND post_out_status = 'POSTED' LIMIT 1)",
            events,
        )
        await con.execute("UPDATE leads SET fields = fields WHERE account_id = $1", account.account_id)  # no change

    async def counts():
        async with reading(pool, settings.reports_database_role) as con:
            rows = await queries.source_counts(con, account.account_id, f)
            full_scan = await con.fetch(
                """SELECT source_id, status, disposition_code, post_out_status, count(*) AS n FROM leads
                   WHERE account_id = $1 AND received_at >= $2 AND received_at < $3 GROUP BY 1, 2, 3, 4""",
                account.account_id,
                f.start,
                f.end,
            )
        return sorted(tuple(r.values()) for r in rows), sorted(tuple(r.values()) for r in full_scan)

    aggregated, scanned = await counts()
    assert aggregated == scanned
    assert sorted((r[1], r[4]) for r in aggregated if r[0] == web) == [("ACCEPTED", 2), ("REJECTED", 1)]
    async with pool.acquire() as con:
        await rollup(con)
        assert (
            await con.fetchval("SELECT count(*) FROM report_lead_deltas WHERE account_id = $1", account.account_id) == 0
        )
    assert await counts() == (aggregated, scanned)


async def test_rejection_breakdown_and_offending_values(pool, account, settings: Settings):
    events, web = await _world(pool, account.account_id)
    f = ReportFilter(DAY - timedelta(days=6), DAY)
    async with reading(pool, settings.reports_database_role) as con:
        rj = shaping.rejections(
            await queries.rejection_counts(con, account.account_id, f), {events: "Events", web: "Web"}
        )
        values = shaping.offending_values(await queries.rejection_reasons(con, account.account_id, f))
    assert rj.total == 3
    assert rj.by_disposition == [{"code": PICK, "rejected": 2}, {"code": EMAIL, "rejected": 1}]
    assert rj.by_source == [{"source": "Web", "rejected": 2}, {"source": "Events", "rejected": 1}]
    assert rj.over_time == [
        {"day": DAY - timedelta(days=1), "code": EMAIL, "rejected": 1},
        {"day": DAY, "code": PICK, "rejected": 2},
    ]
    assert [(v.source_id, v.column, v.value, v.count) for v in values] == [
        (web, "country", "Deutschland", 2),
        (events, "email", "bob@", 1),
    ]


async def test_leads_page_is_keyset_paged_newest_first_and_filtered(pool, account, settings: Settings):
    async with pool.acquire() as con:
        src = await seed.source(con, account.account_id, "S")
        ids = [
            await seed.lead(
                con, account.account_id, src, AT - timedelta(minutes=i), status="REJECTED" if i % 2 else "ACCEPTED"
            )
            for i in range(7)
        ]
    f = ReportFilter(DAY, DAY)
    async with reading(pool, settings.reports_database_role) as con:
        seen, after = [], None
        while page := await queries.leads_page(con, account.account_id, f, after, 3):
            seen += [r["lead_id"] for r in page]
            after = (page[-1]["received_at"], page[-1]["lead_id"])
        rejected = await queries.leads_page(
            con, account.account_id, ReportFilter(DAY, DAY, status="REJECTED"), None, 10
        )
        assert await queries.matching_count(con, account.account_id, ReportFilter(DAY, DAY, status="REJECTED")) == 3
    assert seen == ids
    assert [r["lead_id"] for r in rejected] == [ids[1], ids[3], ids[5]]


async def test_no_query_returns_another_accounts_data(pool, account, settings: Settings):
    await _world(pool, account.account_id)
    other = await new_account(pool, "other")
    f = ReportFilter(DAY - timedelta(days=6), DAY)
    async with reading(pool, settings.reports_database_role) as con:
        assert await queries.sources(con, other.account_id) == []
        assert await queries.source_counts(con, other.account_id, f) == []
        assert await queries.rejection_reasons(con, other.account_id, f) == []
        assert await queries.leads_page(con, other.account_id, f) == []
        lead_id = (await queries.leads_page(con, account.account_id, f))[0]["lead_id"]
        assert await queries.lead_detail(con, other.account_id, lead_id) is None
        assert (await queries.lead_detail(con, account.account_id, lead_id))["lead_id"] == lead_id


async def test_the_reader_role_cannot_write_or_read_credentials(pool, account, settings: Settings):
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with reading(pool, settings.reports_database_role) as con:
            await con.fetch("SELECT key_hash FROM api_keys LIMIT 1")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with reading(pool, settings.reports_database_role) as con:
            await con.fetch("SELECT password_hash FROM report_users LIMIT 1")
    with pytest.raises((asyncpg.ReadOnlySQLTransactionError, asyncpg.InsufficientPrivilegeError)):
        async with reading(pool, settings.reports_database_role) as con:
            await con.execute("DELETE FROM leads WHERE account_id = $1", account.account_id)
    async with pool.acquire() as con:  # the role ended with the transaction
        assert await con.fetchval("SELECT current_user") == await con.fetchval("SELECT session_user")
