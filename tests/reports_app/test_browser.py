"""The console in a real headless Chromium against `streamlit run reports_app/server.py`: sign in,
open every page, filter the Leads page, download its CSV and check the rows."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from leadrelay import lead_export, users
from tests.reports_app import seed
from tests.reports_app.console_support import ARTIFACTS, CHROMIUM, chromium, running_console, settled, sign_in

PAGES = ("Overview", "Leads", "Sources", "Rejections", "Post-outs", "Lifecycle", "Schedules")
PASSWORD = "browser password"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (`make browser` or apt-get install chromium)",
    ),
]


async def test_sign_in_browse_filter_and_download(pool, account, settings, tmp_path):
    now = datetime.now(UTC).replace(microsecond=0)
    async with pool.acquire() as con:
        src = await seed.source(con, account.account_id, "Events")
        await seed.lead(con, account.account_id, src, now, platform_lead_id="ok-1")
        await seed.lead(
            con,
            account.account_id,
            src,
            now - timedelta(minutes=1),
            platform_lead_id="bad-1",
            status="REJECTED",
            code="REJECT_LEAD_INVALID_EMAIL",
            reason='email: "x@" is not valid',
            fields={"email": "x@", "country": "Spain"},
        )
        email = f"browser-{account.name}@example.com"
        await users.create_user(con, account.account_id, email, PASSWORD, users.ADMIN)
    async with running_console(settings) as app, chromium() as browser:
        page = await browser.new_page(accept_downloads=True, viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(20_000)
        await sign_in(page, app.url, email, PASSWORD)
        await page.get_by_role("heading", name="Overview").wait_for()
        await page.get_by_text("Nothing needs attention.").wait_for()
        sidebar = page.locator('[data-testid="stSidebar"]')
        for name in PAGES:
            await sidebar.get_by_role("link", name=name, exact=True).click()
            await page.get_by_role("heading", name=name).wait_for()
            await settled(page)
            await page.screenshot(path=str(ARTIFACTS / f"console-{name.lower()}.png"), full_page=True)
            assert await page.locator('[data-testid="stException"]').count() == 0, name

        await sidebar.get_by_role("link", name="Leads", exact=True).click()
        await page.get_by_role("heading", name="Leads").wait_for()
        await settled(page)
        await page.get_by_text("2 leads").wait_for()
        status = page.locator('[data-testid="stSelectbox"]').filter(has=page.get_by_text("Status", exact=True))
        await status.click()
        await page.get_by_role("option", name="Rejected").click()
        await page.get_by_text("1 leads").wait_for()
        await page.get_by_role("button", name="Prepare file").click()
        download_button = page.get_by_role("button", name="Download leads-")
        await download_button.wait_for()
        async with page.expect_download() as info:
            await download_button.click()
        download = await info.value
        saved = tmp_path / download.suggested_filename
        await download.save_as(saved)
        await page.screenshot(path=str(ARTIFACTS / "console-leads-filtered.png"), full_page=True)
    rows = list(csv.reader(io.StringIO(saved.read_bytes().decode("utf-8-sig"), newline="")))
    assert rows[0] == [*lead_export.FIXED_COLUMNS, "email", "country"]
    assert [(r[4], r[7], r[8], r[11], r[12]) for r in rows[1:]] == [
        ("bad-1", "REJECTED", "REJECT_LEAD_INVALID_EMAIL", "x@", "Spain")
    ]
