"""The Connect page in a real headless Chromium: Connect -> the sandbox's Facebook consent page ->
Allow -> back to the console -> pick the Page -> leads arrive by webhook, with no control call
pointing the sandbox at us (the Page's subscription does)."""

from __future__ import annotations

import os
import subprocess
import sys
from uuid import UUID

from reports_app import users
from tests.ingest_service.connector_support import judged, post
from tests.ports import free_port
from tests.reports_app.pages_support import APP
from tests.reports_app.test_browser import ARTIFACTS, CHROMIUM, _healthy, pytestmark  # noqa: F401


async def _sign_in(page, email: str) -> None:  # type: ignore[no-untyped-def]
    await page.get_by_role("textbox", name="Email").fill(email)
    await page.get_by_role("textbox", name="Password").fill("browser password")
    await page.get_by_role("button", name="Sign in").click()


async def _settled(page) -> None:  # type: ignore[no-untyped-def]
    await page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached")
    assert await page.locator('[data-testid="stException"]').count() == 0


async def test_connect_a_facebook_page_in_the_browser_and_leads_arrive_by_webhook(
    pool, account, settings, servers, sandbox, web
):
    from playwright.async_api import async_playwright

    page_info = await post(web, f"{sandbox.url}/graph/_control/pages", {"name": "Harbour Bakery", "forms": 1})
    await post(web, f"{sandbox.url}/graph/_control/login", {"page_ids": [page_info["page_id"]], "name": "Ada Baker"})
    email = f"connect-{account.name}@example.com"
    async with pool.acquire() as con:
        await users.create_user(con, account.account_id, email, "browser password", users.ADMIN)
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "LEADRELAY_INTERNAL_TOKEN": settings.internal_token,
        "LEADRELAY_SECRET_KEY": settings.secret_key,
        "INGEST_TARGET": servers.ingest_target,
        "LEADRELAY_CONSOLE_URL": f"http://127.0.0.1:{port}",
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
                executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
            )
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(20_000)
            await page.goto(f"http://127.0.0.1:{port}/")
            await _sign_in(page, email)
            await page.get_by_role("heading", name="Overview").wait_for()
            await page.locator('[data-testid="stSidebar"]').get_by_text("Connect", exact=True).click()
            await page.get_by_role("heading", name="Connect", exact=True).first.wait_for()
            await _settled(page)
            await page.get_by_role("button", name="Connect", exact=True).click()
            await page.get_by_role("link", name="Continue to Facebook →").wait_for()
            await page.screenshot(path=str(ARTIFACTS / "connect-begin.png"))
            await page.get_by_role("link", name="Continue to Facebook →").click()

            # The sandbox's consent page.
            await page.get_by_role("button", name="Allow").wait_for()
            assert "Harbour Bakery" in await page.content()
            await page.screenshot(path=str(ARTIFACTS / "connect-facebook-consent.png"))
            await page.get_by_role("button", name="Allow").click()

            # Back on the console (a new browser session: sign in again), on the Connect page.
            await page.wait_for_url(f"http://127.0.0.1:{port}/**")
            await _sign_in(page, email)
            await page.get_by_text("Pick the Facebook Pages to connect").wait_for()
            await _settled(page)
            await page.locator('[data-testid="stMultiSelect"]').click()
            await page.get_by_role("option", name=f"Harbour Bakery ({page_info['page_id']})").click()
            await page.get_by_text("Pick the Facebook Pages to connect").click()  # closes the list
            await page.get_by_role("listbox").wait_for(state="detached")
            await page.screenshot(path=str(ARTIFACTS / "connect-facebook-pick.png"))
            await page.get_by_role("button", name="Connect selected").click()
            await page.get_by_text("Connected Facebook: Harbour Bakery: leads now arrive by webhook.").wait_for()
            await _settled(page)
            await page.get_by_text("Facebook: Harbour Bakery").first.wait_for(state="attached")
            await page.screenshot(path=str(ARTIFACTS / "connect-facebook-connected.png"))
            await browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()

    async with pool.acquire() as con:
        source_id = await con.fetchval(
            "SELECT source_id FROM sources WHERE account_id = $1 AND external_account_id = $2",
            account.account_id,
            page_info["page_id"],
        )
    assert isinstance(source_id, UUID)
    ids = (await post(web, f"{sandbox.url}/graph/_control/leads", {"form_id": page_info["form_ids"][0], "count": 3}))[
        "ids"
    ]
    rows = await judged(pool, str(source_id), 3)
    assert sorted(r["platform_lead_id"] for r in rows) == sorted(ids)
