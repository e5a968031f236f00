"""Browser steps of the set-up pages for criteria, destinations, the delivery log and lifecycle
feedback, as a manager does them in the console: each takes a signed-in Playwright page (and the
console's base URL) and leaves the page settled, so a scenario can chain them with the source and
mapping steps of the other set-up pages into one end-to-end run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tests.reports_app.console_support import settled

MAIN = '[data-testid="stMain"]'


async def open_page(page: Any, base: str, path: str, source_id: object = None) -> None:
    """Opens a set-up page (e.g. "/criteria"), for one source when given (?source=<id>)."""
    await page.goto(f"{base}{path}" + (f"?source={source_id}" if source_id else ""))
    await page.locator("h1").first.wait_for()
    await settled(page)


async def choose(
    page: Any, label: str, option: str, *, within: Any = None, exact: bool = True, attempts: int = 10
) -> None:
    """Picks `option` (or the first option holding it, `exact=False`) in the selectbox labelled
    `label` (the last one so labelled, in `within`)."""
    from playwright.async_api import TimeoutError as NotThere

    scope = within if within is not None else page
    box = scope.locator('[data-testid="stSelectbox"]').filter(has=page.get_by_text(label, exact=True)).last
    for _ in range(attempts):
        await settled(page)
        await box.click()
        choice = (
            page.get_by_role("option", name=option, exact=True)
            if exact
            else page.get_by_role("option").filter(has_text=option).first
        )
        try:
            await choice.wait_for(timeout=3_000)
            await choice.click()
            await settled(page)
            return
        except NotThere:  # the list closed under a rerun, or the option has not arrived yet
            await page.keyboard.press("Escape")
    raise AssertionError(f"the option {option!r} of {label!r} never appeared")


async def fill(page: Any, label: str, text: str) -> None:
    """Types into the (last) text input or area labelled `label` and commits it (a rerun)."""
    box = page.get_by_label(label, exact=True).last
    await box.fill(text)
    await box.press("Tab")
    await settled(page)


async def click(page: Any, name: str) -> None:
    await settled(page)
    await page.get_by_role("button", name=name, exact=True).last.click()
    await settled(page)


async def main_text(page: Any) -> str:
    return str(await page.locator(MAIN).text_content())


# ---- acceptance criteria -----------------------------------------------------------------------------


async def add_rule(page: Any, kind: str, column: str = "") -> None:
    """Adds a rule of `kind` (its word, e.g. "Picklist") on `column` to the draft."""
    await choose(page, "New rule", kind)
    if column:
        await choose(page, "On column", column)
    await click(page, "Add rule")


async def set_picklist(
    page: Any, allowed: Sequence[str], mapper: Mapping[str, str] = {}, remove_variants: Sequence[str] = ()
) -> None:
    """Fills the (last) picklist rule: its allowed values, then each variant -> allowed value."""
    await fill(page, "Allowed values (one a line)", "\n".join(allowed))
    for variant in remove_variants:
        await choose(page, "Variant to remove", variant)
        await click(page, "Remove variant")
    for variant, target in mapper.items():
        await fill(page, "Incoming value", variant)
        await choose(page, "Becomes", target)
        await click(page, "Add to mapper")
        # The mapper table draws on a canvas; its accessible cells are there but hidden.
        await page.locator(MAIN).locator('[role="gridcell"]', has_text=variant).first.wait_for(state="attached")


async def set_criteria(page: Any, picklist_column: str, allowed: Sequence[str], mapper: Mapping[str, str]) -> None:
    """On the criteria page of a source: a picklist rule on the column (added when the draft has
    none) with these allowed values and mapper."""
    text = await main_text(page)
    if f"Picklist · {picklist_column}" not in text:
        await add_rule(page, "Picklist", picklist_column)
    await set_picklist(page, allowed, mapper)


async def test_draft(page: Any, leads: int = 100) -> str:
    """Tests the draft on the source's last `leads`; returns the page's text with the flips."""
    await choose(page, "Leads to test on", f"The last {leads}")
    await click(page, "Test the draft")
    await page.get_by_text("Leads tested").wait_for()
    return await main_text(page)


async def save_criteria(page: Any, note: str = "", rejudge: bool = False) -> str:
    """Saves the draft as the next version (re-judging the rejected leads when asked); returns the
    notice ("Saved version N. …")."""
    if note:
        await fill(page, "Note for the version history (optional)", note)
    if rejudge:
        await page.get_by_text("Then re-judge this source's rejected leads", exact=False).click()
        await settled(page)
    await page.get_by_role("button", name="Save as version").click()
    notice = page.locator('[data-testid="stAlertContentSuccess"]').filter(has_text="Saved version")
    await notice.wait_for(timeout=60_000)
    await settled(page)
    return str(await notice.text_content())


async def compare_versions(page: Any, old: int, new: int) -> str:
    await choose(page, "Compare version", str(old))
    await choose(page, "with version", str(new))
    block = page.get_by_text(f"From version {old} to version {new}:")
    await block.wait_for()
    return str(await block.text_content())


async def roll_back(page: Any, version: int) -> str:
    await choose(page, "Roll back to version", str(version))
    await click(page, f"Roll back to version {version}")
    notice = page.get_by_text(f"restores the rules of version {version}")
    await notice.wait_for()
    return str(await notice.text_content())


# ---- destinations and the delivery log ----------------------------------------------------------------


async def add_destination(
    page: Any,
    preset_title: str,
    name: str,
    base_url: str,
    headers: Mapping[str, str] = {},
    *,
    test_leads: bool = False,
    settings: Mapping[str, str] = {},
) -> None:
    """On the destinations page of a source: a new destination from the preset (its title as the
    page lists it, e.g. "HubSpot (CRM v3 contacts)"; "Any HTTP endpoint (no preset)" for none);
    `settings`: the preset's own fields by label (e.g. Salesforce's "External ID field on Lead")."""
    if (
        await page.get_by_text("Destinations of this source").count()
        and await page.get_by_role("button", name="Create destination").count() == 0
    ):
        await choose(page, "Destination", "New destination…")
    await choose(page, "Start from", preset_title)
    await page.get_by_label("Name", exact=True).fill(name)
    label = "Address (URL)" if preset_title.startswith("Any HTTP") else "Base URL of your CRM account"
    await page.get_by_label(label, exact=True).fill(base_url)
    if headers:
        await page.get_by_role("textbox", name="Headers (write-only: one “Name: value” a line)").fill(
            "\n".join(f"{k}: {v}" for k, v in headers.items())
        )
    for label, value in settings.items():
        await page.get_by_label(label, exact=True).fill(value)
    if test_leads:
        await page.get_by_text("Send test leads too").click()
    await click(page, "Create destination")
    await page.get_by_text(f"Saved “{name}”").wait_for()


async def send_test_lead(page: Any, lead: str = "") -> str:
    """Sends a test lead to the chosen destination: a made-up one (its fields as "column: value"
    lines when given), or the source's lead whose option starts with `lead` ("stored:<text>")."""
    if lead.startswith("stored:"):
        await page.get_by_text("A lead of this source").click()
        await settled(page)
        await choose(page, "Lead", lead.removeprefix("stored:"), exact=False)
    elif lead:
        await fill(page, "The made-up lead (one “column: value” a line)", lead)
    await click(page, "Send test lead")
    await page.get_by_text("The CRM's answer (").wait_for(timeout=60_000)
    # The request and answer are code blocks, drawn once their element has loaded.
    await page.locator('[data-testid="stCode"]').filter(has_text="HTTP").first.wait_for()
    await settled(page)
    return await main_text(page)


