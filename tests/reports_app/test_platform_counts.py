"""The platform's reported count in the reports: stored by the connectors (poll and GetSourceCounts
against the sandbox over real HTTP), shown in the Source Report with the difference, and raised as an
Overview alert when a recent complete day disagrees."""

from __future__ import annotations

from datetime import timedelta

from ingest_service.connectors import platform_counts_store
from leadrelay.v1 import ingest_pb2
from reports_app import queries, report_files, users
from reports_app.database import reading
from reports_app.filters import ReportFilter
from tests.ingest_service.connector_support import facebook_source, judged, post
from tests.ingest_service.connectors.test_platform_counts import (
    connected_days_ago,
    leads_yesterday_and_today,
    midnight,
    poll,
    ts,
)
from tests.reports_app import seed
from tests.reports_app.pages_support import app_env, button, open_page, run, signed_in

PASSWORD = "correct horse battery"


async def test_source_report_and_overview_show_the_platforms_count(
    web,
    api,
    account,
    servers,
    sandbox,
    pool,
    settings,
    monkeypatch,
):
    fb = await facebook_source(api, sandbox, web)
    await connected_days_ago(pool, fb.source_id, 2)
    form = fb.form_ids[0]
    today, yesterday, noon = await leads_yesterday_and_today(web, sandbox, form)
    assert await poll(servers, pool, fb.source_id) == 5
    await judged(pool, fb.source_id, 5)
    # A late lead of yesterday the poll cannot see; the manager's check finds it missing.
    await post(
        web,
        f"{sandbox.url}/graph/_control/leads",
        {"form_id": form, "count": 1, "created_time": noon + 60, "deliver": False},
    )
    await api.ingest.GetSourceCounts(
        ingest_pb2.GetSourceCountsRequest(source_id=fb.source_id, since=ts(yesterday), until=ts(today))
    )

    message = (
        f"Source “Facebook page” (Facebook): the platform reports 4 leads created on "
        f"{yesterday:%Y-%m-%d}, LeadRelay has 3."
    )
    both = ReportFilter(yesterday.date(), today.date())
    async with reading(pool, settings.reports_database_role) as con:
        counts = await queries.platform_counts(con, account.account_id, both)
        assert {str(k): v for k, v in counts.items()} == {fb.source_id: (6, 5)}
        header, rows = await report_files.table(con, account.account_id, "SOURCE", both)
        row = dict(zip(header, rows[0], strict=True))
        assert (row["Source"], row["Received"], row["PlatformReported"], row["Difference"]) == (
            "Facebook page",
            5,
            6,
            1,
        )
        # Every lead was received today, so yesterday shows none received — yet the platform's 4 created
        # yesterday compare with LeadRelay's 3 created yesterday.
        header, rows = await report_files.table(
            con, account.account_id, "SOURCE", ReportFilter(yesterday.date(), yesterday.date())
        )
        row = dict(zip(header, rows[0], strict=True))
        assert (row["Received"], row["PlatformReported"], row["Difference"]) == (0, 4, 1)
        assert await queries.alerts(con, account.account_id) == [message]

    app_env(monkeypatch, settings, ingest_target=servers.ingest_target)
    email = f"viewer-{account.name}@example.com"
    async with pool.acquire() as con:
        await users.create_user(con, account.account_id, email, PASSWORD, "viewer")
    at = await signed_in(pool, email)
    assert f"⚠ {message}" in [t.value for t in at.text]  # plain text, never Markdown
    await open_page(at, "Sources")
    table = at.dataframe[0].value
    assert table[["Source", "Received", "Platform's count", "Difference"]].values.tolist() == [
        ["Facebook page", 5, 6, 1],
        ["Total", 5, 6, 1],
    ]

    # Another late lead of yesterday: Check now asks the platform again, and the page shows its count.
    await post(
        web,
        f"{sandbox.url}/graph/_control/leads",
        {"form_id": form, "count": 1, "created_time": noon + 120, "deliver": False},
    )
    button(at, "Check now").click()
    await run(at)
    assert [m.value for m in at.success] == ["Counted now."]
    table = at.dataframe[0].value
    assert table[["Source", "Platform's count", "Difference"]].values.tolist()[0] == ["Facebook page", 7, 2]


async def test_only_recent_complete_days_that_disagree_raise_the_alert(pool, account, settings):
    today = midnight()
    async with pool.acquire() as con:
        web = await seed.source(con, account.account_id, "Web", "FACEBOOK")
        ads = await seed.source(con, account.account_id, "Ads", "LINKEDIN")
        for days_ago, source, platform, ours in (
            (0, web, 10, 7),  # today, counted before its end: not complete, no alert
            (2, web, 5, 5),  # equal
            (3, web, 9, 8),  # complete and different: alert
            (3, ads, 2, 3),  # LeadRelay has more than the platform (a deleted lead): alert too
            (10, web, 7, 1),  # too old for an alert, outside the report window below
        ):
            start, end = platform_counts_store.day_window(today.date() - timedelta(days=days_ago))
            await platform_counts_store.record(con, account.account_id, source, start, end, platform, ours)
        # A window that is not one day never shows in the reports.
        await platform_counts_store.record(
            con, account.account_id, web, today - timedelta(days=3), today + timedelta(hours=1), 100, 0
        )
    day3 = (today - timedelta(days=3)).strftime("%Y-%m-%d")
    week = ReportFilter(today.date() - timedelta(days=6), today.date())
    async with reading(pool, settings.reports_database_role) as con:
        assert await queries.alerts(con, account.account_id) == [
            f"Source “Ads” (Linkedin): the platform reports 2 leads created on {day3}, LeadRelay has 3.",
            f"Source “Web” (Facebook): the platform reports 9 leads created on {day3}, LeadRelay has 8.",
        ]
        assert await queries.platform_counts(con, account.account_id, week) == {web: (24, 20), ads: (2, 3)}
        _header, rows = await report_files.table(con, account.account_id, "SOURCE", week)
        assert [r[-2:] for r in rows] == [[2, -1], [24, 4]]  # Ads, Web (by name)
        # The reader role reads the table (granted in 0008) and cannot write it.
        assert await con.fetchval("SELECT has_table_privilege('leadrelay_reader', 'platform_counts', 'SELECT')")
        assert not await con.fetchval("SELECT has_table_privilege('leadrelay_reader', 'platform_counts', 'INSERT')")
