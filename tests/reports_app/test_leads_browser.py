"""Finding a lead and acting on it in the console, in a real headless Chromium, through the real
services and the sandbox CRM: search by email opens the lead, its link survives a reload, re-send
delivers a CRM-rejected lead exactly once, re-judge under new criteria names who did it in the
audit trail; on Rejections, the one-click picklist fix with its re-judging flips the leads, posts
each once, and the value leaves the offending values."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest

from leadrelay.v1 import common_pb2, ingest_pb2, validation_pb2
from reports_app import users
from tests.harness import Api
from tests.ingest_service.file_support import csv_bytes, final, run
from tests.reports_app.console_support import CHROMIUM, chromium, running_console, screenshot, settled, sign_in
from tests.validation_service.post_out_support import Crm
from tests.waiting import eventually

PASSWORD = "leads page password"
ROWS = [
    ["email", "first_name", "company", "country"],
    ["ana@example.com", "Ana", "Acme Robotics", "Germany"],
    ["bo@example.com", "Bo", "Borealis Foods", "Narnia"],
    ["cy@example.com", "Cy", "Cyan Labs", "Narnia"],
    ["di@example.com", "Di", "Dial Works", "Narnia"],
    ["fay-at-example.com", "Fay", "Fable Ltd", "Narnia"],
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


def _rules(allowed: list[str]) -> list[validation_pb2.Rule]:
    return [
        validation_pb2.Rule(column="email", email=validation_pb2.EmailCheck()),
        validation_pb2.Rule(column="country", picklist=validation_pb2.Picklist(allowed=allowed)),
    ]


async def _world(api: Api, sandbox, crm_config: dict) -> tuple[str, Crm, dict[str, str]]:  # type: ignore[no-untyped-def]
    """A file source (email and a country picklist) posting to a sandbox CRM tenant, and ROWS imported."""
    source = await api.ingest.CreateSource(
        ingest_pb2.CreateSourceRequest(name="Events", platform=common_pb2.PLATFORM_CSV)
    )
    await api.ingest.SetDefaultMapping(
        ingest_pb2.SetMappingRequest(
            source_id=source.source_id,
            mappings=[
                *(common_pb2.FieldMapping(column=c, form_field=c) for c in ROWS[0]),
                common_pb2.FieldMapping(column="notes", unmapped_fields=True),
            ],
        )
    )
    await api.validation.SetAcceptanceCriteria(
        validation_pb2.SetAcceptanceCriteriaRequest(source_id=source.source_id, rules=_rules(["Germany"]))
    )
    crm = Crm(sandbox.url)
    await crm.set(**crm_config)
    await api.postout.CreateDestination(
        validation_pb2.CreateDestinationRequest(
            source_id=source.source_id,
            name="Sandbox CRM",
            url=crm.url,
            body=[
                common_pb2.FieldMapping(column="lead_id", lead_column="lead_id"),
                common_pb2.FieldMapping(column="Email", lead_column="email"),
            ],
            # The sandbox CRM answers 200 {"status": "rejected", "reason": ...} when it refuses a lead.
            success=validation_pb2.SuccessCriteria(
                result_json_path="$.status", accepted_values=["accepted"], reason_json_path="$.reason"
            ),
        )
    )
    done, _ = final(
        await run(api.ingest.ImportLeads, ingest_pb2.ImportSpec(source_id=source.source_id), csv_bytes(ROWS))
    )
    assert (done.rows_accepted, done.rows_rejected) == (1, 4)
    leads = (await api.ingest.ListLeads(ingest_pb2.ListLeadsRequest(source_id=source.source_id))).leads
    return source.source_id, crm, {lead.fields["first_name"]: lead.lead_id for lead in leads}


async def _created(crm: Crm) -> dict[str, int]:
    return {lead: c["created"] for lead, c in (await crm.stats())["per_lead"].items() if c["created"]}


async def _main_text(page) -> str:  # type: ignore[no-untyped-def]
    return await page.locator('[data-testid="stMain"]').text_content() or ""


async def test_search_opens_the_lead_resend_posts_it_once_and_rejudging_names_the_user(
    pool, account, api, settings, servers, sandbox
):
    source_id, crm, ids = await _world(api, sandbox, {"reject_rate": 1.0, "reject_reason": "owner missing"})
    ana = ids["Ana"]

    async def ana_rejected() -> bool:
        lead = await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=ana))
        return lead.post_out_status == "REJECTED_BY_DESTINATION"

    await eventually(ana_rejected, what="the CRM rejected Ana")
    email = f"leads-{account.name}@example.com"
    async with pool.acquire() as con:
        user_id = await users.create_user(con, account.account_id, email, PASSWORD, users.ADMIN)
    async with running_console(settings, VALIDATION_TARGET=servers.validation_target) as app, chromium() as browser:
        page = await browser.new_page(viewport={"width": 1500, "height": 1000})
        page.set_default_timeout(60_000)  # a loaded, shared machine draws slowly
        await sign_in(page, app.url, email, PASSWORD, "/leads")
        await page.get_by_role("heading", name="Leads").wait_for()
        await settled(page)
        box = page.get_by_label("Find a lead")
        await box.wait_for(timeout=60_000)  # a loaded machine draws the first page slowly
        # The address typed differently from how it is stored: one lead found, and it opens.
        await box.fill("ANA@Example.com")
        await box.press("Enter")
        await page.get_by_text("Raw answers (as the platform sent them)").wait_for()
        assert f"lead={ana}" in page.url
        await screenshot(page, "console-leads-search-opened")  # waits until every table drew
        text = await _main_text(page)
        assert "Acme Robotics" in text and "ana@example.com" in text and "Rejected by the CRM" in text
        assert "owner missing" in text  # the CRM's answer, in the attempt's row

        # The lead's link survives a reload (a fresh session: the search box is empty again).
        await page.reload()
        await page.get_by_text("Raw answers (as the platform sent them)").wait_for()
        await screenshot(page, "console-leads-after-reload")
        assert "Acme Robotics" in await _main_text(page)

        # The CRM takes leads again: Re-send delivers Ana, once.
        await crm.set(reject_rate=0.0)
        await page.get_by_role("button", name="Re-send to the CRM").click()
        await page.get_by_text("Sent to the CRM again.").wait_for()
        await eventually(lambda: _is(_created(crm), {ana: 1}), what="Ana created in the CRM")
        await page.get_by_role("button", name="Refresh").click()
        await settled(page)
        await screenshot(page, "console-leads-resent")

        # Narnia becomes a country we take; Bo is re-judged from his page.
        await api.validation.SetAcceptanceCriteria(
            validation_pb2.SetAcceptanceCriteriaRequest(source_id=source_id, rules=_rules(["Germany", "Narnia"]))
        )
        await page.goto(f"{app.url}/leads?lead={ids['Bo']}")
        await page.get_by_text("Raw answers (as the platform sent them)").wait_for()
        await settled(page)
        await page.get_by_role("button", name="Re-judge", exact=True).click()
        await page.get_by_text("Re-judged 1 lead: 1 accepted (sent on to the CRM), 0 still rejected.").wait_for()
        await page.get_by_text("Raw answers (as the platform sent them)").wait_for()
        await screenshot(page, "console-leads-rejudged")
        text = await _main_text(page)
        assert email in text  # the audit trail's Who names the user who re-judged
        assert app.errors() == []
    await eventually(lambda: _is(_created(crm), {ana: 1, ids["Bo"]: 1}), what="Bo created in the CRM")
    async with pool.acquire() as con:
        events = await con.fetch(
            "SELECT type, actor FROM lead_events WHERE lead_id = ANY($1::uuid[]) AND actor <> '' ORDER BY event_id",
            [UUID(ana), UUID(ids["Bo"])],
        )
    assert [(e["type"], e["actor"]) for e in events] == [
        ("post_requeued", f"user:{user_id}"),
        ("validated", f"user:{user_id}"),
    ]
    assert await _created(crm) == {ana: 1, ids["Bo"]: 1}


async def test_picklist_fix_and_rejudge_flips_the_leads_and_the_value_leaves_the_list(
    pool, account, api, settings, servers, sandbox
):
    _, crm, ids = await _world(api, sandbox, {})
    email = f"picklist-{account.name}@example.com"
    async with pool.acquire() as con:
        await users.create_user(con, account.account_id, email, PASSWORD, users.ADMIN)
    async with running_console(settings, VALIDATION_TARGET=servers.validation_target) as app, chromium() as browser:
        page = await browser.new_page(viewport={"width": 1500, "height": 1000})
        page.set_default_timeout(120_000)  # a loaded, shared machine draws the charts slowly
        await sign_in(page, app.url, email, PASSWORD, "/rejections")
        await page.get_by_role("heading", name="Rejections").wait_for()
        await page.get_by_text("Fix a picklist value").wait_for()
        await settled(page)
        # No target is preselected: the button waits for a choice.
        assert await page.get_by_role("button", name="Add to mapper").is_disabled()
        await screenshot(page, "console-rejections-picklist-fix")
        await page.get_by_text("and re-judge the 3 leads rejected with this value now").wait_for()
        target = page.locator('[data-testid="stSelectbox"]').filter(has=page.get_by_text("Maps to", exact=True))
        await target.locator("input").click()
        await page.keyboard.type("Germany")
        await page.keyboard.press("Enter")
        await page.get_by_role("button", name="Add to mapper").and_(page.locator(":enabled")).wait_for()
        await settled(page)
        await page.get_by_role("button", name="Add to mapper").click()
        await page.get_by_text("Re-judged 3 leads: 3 accepted (sent on to the CRM), 0 still rejected.").wait_for()
        await screenshot(page, "console-rejections-after-fix")
        text = await _main_text(page)
        # Fay (an invalid email; her reason names Narnia too) is the only rejection left: no lead is
        # rejected for the picklist any more, and Narnia left the offending values and the form.
        assert "Not on the picklist" not in text
        assert "Fix a picklist value" not in text
        assert app.errors() == []
    flipped = {ids[n]: 1 for n in ("Ana", "Bo", "Cy", "Di")}
    await eventually(lambda: _is(_created(crm), flipped), what="Ana, Bo, Cy and Di each created once")
    lead = await api.ingest.GetLead(ingest_pb2.GetLeadRequest(lead_id=ids["Fay"]))
    assert lead.status == common_pb2.LEAD_STATUS_REJECTED


async def _is(value, expected) -> bool:  # type: ignore[no-untyped-def]
    return await value == expected
