"""The set-up pages for criteria, destinations, the delivery log and lifecycle feedback, driven in a
real headless Chromium against the real services and the sandbox, as a manager would: a picklist
with a mapper tested before saving, saved and re-judged, compared and rolled back; a HubSpot-preset
destination with a test send that records nothing, then a lead posted, its log and a replay; the
stage mapping and a flush; and a viewer who can change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from leadrelay.v1 import common_pb2, feedback_pb2, ingest_pb2, validation_pb2
from reports_app import users
from tests.feedback_service import support as feedback_support
from tests.harness import Api
from tests.reports_app import seed
from tests.reports_app import setup_steps_rules as steps
from tests.reports_app.console_support import CHROMIUM, chromium, running_console, screenshot, sign_in
from tests.validation_service.crm_support import STATIC_TOKEN, VendorOrg, person, seed_person_source
from tests.waiting import eventually

PASSWORD = "set-up rules password"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


def _console(settings, servers):  # type: ignore[no-untyped-def]
    return running_console(
        settings,
        VALIDATION_TARGET=servers.validation_target,
        INGEST_TARGET=servers.ingest_target,
        FEEDBACK_TARGET=servers.feedback_target,
    )


async def _person(pool, account_id: UUID, role: str, tag: str) -> str:  # type: ignore[no-untyped-def]
    email = f"{tag}-{account_id.hex[:8]}@example.com"
    async with pool.acquire() as con:
        await users.create_user(con, account_id, email, PASSWORD, role)
    return email


async def test_criteria_picklist_and_mapper_tested_saved_rejudged_compared_and_rolled_back(
    api: Api, pool, settings, servers
) -> None:
    now = datetime.now(UTC)
    account_id = api.account.account_id
    async with pool.acquire() as con:
        src = await seed.source(con, account_id, "Trade fair")
        leads = {}
        for i, (country, status) in enumerate(
            [("Germany", "ACCEPTED"), ("France", "ACCEPTED"), ("Deutschland", "REJECTED"), ("Deutschland", "REJECTED")]
        ):
            leads[i] = await seed.lead(
                con,
                account_id,
                src,
                now - timedelta(minutes=10 - i),
                status=status,
                code="" if status == "ACCEPTED" else "REJECT_LEAD_INVALID_LIST_VALUE",
                reason="" if status == "ACCEPTED" else 'country: "Deutschland" is not on the picklist',
                fields={"email": f"p{i}@example.com", "country": country},
            )
    await api.validation.SetAcceptanceCriteria(
        validation_pb2.SetAcceptanceCriteriaRequest(
            source_id=str(src),
            rules=[
                validation_pb2.Rule(column="country", picklist=validation_pb2.Picklist(allowed=["Germany", "France"]))
            ],
        )
    )
    email = await _person(pool, account_id, users.ADMIN, "criteria")
    async with _console(settings, servers) as app, chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        await sign_in(page, app.url, email, PASSWORD, f"/criteria?source={src}")
        try:
            await page.get_by_text("In force: version 1").wait_for(timeout=15000)
        except Exception:
            await page.screenshot(path="tests/artifacts/debug.png")
            print(app.log.read_text()[-3000:])
            raise
        await steps.set_criteria(page, "country", ["Germany"], {"Deutschland": "Germany"})
        text = await steps.test_draft(page, 20)
        await screenshot(page, "setup-criteria-tested")
        assert "Rejected now, accepted by the draft2" in text.replace("\n", "")
        assert "Accepted now, rejected by the draft1" in text.replace("\n", "")
        said = await steps.save_criteria(page, note="Deutschland counts as Germany", rejudge=True)
        assert said.startswith("Saved version 2. Re-judged 2 leads: 2 now accepted, 0 still rejected.")
        await screenshot(page, "setup-criteria-saved")
        diff = await steps.compare_versions(page, 1, 2)
        assert "allowed − “France”" in diff and "mapper + “Deutschland” → “Germany”" in diff
        assert email in await steps.main_text(page)  # the versions name who saved version 2
        await steps.roll_back(page, 1)
        await screenshot(page, "setup-criteria-rolled-back")
    async with pool.acquire() as con:
        statuses = {
            r["lead_id"]: r["status"]
            for r in await con.fetch("SELECT lead_id, status FROM leads WHERE source_id = $1", src)
        }
        versions = await con.fetch(
            "SELECT version, actor, note, rules FROM acceptance_criteria WHERE source_id = $1 ORDER BY version", src
        )
        user_id = await con.fetchval("SELECT user_id FROM report_users WHERE email = $1", email)
    assert statuses[leads[2]] == statuses[leads[3]] == "ACCEPTED"
    assert [(v["version"], v["actor"], v["note"]) for v in versions] == [
        (1, versions[0]["actor"], ""),
        (2, f"user:{user_id}", "Deutschland counts as Germany"),
        (3, f"user:{user_id}", "Rolled back to version 1"),
    ]
    assert versions[2]["rules"] == versions[0]["rules"]
    assert versions[1]["rules"][0]["params"]["mapper"] == {"Deutschland": "Germany"}


async def test_hubspot_destination_test_send_then_a_lead_is_posted_logged_and_replayed(
    api: Api, pool, settings, servers, sandbox
) -> None:
    account_id = api.account.account_id
    source_id = await seed_person_source(pool, account_id)
    org = VendorOrg(sandbox.url, "hubspot")
    await org.set(static_token=STATIC_TOKEN)
    email = await _person(pool, account_id, users.ADMIN, "dest")
    async with _console(settings, servers) as app, chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        await sign_in(page, app.url, email, PASSWORD, f"/destinations?source={source_id}")
        await page.get_by_text("No destination yet").wait_for()
        await screenshot(page, "setup-destinations-empty")
        await steps.add_destination(
            page, "HubSpot (CRM v3 contacts)", "HubSpot", org.base, {"Authorization": f"Bearer {STATIC_TOKEN}"}
        )
        text = await steps.send_test_lead(page)
        await screenshot(page, "setup-destinations-test-send")
        assert "The CRM took the lead (record " in text
        assert f"POST {org.base}/crm/v3/objects/contacts" in text
        assert "Authorization: Bearer ••••••" in text and STATIC_TOKEN not in text
        assert '"email": "test.lead@example.com"' in text and "HTTP 201" in text
        async with pool.acquire() as con:
            dest = await con.fetchval("SELECT destination_id FROM destinations WHERE source_id = $1", source_id)
            assert await con.fetchval("SELECT count(*) FROM post_outs WHERE destination_id = $1", dest) == 0
            assert await con.fetchval("SELECT count(*) FROM post_out_attempts WHERE destination_id = $1", dest) == 0
        assert list((await org.stats())["per_lead"]) == ["test.lead@example.com"]

        # Leads arrive: one the CRM takes, one it refuses at record level.
        for i, address in enumerate(("ana.paz@example.com", "bad@invalid.test")):
            await api.ingest.SubmitLead(
                ingest_pb2.SubmitLeadRequest(
                    source_id=str(source_id),
                    platform_lead_id=f"sb-{i}",
                    answers=[common_pb2.Answer(name=k, values=[v]) for k, v in person(i, address).items()],
                )
            )

        async def delivered() -> list | None:
            async with pool.acquire() as con:
                rows = await con.fetch(
                    "SELECT status, attempts FROM post_outs WHERE destination_id = $1 ORDER BY status", dest
                )
            return rows if len(rows) == 2 and all(r["status"] not in ("PENDING", "RETRYING") for r in rows) else None

        rows = await eventually(delivered, within=60)
        assert [r["status"] for r in rows] == ["POSTED", "REJECTED_BY_DESTINATION"]

        await steps.open_page(page, app.url, "/delivery-log", source_id)
        await steps.choose(page, "Outcome", "Rejected by the CRM")
        await screenshot(page, "setup-delivery-log")
        log_text = await steps.main_text(page)
        assert "bad@invalid.test" in log_text and "ana.paz@example.com" not in log_text
        assert "POST " in log_text and "/crm/v3/objects/contacts" in log_text
        said = await steps.replay_delivery(page, "bad@invalid.test")
        assert said.startswith("Queued again: 1 delivery of the lead to HubSpot")

        async def attempted_twice() -> int | None:
            async with pool.acquire() as con:
                n = await con.fetchval(
                    """SELECT count(*) FROM post_out_attempts a JOIN leads l USING (lead_id)
                       WHERE a.destination_id = $1 AND l.platform_lead_id = 'sb-1'""",
                    dest,
                )
            return n if n == 2 else None

        await eventually(attempted_twice, within=60)
        await screenshot(page, "setup-delivery-log-replayed")


async def test_a_salesforce_destination_upserts_by_the_external_id_field_the_manager_names(
    api: Api, pool, settings, servers, sandbox
) -> None:
    account_id = api.account.account_id
    source_id = await seed_person_source(pool, account_id)
    org = VendorOrg(sandbox.url, "salesforce")
    await org.set(static_token=STATIC_TOKEN, external_id_fields=["Web_Lead_Id__c"])
    email = await _person(pool, account_id, users.ADMIN, "sfdest")
    async with _console(settings, servers) as app, chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        await sign_in(page, app.url, email, PASSWORD, f"/destinations?source={source_id}")
        await page.get_by_text("No destination yet").wait_for()
        await steps.choose(page, "Start from", "Salesforce (sObject Lead, upsert by external id)")
        await page.get_by_text("‹External ID field on Lead›/‹LeadID›").wait_for()
        await screenshot(page, "setup-destinations-salesforce")
        await steps.add_destination(
            page,
            "Salesforce (sObject Lead, upsert by external id)",
            "Salesforce",
            org.base,
            {"Authorization": f"Bearer {STATIC_TOKEN}"},
            settings={"External ID field on Lead": "Web_Lead_Id__c"},
        )
    async with pool.acquire() as con:
        url = await con.fetchval("SELECT url FROM destinations WHERE source_id = $1", source_id)
    assert url == f"{org.base}/services/data/v60.0/sobjects/Lead/Web_Lead_Id__c/{{{{lead_id}}}}"
    submitted = await api.ingest.SubmitLead(
        ingest_pb2.SubmitLeadRequest(
            source_id=str(source_id),
            platform_lead_id="sf-0",
            answers=[common_pb2.Answer(name=k, values=[v]) for k, v in person(0, "ana.paz@example.com").items()],
        )
    )

    async def posted() -> str | None:
        async with pool.acquire() as con:
            row = await con.fetchrow(
                "SELECT status, record_id FROM post_outs WHERE lead_id = $1", UUID(submitted.lead_id)
            )
        return row["record_id"] if row and row["status"] == "POSTED" else None

    assert await eventually(posted, within=60)
    assert list((await org.stats())["per_lead"]) == ["ana.paz@example.com"]


async def test_feedback_settings_stage_mapping_and_flush(api: Api, pool, settings, servers) -> None:
    account_id = api.account.account_id
    fb = await feedback_support.source(pool, account_id)
    when = feedback_support.ago(hours=1)
    changes = []
    for stage in ("New", "Nurture", "Won"):
        lead_id, _ = await feedback_support.lead(pool, account_id, fb, captured_at=feedback_support.ago(hours=3))
        changes.append(feedback_support.change(lead_id=lead_id, stage=stage, at=when))
    recorded = await api.feedback.RecordStageChanges(feedback_pb2.RecordStageChangesRequest(changes=changes))
    assert recorded.recorded == 3
    email = await _person(pool, account_id, users.ADMIN, "feedback")
    async with _console(settings, servers) as app, chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        await sign_in(page, app.url, email, PASSWORD, "/feedback")
        await page.get_by_text("3 CRM stages without a Meta stage").wait_for()
        await screenshot(page, "setup-feedback-unmapped")
        await steps.set_meta(page, feedback_support.dataset_id(), "EAAB-console-token", "HubSpot", daily=True)
        await steps.map_stages(page, {"New": "Lead", "Nurture": "Marketing-qualified lead", "Won": "Converted"})
        # The saved notice shows first in the rerun; the warning above the grid goes when the rerun
        # reaches it (a wait, not an immediate count: under load the rerun is still drawing).
        await page.get_by_text("without a Meta stage").wait_for(state="detached")
        said = await steps.flush_now(page)
        assert said.startswith("Sent now: 3 · failed 0")
        await screenshot(page, "setup-feedback-flushed")
    async with pool.acquire() as con:
        rows = await con.fetch(
            "SELECT crm_stage, meta_stage, status FROM feedback_events WHERE account_id = $1 ORDER BY crm_stage",
            account_id,
        )
    assert [tuple(r) for r in rows] == [
        ("New", "LEAD", "SENT"),
        ("Nurture", "MARKETING_QUALIFIED_LEAD", "SENT"),
        ("Won", "CONVERTED", "SENT"),
    ]
    config = await api.feedback.GetFeedbackConfig(feedback_pb2.GetFeedbackConfigRequest())
    assert (config.lead_event_source, config.mode, config.has_access_token) == (
        "HubSpot",
        feedback_pb2.DISPATCH_MODE_DAILY,
        True,
    )


async def test_a_viewer_sees_the_set_up_and_can_change_nothing(api: Api, pool, settings, servers, sandbox) -> None:
    account_id = api.account.account_id
    source_id = await seed_person_source(pool, account_id)
    await api.validation.SetAcceptanceCriteria(
        validation_pb2.SetAcceptanceCriteriaRequest(
            source_id=str(source_id),
            rules=[
                validation_pb2.Rule(
                    column="job_title",
                    picklist=validation_pb2.Picklist(
                        allowed=["CTO", "CEO"], mapper={"Chief Technology Officer": "CTO"}
                    ),
                )
            ],
        )
    )
    await api.postout.CreateDestination(
        validation_pb2.CreateDestinationRequest(
            source_id=str(source_id), name="HubSpot", url=VendorOrg(sandbox.url, "hubspot").base, preset="hubspot"
        )
    )
    email = await _person(pool, account_id, users.VIEWER, "viewer")
    async with _console(settings, servers) as app, chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        await sign_in(page, app.url, email, PASSWORD, f"/criteria?source={source_id}")
        await page.get_by_text("job_title must be one of “CTO”, “CEO”; 1 variant mapped").wait_for()
        await screenshot(page, "setup-criteria-viewer")
        for path, seen in (
            ("/criteria", "In force: version 1"),
            ("/destinations", "Only admins change destinations."),
            ("/delivery-log", "No delivery attempt matches"),
            ("/feedback", "Not set up yet: an admin adds the Meta dataset here."),
        ):
            await steps.open_page(page, app.url, path, source_id)
            await page.get_by_text(seen).first.wait_for()
            buttons = [b.strip() for b in await page.locator(f"{steps.MAIN} button").all_text_contents()]
            assert [b for b in buttons if b] == [], (path, buttons)
            assert await page.locator(f"{steps.MAIN} textarea").count() == 0, path
        await screenshot(page, "setup-feedback-viewer")
