"""The console in a real headless Chromium against `streamlit run reports_app/server.py`: every
page with words not codes and names not ids (screenshots in tests/artifacts/), lead data shown
literally (never Markdown or HTML, no request to a planted URL), a lead's own link through sign-in,
the Leads filter in the URL, and the Leads download."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from leadrelay import lead_export
from reports_app import users
from reports_app.views import common
from tests.reports_app import seed
from tests.reports_app.console_support import CHROMIUM, chromium, running_console, screenshot, settled, sign_in

PAGES = ("Overview", "Leads", "Source report", "Rejections", "Post-outs", "Lifecycle", "Sources", "Schedules")
PASSWORD = "browser password"
PLANTED = "http://127.0.0.1:9/"
HOSTILE = f"![x]({PLANTED}track.png) <img src={PLANTED}img.png>"
BYTE_DUMP = re.compile(r'\{"0":\s*\d+')

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (`make browser` or apt-get install chromium)",
    ),
]


async def _world(con, account_id):
    """A source with a hostile name, accepted / rejected / posted / failed leads, a paused destination,
    delivery attempts and a failed lifecycle event."""
    now = datetime.now(UTC).replace(microsecond=0)
    src = await seed.source(con, account_id, f"Events {HOSTILE}", "FACEBOOK")
    await con.execute("UPDATE sources SET state = 'NEEDS_RECONNECT' WHERE source_id = $1", src)
    ok = await seed.lead(con, account_id, src, now, platform_lead_id="ok-1", post_out="POSTED")
    bad = await seed.lead(
        con,
        account_id,
        src,
        now - timedelta(minutes=1),
        platform_lead_id=f"bad-1 {HOSTILE}",
        status="REJECTED",
        code="REJECT_LEAD_INVALID_EMAIL",
        reason=f'email: "x@" is not valid {HOSTILE}',
        fields={"email": "x@", "country": HOSTILE},
    )
    failed = await seed.lead(con, account_id, src, now - timedelta(minutes=2), post_out="REJECTED_BY_DESTINATION")
    dest = await con.fetchval(
        """INSERT INTO destinations (account_id, source_id, name, url, paused_until)
           VALUES ($1, $2, 'Acme CRM', 'http://127.0.0.1:1/crm', now() + interval '1 hour')
           RETURNING destination_id""",
        account_id,
        src,
    )
    for lead_id, status in ((ok, "POSTED"), (failed, "REJECTED_BY_DESTINATION")):
        await con.execute(
            """INSERT INTO post_outs (lead_id, destination_id, account_id, source_id, status, idempotency_key,
                                      attempts, last_status_code, last_error)
               VALUES ($1, $2, $3, $4, $5, $8, 1, $6, $7)""",
            lead_id,
            dest,
            account_id,
            src,
            status,
            200 if status == "POSTED" else 422,
            "" if status == "POSTED" else f"duplicate {HOSTILE}",
            str(lead_id),
        )
        await con.execute(
            """INSERT INTO post_out_attempts (lead_id, destination_id, account_id, attempt, status_code, outcome,
                                              reason, response_excerpt)
               VALUES ($1, $2, $3, 1, $4, $5, $6, $7)""",
            lead_id,
            dest,
            account_id,
            200 if status == "POSTED" else 422,
            "posted" if status == "POSTED" else "rejected",
            "",
            '{"error": "duplicate"}',
        )
        await con.execute(
            "INSERT INTO lead_events (lead_id, account_id, type, detail) VALUES ($1, $2, $3, $4)",
            lead_id,
            account_id,
            "posted" if status == "POSTED" else "post_rejected",
            f"destination {dest}",
        )
    await con.execute(
        """INSERT INTO feedback_events (account_id, lead_id, crm_stage, meta_stage, changed_at, status, reason)
           VALUES ($1, $2, 'MQL', 'MARKETING_QUALIFIED_LEAD', now(), 'FAILED', 'the platform refused the event')""",
        account_id,
        ok,
    )
    return src, dest, ok, bad


async def test_every_page_in_words_and_names_with_lead_data_shown_literally(pool, account, settings, tmp_path):
    async with pool.acquire() as con:
        src, dest, _, bad = await _world(con, account.account_id)
        email = f"browser-{account.name}@example.com"
        await users.create_user(con, account.account_id, email, PASSWORD, users.ADMIN)
    ids = {str(src), str(dest)}
    async with running_console(settings) as app, chromium() as browser:
        page = await browser.new_page(accept_downloads=True, viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(20_000)
        planted: list[str] = []
        page.on("request", lambda r: planted.append(r.url) if r.url.startswith(PLANTED) else None)
        # A lead's own link, opened before signing in, comes back after the sign-in.
        await sign_in(page, app.url, email, PASSWORD, f"/leads?lead={bad}")
        await page.get_by_role("heading", name="Lead", exact=True).wait_for()
        await page.get_by_text("Raw answers (as the platform sent them)").wait_for()
        await screenshot(page, "console-lead-detail")
        sidebar = page.locator('[data-testid="stSidebar"]')
        for name in PAGES:
            await sidebar.get_by_role("link", name=name, exact=True).click()
            await page.get_by_role("heading", name=name, exact=True).wait_for()
            await screenshot(page, f"console-{name.lower().replace(' ', '-')}")
            assert await page.locator('[data-testid="stException"]').count() == 0, name
            # textContent: the tables' cells too (drawn on a canvas, kept in an accessible table).
            text = await page.locator('[data-testid="stMain"]').text_content()
            assert not BYTE_DUMP.search(text), name
            assert not [i for i in ids if i in text], f"{name} shows an id where a name exists"
            codes = ["REJECTED_BY_DESTINATION", "MARKETING_QUALIFIED_LEAD", "NEEDS_RECONNECT"]
            if name != "Rejections":  # where the code is a column of its own, for copying
                codes.append("REJECT_LEAD_")
            assert not [c for c in codes if c in text], f"{name} shows a code instead of words"
        # The Overview alert names the source: literally, never as an image or HTML.
        await sidebar.get_by_role("link", name="Overview", exact=True).click()
        await page.get_by_text(f"Source “Events {HOSTILE}” needs to be reconnected", exact=False).wait_for()
        assert await page.locator(f'img[src^="{PLANTED}"]').count() == 0
        assert planted == []

        # The filter lives in the URL: a reload (a fresh session) shows the same view.
        await sidebar.get_by_role("link", name="Leads", exact=True).click()
        await settled(page)
        await page.get_by_text("3 leads").wait_for()
        status = page.locator('[data-testid="stSelectbox"]').filter(has=page.get_by_text("Status", exact=True))
        await status.click()
        await page.get_by_role("option", name="Rejected").click()
        await page.get_by_text("1 lead ·").wait_for()
        assert "status=REJECTED" in page.url
        await page.reload()
        await page.get_by_text("1 lead ·").wait_for()
        # Lead files steer the fix-and-upload loop to XLSX: offered first, with the reason beside it.
        await page.get_by_text(common.FIX_IN_XLSX).wait_for()
        await page.get_by_role("button", name="Prepare file").click()
        download_button = page.get_by_role("button", name="Download leads-")
        await download_button.wait_for()
        async with page.expect_download() as info:
            await download_button.click()
        download = await info.value
        saved = tmp_path / download.suggested_filename
        await download.save_as(saved)
        # A format change takes the prepared file away: never a stale file offered.
        await page.get_by_text("CSV", exact=True).click()
        await download_button.wait_for(state="detached")
        await screenshot(page, "console-leads-filtered")
        # Every page drew without a traceback in the server's log (a never-counted source included).
        assert app.errors() == []
    assert saved.suffix == ".xlsx"
    sheet = load_workbook(saved).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == [*lead_export.FIXED_COLUMNS, "email", "country"]
    assert [(r[7], r[8], r[11]) for r in rows[1:]] == [("REJECTED", "REJECT_LEAD_INVALID_EMAIL", "x@")]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:M2"
    assert planted == []
