"""What a manager does in the console, in a real headless Chromium: an admin resumes a paused
destination and sends failed and CRM-rejected deliveries again (through the real validation
service), deletes a schedule only after confirming; a viewer sees personal data masked; nobody sees
Streamlit's developer chrome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reports_app import users
from tests.reports_app import seed
from tests.reports_app.console_support import CHROMIUM, chromium, running_console, screenshot, settled, sign_in

PASSWORD = "actions password"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


async def test_admin_resumes_a_paused_destination_and_sends_failed_and_rejected_deliveries_again(
    pool, account, settings, servers
):
    now = datetime.now(UTC)
    async with pool.acquire() as con:
        src = await seed.source(con, account.account_id, "Events")
        dest = await con.fetchval(
            """INSERT INTO destinations (account_id, source_id, name, url, paused_until, consecutive_failures)
               VALUES ($1, $2, 'Acme CRM', 'http://127.0.0.1:1/crm', now() + interval '1 hour', 10)
               RETURNING destination_id""",
            account.account_id,
            src,
        )
        leads = {}
        for status in ("FAILED", "REJECTED_BY_DESTINATION"):
            lead_id = await seed.lead(con, account.account_id, src, now - timedelta(minutes=1), post_out=status)
            await con.execute(
                """INSERT INTO post_outs (lead_id, destination_id, account_id, source_id, status, idempotency_key,
                                          attempts, last_error)
                   VALUES ($1, $2, $3, $4, $5, $6, 3, 'refused')""",
                lead_id,
                dest,
                account.account_id,
                src,
                status,
                str(lead_id),
            )
            leads[status] = lead_id
        email = f"actions-{account.name}@example.com"
        await users.create_user(con, account.account_id, email, PASSWORD, users.ADMIN)
    async with (
        running_console(settings, VALIDATION_TARGET=servers.validation_target) as app,
        chromium() as browser,
    ):
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(20_000)
        await sign_in(page, app.url, email, PASSWORD, "/post-outs")
        await page.get_by_role("heading", name="Post-outs").wait_for()
        await settled(page)
        assert await page.get_by_role("button", name="Deploy").count() == 0
        await page.get_by_role("button", name="Resume sending").click()
        await page.get_by_text("“Acme CRM” resumed").wait_for()
        async with pool.acquire() as con:
            paused = await con.fetchval("SELECT paused_until FROM destinations WHERE destination_id = $1", dest)
        assert paused is None or paused <= datetime.now(UTC)
        clicked = datetime.now(UTC)
        await page.get_by_role("button", name="Send all 2 again").click()
        await page.get_by_text("2 deliveries queued to be sent again.").wait_for()
        await screenshot(page, "console-post-outs-after-actions")
    async with pool.acquire() as con:
        requeued = await con.fetch(
            "SELECT lead_id FROM post_outs WHERE destination_id = $1 AND enqueued_at > $2", dest, clicked
        )
    # Both the failed and the CRM-rejected delivery were queued again (a fresh retry horizon).
    assert {r["lead_id"] for r in requeued} == set(leads.values())


async def test_a_viewer_sees_personal_data_masked_and_no_lead_files(pool, account, settings):
    async with pool.acquire() as con:
        src = await seed.source(con, account.account_id, "Events", columns=("email", "phone", "country"))
        lead_id = await seed.lead(
            con,
            account.account_id,
            src,
            datetime.now(UTC),
            status="REJECTED",
            code="REJECT_LEAD_INVALID_PHONE",
            reason='phone: "+49 30 1234567" is not a valid number',
            fields={"email": "jane.doe@example.com", "phone": "+49 30 1234567", "country": "Germany"},
        )
        email = f"viewer-{account.name}@example.com"
        await users.create_user(con, account.account_id, email, PASSWORD, users.VIEWER)
    async with running_console(settings) as app, chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(20_000)
        await sign_in(page, app.url, email, PASSWORD, f"/leads?lead={lead_id}")
        await page.get_by_text("Raw answers (as the platform sent them)").wait_for()
        await screenshot(page, "console-lead-detail-viewer")
        text = await page.locator('[data-testid="stMain"]').text_content()
        assert "j•••@example.com" in text and "•••67" in text
        assert "jane.doe@example.com" not in text and "1234567" not in text
        assert await page.get_by_role("button", name="Prepare file").count() == 0
        await page.get_by_text("Lead files carry personal data").wait_for()


async def test_deleting_a_schedule_asks_first(pool, account, settings):
    async with pool.acquire() as con:
        email = f"sched-{account.name}@example.com"
        await users.create_user(con, account.account_id, email, PASSWORD, users.ADMIN)
    async with running_console(settings) as app, chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(20_000)
        await sign_in(page, app.url, email, PASSWORD, "/schedules")
        await page.get_by_text("No scheduled report yet.").wait_for()
        await page.get_by_label("Name").fill("Daily leads")
        await page.get_by_label("Recipients (comma-separated)").fill("ops@example.com")
        await page.get_by_role("button", name="Save schedule").click()
        await page.get_by_text("Saved “Daily leads”").wait_for()
        await settled(page)
        await page.get_by_text("Saved “Daily leads”").wait_for()  # still there once the page settled
        schedule = page.locator('[data-testid="stSelectbox"]').filter(has=page.get_by_text("Schedule", exact=True))
        await _choose(page, schedule, "Daily leads")
        await page.get_by_role("button", name="Delete…").click()
        await page.get_by_text("Delete “Daily leads” and its delivery history?").wait_for()
        await screenshot(page, "console-schedule-delete-confirm")
        async with pool.acquire() as con:
            assert await con.fetchval("SELECT count(*) FROM report_schedules WHERE account_id = $1", account.account_id)
        await page.get_by_role("button", name="Yes, delete it").click()
        await page.get_by_text("Deleted “Daily leads”.").wait_for()
    async with pool.acquire() as con:
        assert not await con.fetchval("SELECT count(*) FROM report_schedules WHERE account_id = $1", account.account_id)


async def _choose(page, selectbox, option: str, attempts: int = 10) -> None:  # type: ignore[no-untyped-def]
    """Opens the selectbox and picks `option`. A rerun still drawing the page can close the list or
    show it before the new option arrived: then the list is opened again (bounded)."""
    from playwright.async_api import TimeoutError as NotThere

    for _ in range(attempts):
        await settled(page)
        await selectbox.click()
        choice = page.get_by_role("option", name=option)
        try:
            await choice.wait_for(timeout=3_000)
            await choice.click()
            return
        except NotThere:  # the list closed, or the option has not arrived yet
            await page.keyboard.press("Escape")
    raise AssertionError(f"the option {option!r} never appeared")
