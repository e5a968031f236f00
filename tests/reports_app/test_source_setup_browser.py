"""Setting a Facebook source up from scratch in a real Chromium, as a manager would: New source →
connect through the sandbox's consent page → pick the Page → forms registered; the default mapping
and one form's own mapping with a constant, previewed on the latest leads and saved; the Summary's
Sync leads with progress, a form switched off, the source disabled and enabled again; and a viewer
who sees all of it with nothing to press."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from reports_app import users
from tests.ingest_service.connector_support import facebook_source, judged, post
from tests.reports_app.console_support import CHROMIUM, chromium, running_console, screenshot, settled, sign_in
from tests.reports_app.setup_steps import (
    CATCH_ALL,
    Column,
    Constant,
    choose_mapping_of,
    connect_facebook_source,
    form_switch,
    map_source,
    open_source,
    set_source_enabled,
    switch_form,
    sync_leads,
)
from tests.waiting import eventually

pytestmark = [
    pytest.mark.browser,
    # Long scenarios of many page runs: a loaded shared machine needs more than the default 300 s.
    pytest.mark.timeout(900),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]
PASSWORD = "browser password"
DEFAULT = [
    Column("Name", "full_name"),
    Column("Email", "email", "email"),
    Column("Phone", "phone_number", "phone"),
    Column("Company", "company_name"),
    Column("Notes", CATCH_ALL),
]
FORM_OWN = [
    Column("Name", "full_name"),
    Column("Email", "email", "email"),
    Column("Campaign", Constant("lookup", "CMP-7"), "lookup"),
    Column("Notes", CATCH_ALL),
]


def _json(value: Any) -> Any:
    """A jsonb value, decoded by the pool's codec or not."""
    return json.loads(value) if isinstance(value, str) else value


def _field_data(n: int) -> list[dict]:
    return [
        {"name": "full_name", "values": [f"Ada Baker {n}"]},
        {"name": "email", "values": [f"ada{n}@harbour.example"]},
        {"name": "phone_number", "values": [f"+4420794600{n:02d}"]},
        {"name": "company_name", "values": ["Harbour Bakery"]},
        {"name": "what_is_your_budget?", "values": ["$1k-$10k"]},
    ]


async def test_a_facebook_source_set_up_from_scratch_in_the_browser(pool, account, settings, servers, sandbox, web):
    fb = await post(web, f"{sandbox.url}/graph/_control/pages", {"name": "Harbour Bakery", "forms": 2})
    await post(web, f"{sandbox.url}/graph/_control/login", {"page_ids": [fb["page_id"]], "name": "Ada Baker"})
    form1, form2 = fb["form_ids"]
    admin = f"setup-{account.name}@example.com"
    viewer = f"viewer-{account.name}@example.com"
    async with pool.acquire() as con:
        await users.create_user(con, account.account_id, admin, PASSWORD, users.ADMIN)
        await users.create_user(con, account.account_id, viewer, PASSWORD, users.VIEWER)

    async with running_console(settings, INGEST_TARGET=servers.ingest_target) as console, chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        await sign_in(page, console.url, admin, PASSWORD, "/source-setup")
        await page.get_by_text("No sources yet.").wait_for()
        await screenshot(page, "setup-sources-empty")

        source_id = await connect_facebook_source(page, console.url, "Harbour Bakery", fb["page_id"])
        await page.get_by_text("2 forms registered: Harbour Bakery form 1, Harbour Bakery form 2").wait_for()
        await screenshot(page, "setup-new-source-connected")

        # Leads arrive by the Page's webhook subscription: the preview has something to show.
        for n in range(3):
            await post(web, f"{sandbox.url}/graph/_control/leads", {"form_id": form1, "field_data": _field_data(n)})
        await judged(pool, source_id, 3)

        await map_source(page, console.url, source_id, DEFAULT, shot="setup-mapping-default-preview")
        await screenshot(page, "setup-mapping-default-saved")
        shown = await map_source(
            page, console.url, source_id, FORM_OWN, form="Harbour Bakery form 1", shot="setup-mapping-form-preview"
        )
        # The preview showed the draft on the form's leads: the constant and the names of the last 3 leads.
        assert all(text in shown for text in ("CMP-7", "Ada Baker 0", "Ada Baker 1", "Ada Baker 2")), shown

        # The form gains a question on Facebook; Refresh forms brings it; the form using the default flags it.
        await post(
            web,
            f"{sandbox.url}/graph/_control/forms/{form2}/questions",
            {
                "questions": [
                    {"key": "full_name", "label": "Full name", "type": "FULL_NAME"},
                    {"key": "email", "label": "Email", "type": "EMAIL"},
                    {"key": "preferred_time", "label": "When may we call?", "type": "CUSTOM"},
                ]
            },
        )
        await open_source(page, console.url, source_id)
        await page.get_by_role("button", name="Refresh forms").click()
        await page.get_by_text("2 forms registered.").wait_for()
        await open_source(page, console.url, source_id, "mapping")
        await choose_mapping_of(page, "Harbour Bakery form 2")
        await page.get_by_text(
            "New since the mapping was saved: preferred_time (When may we call?). "
            "Each goes to not_mapped_fields until mapped."
        ).wait_for()
        await page.get_by_text("This form uses the default mapping.").wait_for()
        await screenshot(page, "setup-mapping-form-uses-default")

        await page.goto(f"{console.url}/source-setup")
        await page.get_by_role("heading", name="Sources", level=1).wait_for()
        await settled(page)
        await screenshot(page, "setup-sources-list-new")
        assert not console.errors(), console.errors()

        async with pool.acquire() as con:
            source = await con.fetchrow(
                "SELECT name, enabled, default_mapping FROM sources WHERE source_id = $1", UUID(source_id)
            )
            forms = {
                r["platform_form_id"]: r
                for r in await con.fetch("SELECT * FROM forms WHERE source_id = $1", UUID(source_id))
            }
        assert (source["name"], source["enabled"]) == ("Facebook: Harbour Bakery", True)
        assert _json(source["default_mapping"]) == [
            {"column": "Name", "form_field": "full_name"},
            {"column": "Email", "form_field": "email", "type": "email"},
            {"column": "Phone", "form_field": "phone_number", "type": "phone"},
            {"column": "Company", "form_field": "company_name"},
            {"column": "Notes", "unmapped_fields": True},
        ]
        assert _json(forms[form1]["mapping"]) == [
            {"column": "Name", "form_field": "full_name"},
            {"column": "Email", "form_field": "email", "type": "email"},
            {"column": "Campaign", "constant": {"kind": "lookup", "value": "CMP-7"}, "type": "lookup"},
            {"column": "Notes", "unmapped_fields": True},
        ]
        assert forms[form2]["mapping"] is None

        # A lead of form 1 now maps with the form's own mapping and its constant.
        await post(
            web,
            f"{sandbox.url}/graph/_control/leads",
            {"form_id": form1, "field_data": _field_data(9), "custom_disclaimer_responses": []},
        )

        async def mapped_with_constant() -> dict | None:
            async with pool.acquire() as con:
                raw = await con.fetchval(
                    "SELECT fields FROM leads WHERE source_id = $1 AND fields->>'Name' = 'Ada Baker 9'", UUID(source_id)
                )
            return None if raw is None else _json(raw)

        fields = await eventually(mapped_with_constant)
        assert fields == {
            "Name": "Ada Baker 9",
            "Email": "ada9@harbour.example",
            "Campaign": "CMP-7",
            "Notes": "phone_number: +442079460009\ncompany_name: Harbour Bakery\nwhat_is_your_budget?: $1k-$10k",
        }


