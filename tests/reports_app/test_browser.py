"""The reports app in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright):
sign in, open every page, filter the Leads Report, download its CSV and check the rows."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from leadrelay import lead_export
from reports_app import users
from tests.ports import free_port
from tests.reports_app import seed
from tests.reports_app.pages_support import APP

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PAGES = ("Leads Report", "Source Report", "Rejections", "Post-outs", "Lifecycle", "Schedules")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (`make browser` or apt-get install chromium)",
    ),
]


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


async def _healthy(url: str, proc: subprocess.Popen) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise AssertionError(f"streamlit exited with {proc.returncode}")
        if await asyncio.to_thread(_ok, url):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("streamlit did not become healthy in 30 s")


async def test_sign_in_browse_filter_and_download(pool, account, settings, tmp_path):
    from playwright.async_api import async_playwright

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
        await users.create_user(con, account.account_id, email, "browser password", users.ADMIN)
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "LEADRELAY_INTERNAL_TOKEN": settings.internal_token,
        "LEADRELAY_SECRET_KEY": settings.secret_key,
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        "LEADRELAY_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(  # noqa: ASYNC220 - a child for the whole test, not awaited
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            APP,
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        await _healthy(f"http://127.0.0.1:{port}/_stcore/health", proc)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                ],
            )
            page = await browser.new_page(accept_downloads=True, viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(20_000)
            await page.goto(f"http://127.0.0.1:{port}/")
            await page.get_by_role("textbox", name="Email").fill(email)
            await page.get_by_role("textbox", name="Password").fill("browser password")
            await page.get_by_role("button", name="Sign in").click()
            await page.get_by_role("heading", name="Overview").wait_for()
            await page.get_by_text("Nothing needs attention.").wait_for()
            await page.screenshot(path=str(ARTIFACTS / "reports-overview.png"))
            sidebar = page.locator('[data-testid="stSidebar"]')
            for name in PAGES:
                await sidebar.get_by_text(name, exact=True).click()
                await page.get_by_role("heading", name=name).wait_for()
                await page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached")
                await page.screenshot(path=str(ARTIFACTS / f"reports-{name.lower().replace(' ', '-')}.png"))
                assert await page.locator('[data-testid="stException"]').count() == 0, name

            await sidebar.get_by_text("Leads Report", exact=True).click()
            await page.get_by_role("heading", name="Leads Report").wait_for()
            await page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached")
            await page.get_by_text("2 leads").wait_for()
            # Exactly "Status": the Schedules page, shown before, has a "Status (Leads report)" box
            # that can linger in the page until the rerun replaces it.
            status = page.locator('[data-testid="stSelectbox"]').filter(has=page.get_by_text("Status", exact=True))
            await status.click()
            await page.get_by_role("option", name="REJECTED").click()
            await page.get_by_text("1 leads").wait_for()
            await page.get_by_role("button", name="Prepare file").click()
            download_button = page.get_by_role("button", name="Download leads-")
            await download_button.wait_for()
            async with page.expect_download() as info:
                await download_button.click()
            download = await info.value
            saved = tmp_path / download.suggested_filename
            await download.save_as(saved)
            await page.screenshot(path=str(ARTIFACTS / "reports-leads-filtered.png"))
            await browser.close()
        rows = list(csv.reader(io.StringIO(saved.read_bytes().decode("utf-8-sig"), newline="")))
        assert rows[0] == [*lead_export.FIXED_COLUMNS, "email", "country"]
        assert [(r[4], r[7], r[8], r[11], r[12]) for r in rows[1:]] == [
            ("bad-1", "REJECTED", "REJECT_LEAD_INVALID_EMAIL", "x@", "Spain")
        ]
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
