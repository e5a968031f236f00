"""The manager's file work in a real headless Chromium, against the real services and the sandbox
CRM: download the rejected leads, fix them, upload them (preview, apply, result, the rows still to
fix), see them accepted and delivered once; close the page mid-upload and find the upload finished
in the history; import a file whose columns need a hand in the review step."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from leadrelay.v1 import common_pb2, ingest_pb2, validation_pb2
from reports_app import users
from tests.ingest_service.file_support import csv_bytes, export, file_source, final, run
from tests.reports_app.console_support import (
    CHROMIUM,
    chromium,
    quiet,
    running_console,
    screenshot,
    settled,
    sign_in,
)
from tests.waiting import eventually

PASSWORD = "upload password"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]

ROWS = [
    ["email", "first_name", "country"],
    ["ana@example.com", "Ana", "Germany"],
    ["bo-at-example.com", "Bo", "Germany"],
    ["cy@example.com", "Cy", "Narnia"],
    ["di@example.com", "Dörte", "Mordor"],
]


async def _admin(pool, account) -> str:
    email = f"files-{account.name}@example.com"
    async with pool.acquire() as con:
        await users.create_user(con, account.account_id, email, PASSWORD, users.ADMIN)
    return email


def _console(settings, servers):  # type: ignore[no-untyped-def]
    return running_console(settings, INGEST_TARGET=servers.ingest_target, VALIDATION_TARGET=servers.validation_target)


async def _crm(web, url: str) -> dict:  # type: ignore[no-untyped-def]
    async with web.get(url) as reply:
        return await reply.json()


async def test_a_manager_fixes_rejected_leads_and_uploads_them_back(
    pool, account, api, settings, servers, sandbox, web, tmp_path
):
    source_id = await file_source(api, name="Trade show")
    tenant = f"console-{source_id[:8]}"
    await api.postout.CreateDestination(
        validation_pb2.CreateDestinationRequest(
            source_id=source_id,
            name="CRM",
            url=f"{sandbox.url}/crm/{tenant}/leads",
            body=[common_pb2.FieldMapping(column="Email", lead_column="email")],
        )
    )
    done, _ = final(await run(api.ingest.ImportLeads, ingest_pb2.ImportSpec(source_id=source_id), csv_bytes(ROWS)))
    assert (done.rows_accepted, done.rows_rejected) == (1, 3)
    email = await _admin(pool, account)
    async with _console(settings, servers) as app, chromium() as browser:
        page = await browser.new_page(accept_downloads=True, viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        await sign_in(page, app.url, email, PASSWORD, "/rejections")
        await page.get_by_role("heading", name="Rejections", exact=True).wait_for()
        await page.get_by_role("heading", name="Most frequent offending values").wait_for()
        # This manager fixes a CSV (the page offers XLSX first): the narrow-encoding save below is a CSV's.
        await page.get_by_text("CSV", exact=True).first.click()
        await settled(page)
        download_button = page.get_by_role("button", name=re.compile(r"^Download .*rejected leads.*"))
        await _until_there(page, page.locator('button:has-text("Prepare file"):visible').first, download_button)
        async with page.expect_download() as info:
            await download_button.click()
        assert (await info.value).suggested_filename.endswith(".csv")
        rejected = tmp_path / "rejected.csv"
        await (await info.value).save_as(rejected)

        # Fixed in "Excel": Bo's email and Cy's country; Dörte's country left wrong, and her name came
        # back from the spreadsheet as "D?rte" (what a save in a narrow encoding does).
        rows = list(csv.reader(io.StringIO(rejected.read_bytes().decode("utf-8-sig"), newline="")))
        header = rows[0]
        by_name = {r[header.index("first_name")]: r for r in rows[1:]}
        assert sorted(by_name) == ["Bo", "Cy", "Dörte"]
        by_name["Bo"][header.index("email")] = "bo@example.com"
        by_name["Cy"][header.index("country")] = "united states"
        by_name["Dörte"][header.index("first_name")] = "D?rte"
        by_name["Di"] = by_name["Dörte"]
        fixed = tmp_path / "fixed.csv"
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerows(rows)
        fixed.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode())

        await page.goto(f"{app.url}/upload-leads?source={source_id}")
        await page.get_by_role("heading", name="Upload leads", exact=True).wait_for()
        await page.get_by_text("No upload yet for Trade show").wait_for()
        await screenshot(page, "console-upload-empty")
        await page.locator('input[type="file"]').set_input_files(fixed)
        await page.get_by_role("button", name="Preview changes").click()
        await page.get_by_role("heading", name="Changes").wait_for()
        await page.get_by_role(
            "heading", name="Flagged as spreadsheet damage (not applied unless you say so)"
        ).wait_for()
        await screenshot(page, "console-upload-preview")  # waits until every table drew
        main = page.locator('[data-testid="stMain"]')
        text = await main.text_content()
        # Old → new per changed cell, the damaged cell with its stored and file value; nothing applied yet.
        for value in ("bo-at-example.com", "bo@example.com", "Narnia", "united states", "Dörte", "D?rte"):
            assert value in text, value
        await page.get_by_role("button", name="Apply 2 rows").wait_for()
        await page.get_by_text("Apply the 1 flagged row anyway (the values in the file are right)").click()
        async with pool.acquire() as con:
            assert (
                await con.fetchval(
                    "SELECT count(*) FROM imports WHERE account_id = $1 AND kind = 'reupload'", account.account_id
                )
                == 0
            )

        await page.get_by_role("button", name="Apply 3 rows").click()
        await page.get_by_role("heading", name="Rows still to fix").wait_for()
        await screenshot(page, "console-upload-applied")
        text = await main.text_content()
        assert 'country: "Mordor" is not on the picklist' in text
        assert "Not on the picklist" in text and "REJECT_LEAD_" not in text
        to_fix = page.get_by_role("button", name=re.compile(r"^Download the 1 row to fix"))
        async with page.expect_download() as info:
            await to_fix.click()
        again = tmp_path / "again.csv"
        await (await info.value).save_as(again)
        await screenshot(page, "console-upload-result")
        text = await main.text_content()
        assert "Finished" in text and email in text  # the history names who uploaded
        assert app.errors() == []

    back = list(csv.reader(io.StringIO(again.read_bytes().decode("utf-8-sig"), newline="")))
    assert back[0] == header
    assert [r[0] for r in back[1:]] == [by_name["Di"][0]]
    assert back[1][header.index("CustomReason")] == 'country: "Mordor" is not on the picklist'

    leads = {by_name[n][0]: n for n in ("Bo", "Cy", "Di")}
    got = {lid: (await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=lid))).status for lid in leads}
    assert got == {
        by_name["Bo"][0]: common_pb2.LEAD_STATUS_ACCEPTED,
        by_name["Cy"][0]: common_pb2.LEAD_STATUS_ACCEPTED,
        by_name["Di"][0]: common_pb2.LEAD_STATUS_REJECTED,
    }
    # The flagged value was applied because the manager said so.
    assert (await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=by_name["Di"][0]))).fields[
        "first_name"
    ] == "D?rte"
    # Ana (accepted at import), Bo and Cy: each received by the CRM exactly once.
    crm = f"{sandbox.url}/crm/_control/{tenant}"
    seen = await eventually(lambda: _three(web, crm), what="three leads at the CRM")
    assert seen["doubled"] == [] and sorted(c["received"] for c in seen["per_lead"].values()) == [1, 1, 1]


async def _three(web, url: str) -> dict | None:  # type: ignore[no-untyped-def]
    seen = await _crm(web, url)
    return seen if seen["leads"] == 3 else None


async def test_closing_the_page_mid_upload_still_finishes_it(pool, account, api, settings, servers, tmp_path):
    source_id = await file_source(api, name="Webinar")
    n = 10_000
    rows = [["email", "first_name", "country"]] + [[f"p{i}-at-example.com", f"P{i}", "Germany"] for i in range(n)]
    done, _ = final(await run(api.ingest.ImportLeads, ingest_pb2.ImportSpec(source_id=source_id), csv_bytes(rows)))
    assert done.rows_rejected == n
    data = await export(api, source_id=source_id, status=common_pb2.LEAD_STATUS_REJECTED)
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    at = table[0].index("email")
    for row in table[1:]:
        row[at] = row[at].replace("-at-", "@")
    fixed = tmp_path / "webinar-fixed.csv"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(table)
    fixed.write_bytes(buffer.getvalue().encode())
    email = await _admin(pool, account)

    async def status() -> str | None:
        async with pool.acquire() as con:
            return await con.fetchval(
                """SELECT CASE WHEN status = 'running' AND lease_until < now() THEN 'interrupted' ELSE status END
                   FROM imports WHERE account_id = $1 AND kind = 'reupload'""",
                account.account_id,
            )

    async with _console(settings, servers) as app, chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        await sign_in(page, app.url, email, PASSWORD, f"/upload-leads?source={source_id}")
        await page.locator('input[type="file"]').set_input_files(fixed)
        await page.get_by_role("button", name="Preview changes").click()
        # A lead of the file stays locked until the page is closed: the upload is surely running then.
        blocker = await pool.acquire()
        hold = blocker.transaction()
        await hold.start()
        await blocker.execute("SELECT 1 FROM leads WHERE lead_id = $1::uuid FOR UPDATE", table[1][0])
        try:
            await page.get_by_role("button", name=f"Apply {n:,} rows").wait_for()
            await quiet(page)  # the 10,000-row preview drew: a click now is the page's, not lost in a redraw
            await page.get_by_role("button", name=f"Apply {n:,} rows").click()
            await page.get_by_text("Applying:").wait_for()
            assert await eventually(status, what="the upload to start") == "running"
            await page.wait_for_function(
                "document.querySelector('[data-testid=\"stMain\"]').textContent.includes('Running')"
            )  # the history follows the run
            await screenshot(page, "console-upload-running")
            await page.close()
        finally:
            await hold.rollback()
            await pool.release(blocker)
        assert await eventually(lambda: _is(status, "finished"), within=120, what="the upload to finish")

        page = await browser.new_page(viewport={"width": 1400, "height": 1000})  # a new browser session
        page.set_default_timeout(30_000)
        await sign_in(page, app.url, email, PASSWORD, f"/upload-leads?source={source_id}")
        await page.get_by_role("heading", name="Upload history").wait_for()
        await screenshot(page, "console-upload-history-after-close")
        text = await page.locator('[data-testid="stMain"]').text_content()
        assert "Finished" in text and email in text and "webinar-fixed.csv" in text
        await _pick(page, "List the leads an upload changed", "webinar-fixed.csv")
        await page.get_by_text("List the leads an upload changed").wait_for()
        # The table's cells are kept in an accessible table once the grid drew.
        await page.wait_for_function(
            "document.querySelector('[data-testid=\"stMain\"]').textContent.includes('p0@example.com')",
            timeout=60_000,
        )
        await screenshot(page, "console-upload-history")
        text = await page.locator('[data-testid="stMain"]').text_content()
        assert "p0@example.com" in text and "Accepted" in text
        assert app.errors() == []
    async with pool.acquire() as con:
        counts = await con.fetchrow(
            "SELECT rows_read, rows_updated, rows_accepted FROM imports WHERE account_id = $1 AND kind = 'reupload'",
            account.account_id,
        )
        accepted = await con.fetchval(
            "SELECT count(*) FROM leads WHERE source_id = $1::uuid AND status = 'ACCEPTED'", source_id
        )
    assert tuple(counts) == (n, n, n) and accepted == n


async def _is(check, wanted: str) -> bool:  # type: ignore[no-untyped-def]
    return await check() == wanted


async def test_the_import_wizard_maps_a_renamed_header_and_an_extra_column(
    pool, account, api, settings, servers, tmp_path
):
    source_id = await file_source(api, name="Fair 2026")
    email = await _admin(pool, account)
    file = tmp_path / "fair.csv"
    file.write_bytes(
        csv_bytes(
            [
                ["E-mail", "First name", "Pays", "Badge number"],
                ["ana@example.com", "Ana", "Germany", "17"],
                ["bo@example.com", "Bo", "United States", "18"],
                ["not-an-email", "Cy", "Germany", "19"],
            ]
        )
    )
    async with _console(settings, servers) as app, chromium() as browser:
        page = await browser.new_page(accept_downloads=True, viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        await sign_in(page, app.url, email, PASSWORD, f"/import-leads?source={source_id}")
        await page.get_by_role("heading", name="Import leads", exact=True).wait_for()
        await page.get_by_text("No import yet").wait_for()
        await page.locator('input[type="file"]').set_input_files(file)
        await page.get_by_role("button", name="Review the mapping").click()
        await page.get_by_role("heading", name="Review the mapping").wait_for()
        # Both unknown columns named at once.
        await page.get_by_text("2 columns match no column of the source: C (Pays), D (Badge number).").wait_for()
        await _choose_in(page, "Column C goes to", "country")
        await screenshot(page, "console-import-review")
        await page.get_by_role("button", name="Validate").click()
        await page.get_by_role("heading", name="Failing rows (1)").wait_for()
        await screenshot(page, "console-import-validated")
        text = await page.locator('[data-testid="stMain"]').text_content()
        assert "Invalid email" in text and "not-an-email" in text
        async with pool.acquire() as con:
            assert await con.fetchval("SELECT count(*) FROM leads WHERE source_id = $1::uuid", source_id) == 0
        await page.get_by_role("button", name="Import 3 rows").click()
        await page.get_by_role("heading", name="Summary").wait_for()
        await eventually(lambda: _finished_import(pool, account), what="the import to finish")
        await page.reload()
        await page.get_by_role("heading", name="Summary").wait_for()
        await screenshot(page, "console-import-summary")
        assert "Finished" in await page.locator('[data-testid="stMain"]').text_content()
        assert app.errors() == []
    async with pool.acquire() as con:
        leads = await con.fetch(
            "SELECT fields, status FROM leads WHERE source_id = $1::uuid ORDER BY fields->>'first_name'", source_id
        )
    assert [(r["fields"]["first_name"], r["fields"]["country"], r["status"]) for r in leads] == [
        ("Ana", "Germany", "ACCEPTED"),
        ("Bo", "United States", "ACCEPTED"),
        ("Cy", "Germany", "REJECTED"),
    ]
    assert [r["fields"]["notes"] for r in leads] == ["Badge number: 17", "Badge number: 18", "Badge number: 19"]


async def _until_there(page, button, shown, attempts: int = 6) -> None:  # type: ignore[no-untyped-def]
    """Clicks `button` until `shown` appears (bounded): on a loaded machine the page may still be
    drawing its charts and move the button under the first click."""
    from playwright.async_api import TimeoutError as NotThere

    for _ in range(attempts):
        try:
            await settled(page)
            await button.click(timeout=10_000)
            await shown.wait_for(timeout=10_000)
            return
        except NotThere:
            continue
    raise AssertionError("the click never took")


async def _finished_import(pool, account) -> bool:  # type: ignore[no-untyped-def]
    async with pool.acquire() as con:
        return bool(
            await con.fetchval(
                "SELECT count(*) FROM imports WHERE account_id = $1 AND kind = 'import' AND status = 'finished'",
                account.account_id,
            )
        )


async def _choose_in(page, label: str, option: str, attempts: int = 10) -> None:  # type: ignore[no-untyped-def]
    """Opens the selectbox labelled `label` and picks `option` (a rerun still drawing can close the
    list: then it is opened again, bounded)."""
    from playwright.async_api import TimeoutError as NotThere

    box = page.get_by_label(label)
    for _ in range(attempts):
        await settled(page)
        await box.click()
        choice = page.get_by_role("option", name=option, exact=True)
        try:
            await choice.wait_for(timeout=3_000)
            await choice.click()
            return
        except NotThere:
            await page.keyboard.press("Escape")
    raise AssertionError(f"the option {option!r} never appeared")


async def _pick(page, label: str, containing: str, attempts: int = 10) -> None:  # type: ignore[no-untyped-def]
    from playwright.async_api import TimeoutError as NotThere

    box = page.get_by_label(label)
    for _ in range(attempts):
        await settled(page)
        await box.click()
        choice = page.get_by_role("option", name=re.compile(re.escape(containing)))
        try:
            await choice.first.wait_for(timeout=3_000)
            await choice.first.click()
            return
        except NotThere:
            await page.keyboard.press("Escape")
    raise AssertionError(f"no option with {containing!r} appeared")