async def replay_delivery(page: Any, attempt: str) -> str:
    """On the delivery log: opens the attempt (its option's text) and sends the lead again."""
    await choose(page, "Attempt", attempt, exact=False)
    await click(page, "Send this lead again")
    notice = page.get_by_text("Queued again")
    await notice.wait_for()
    return str(await notice.text_content())


# ---- lifecycle feedback ---------------------------------------------------------------------------------


async def set_meta(page: Any, dataset: str, token: str, crm: str, *, daily: bool = False) -> None:
    await page.get_by_label("Dataset (pixel) id").fill(dataset)
    await page.get_by_label("Access token (write-only)").fill(token)
    await page.get_by_label("Your CRM's name (sent as lead_event_source)").fill(crm)
    if daily:
        await page.get_by_text("Once a day", exact=True).click()
    await click(page, "Save Meta settings")
    await page.get_by_text("Saved the Meta settings.").wait_for()


async def map_stages(page: Any, stages: Mapping[str, str]) -> None:
    """CRM stage -> Meta stage (its word, e.g. "Converted") in the stage grid, then saves."""
    for crm_stage, meta_stage in stages.items():
        await choose(page, f"Meta stage for {crm_stage}", meta_stage)
    await click(page, "Save stage mapping")
    await page.get_by_text("Saved the stage mapping").wait_for()


async def flush_now(page: Any) -> str:
    await click(page, "Flush now")
    sent = page.get_by_text("Sent now: ", exact=False)
    await sent.wait_for(timeout=60_000)
    return str(await sent.text_content())
