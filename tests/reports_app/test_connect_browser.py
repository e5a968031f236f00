"""The Connect page in a real headless Chromium: Connect -> the sandbox's Facebook consent page ->
Allow -> back to the console (still signed in: the session cookie) -> pick the Page -> leads arrive by
webhook, with no control call pointing the sandbox at us (the Page's subscription does)."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest

from reports_app import users
from tests.ingest_service.connector_support import judged, post
from tests.reports_app.console_support import (
    ARTIFACTS,
    CHROMIUM,
    chromium,
    running_console,
    screenshot,
    settled,
    sign_in,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]
PASSWORD = "browser password"


async def test_connect_a_facebook_page_in_the_browser_and_leads_arrive_by_webhook(
    pool, account, settings, servers, sandbox, web
):
    page_info = await post(web, f"{sandbox.url}/graph/_control/pages", {"name": "Harbour Bakery", "forms": 1})
    await post(web, f"{sandbox.url}/graph/_control/login", {"page_ids": [page_info["page_id"]], "name": "Ada Baker"})
    email = f"connect-{account.name}@example.com"
    async with pool.acquire() as con:
        await users.create_user(con, account.account_id, email, PASSWORD, users.ADMIN)

    async with running_console(settings, INGEST_TARGET=servers.ingest_target) as console, chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(20_000)
        await sign_in(page, console.url, email, PASSWORD, "/connect")
        await page.get_by_role("heading", name="Connect a platform", level=1).wait_for()  # the page title
        await settled(page)
        await page.get_by_role("button", name="Connect", exact=True).click()
        await page.get_by_role("link", name="Continue to Facebook →").wait_for()
        await screenshot(page, "connect-begin")
        await page.get_by_role("link", name="Continue to Facebook →").click()

        # The sandbox's consent page.
        await page.get_by_role("button", name="Allow").wait_for()
        assert "Harbour Bakery" in await page.content()
        await page.screenshot(path=str(ARTIFACTS / "connect-facebook-consent.png"))
        await page.get_by_role("button", name="Allow").click()

        # Back on the console's Connect page, still signed in.
        await page.get_by_text("Pick the Facebook Pages to connect").wait_for()
        await settled(page)
        await page.locator('[data-testid="stMultiSelect"]').click()
        await page.get_by_role("option", name=f"Harbour Bakery ({page_info['page_id']})").click()
        await page.get_by_text("Pick the Facebook Pages to connect").click()  # closes the list
        await page.get_by_role("listbox").wait_for(state="detached")
        await screenshot(page, "connect-facebook-pick")
        await page.get_by_role("button", name="Connect selected").click()
        await page.get_by_text("Connected Facebook: Harbour Bakery: leads now arrive by webhook.").wait_for()
        await settled(page)
        await page.get_by_text("Facebook: Harbour Bakery").first.wait_for(state="attached")
        await screenshot(page, "connect-facebook-connected")
        assert not console.errors()

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