async def test_the_summary_syncs_switches_and_a_viewer_changes_nothing(
    pool, account, api, settings, servers, sandbox, web
):
    fb = await facebook_source(api, sandbox, web, forms=2)
    form1, form2 = fb.form_ids
    admin = f"summary-{account.name}@example.com"
    viewer = f"viewer-{account.name}@example.com"
    async with pool.acquire() as con:
        await users.create_user(con, account.account_id, admin, PASSWORD, users.ADMIN)
        await users.create_user(con, account.account_id, viewer, PASSWORD, users.VIEWER)
    # Leads the platform has but never announced, from three days ago: the sync fetches them.
    three_days = int((datetime.now(UTC) - timedelta(days=3)).timestamp())
    missed = []
    for form in (form1, form2):
        reply = await post(
            web,
            f"{sandbox.url}/graph/_control/leads",
            {"form_id": form, "count": 2, "deliver": False, "created_time": three_days},
        )
        missed += reply["ids"]

    async with running_console(settings, INGEST_TARGET=servers.ingest_target) as console, chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        await sign_in(page, console.url, admin, PASSWORD, f"/source-setup?source={fb.source_id}")
        message = await sync_leads(page, console.url, fb.source_id)
        assert "4 leads read" in message and "4 new, 0 already in LeadRelay" in message, message
        await screenshot(page, "setup-summary-synced")
        rows = await judged(pool, fb.source_id, 4)
        assert sorted(r["platform_lead_id"] for r in rows) == sorted(missed)

        await switch_form(page, console.url, fb.source_id, "Sandbox Page form 2", on=False)
        await set_source_enabled(page, console.url, fb.source_id, enabled=False)
        await screenshot(page, "setup-summary-disabled")
        async with pool.acquire() as con:
            assert await con.fetchval("SELECT enabled FROM sources WHERE source_id = $1", UUID(fb.source_id)) is False
        await set_source_enabled(page, console.url, fb.source_id, enabled=True)
        async with pool.acquire() as con:
            source_on = await con.fetchval("SELECT enabled FROM sources WHERE source_id = $1", UUID(fb.source_id))
            forms_on = {
                r["platform_form_id"]: r["enabled"]
                for r in await con.fetch("SELECT * FROM forms WHERE source_id = $1", UUID(fb.source_id))
            }
        assert (source_on, forms_on) == (True, {form1: True, form2: False})

        await page.goto(f"{console.url}/source-setup")
        await page.get_by_role("heading", name="Sources", level=1).wait_for()
        await page.get_by_text("Open a source").wait_for()
        await screenshot(page, "setup-sources-list")

        # A viewer sees the same pages with nothing to press.
        viewer_page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        viewer_page.set_default_timeout(30_000)
        await sign_in(viewer_page, console.url, viewer, PASSWORD, f"/source-setup?source={fb.source_id}")
        await open_source(viewer_page, console.url, fb.source_id)
        for name in ("Sync leads", "Disable source", "Disconnect…"):
            assert await viewer_page.get_by_role("button", name=name, exact=True).is_disabled(), name
        assert await viewer_page.get_by_role("button", name="Refresh forms").count() == 0
        switches = await form_switch(viewer_page, "Sandbox Page form").all()
        assert len(switches) == 2
        for switch in switches:
            assert await switch.is_disabled()
        await screenshot(viewer_page, "setup-viewer-summary")
        await open_source(viewer_page, console.url, fb.source_id, "mapping")
        assert await viewer_page.get_by_role("button", name="Save the default mapping").is_disabled()
        assert await viewer_page.get_by_label("Row 1 column", exact=True).is_disabled()
        await screenshot(viewer_page, "setup-viewer-mapping")
        await viewer_page.goto(f"{console.url}/new-source")
        await viewer_page.get_by_text("Only admins add sources.").wait_for()
        assert not console.errors(), console.errors()
