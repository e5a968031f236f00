"""Browser steps of source set-up, as a manager does them, for chaining into longer scenarios (an
end-to-end test adds criteria and destination steps after these). Each step starts from a URL of
the console, waits on what the page shows (never on time) and leaves the page settled.

    source_id = await connect_facebook_source(page, console.url, "Harbour Bakery", page_id)
    await map_source(page, console.url, source_id, [Column("Email", "email", "Email"), ...])
    await map_source(page, console.url, source_id, [...], form="Harbour Bakery form 1")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from reports_app.mapping_grid import COLUMN_TYPES, CONSTANT_KINDS
from tests.reports_app.console_support import ARTIFACTS, screenshot, settled

CATCH_ALL = "Everything not mapped (not_mapped_fields)"
# The words the grid shows (the app's own tables, so a renamed word fails here only once).
TYPES = COLUMN_TYPES


@dataclass(frozen=True)
class Constant:
    kind: str  # a key of CONSTANT_KINDS
    value: str


@dataclass(frozen=True)
class Column:
    """One grid row: the column, its type (a key of TYPES) and what it takes: a form field's name,
    a Constant, or CATCH_ALL."""

    name: str
    takes: str | Constant
    type: str = ""


async def _shows(page: Any, label: str, option: str) -> bool:
    """Whether the selectbox labelled `label` shows `option` already (choosing it again reruns nothing)."""
    box = page.get_by_label(label, exact=True).locator('xpath=ancestor::div[@data-testid="stSelectbox"][1]')
    return (await box.text_content() or "").strip().endswith(option)


async def _choose(page: Any, label: str, option: str) -> None:
    """Picks `option` in the selectbox labelled `label`."""
    if await _shows(page, label, option):
        return
    box = page.get_by_label(label, exact=True)
    await box.click()
    await page.get_by_role("option", name=option, exact=True).click()
    await page.get_by_role("listbox").wait_for(state="detached")
    await settled(page)


async def _fill(page: Any, label: str, text: str) -> None:
    box = page.get_by_label(label, exact=True)
    if await box.input_value() != text:
        await box.fill(text)
        await box.press("Enter")
        await settled(page)


async def _click(page: Any, name: str) -> None:
    await page.get_by_role("button", name=name, exact=True).click()
    await settled(page)


async def connect_facebook_source(page: Any, base: str, page_name: str, page_id: str) -> str:
    """New source → Facebook Page → Connect → the platform's consent page → Allow → pick the Page →
    connected, forms registered. Returns the new source's id. The sandbox's Facebook login must
    manage the Page (POST /graph/_control/login)."""
    await page.goto(f"{base}/new-source")
    await page.get_by_role("heading", name="New source", level=1).wait_for()
    await settled(page)
    await page.get_by_text("Facebook Page", exact=True).click()
    await settled(page)
    await _click(page, "Connect with Facebook")
    await page.get_by_role("link", name="Continue to Facebook →").click()
    await page.get_by_role("button", name="Allow").wait_for()  # the platform's consent page
    await page.screenshot(path=str(ARTIFACTS / "setup-facebook-consent.png"))
    await page.get_by_role("button", name="Allow").click()
    await page.get_by_text("Pick the Facebook Page").wait_for()
    await settled(page)
    await page.get_by_text(f"{page_name} ({page_id})").click()
    await settled(page)
    await screenshot(page, "setup-new-source-pick")
    await _click(page, "Connect this Page")
    await page.get_by_text(f"Facebook: {page_name} is ready.").wait_for()
    await settled(page)
    href = await page.get_by_role("link", name="Map its fields →").get_attribute("href")
    return parse_qs(urlsplit(href).query)["source"][0]


async def open_source(page: Any, base: str, source_id: str, tab: str = "summary") -> None:
    await page.goto(f"{base}/source-setup?source={source_id}&tab={tab}")
    await page.get_by_role("link", name="← All sources").wait_for()
    await settled(page)
    if tab == "mapping":
        await page.get_by_role("heading", name="Form fields").wait_for()
    else:
        await page.get_by_role("heading", name="Download leads").wait_for()
        await page.get_by_role("heading", name="Source", exact=True).wait_for()  # the page's last section
    await settled(page)


async def _rows(page: Any) -> int:
    n = 0
    while await page.get_by_label(f"Row {n + 1} column", exact=True).count():
        n += 1
    return n


async def fill_grid(page: Any, columns: list[Column]) -> None:
    """Makes the open mapping grid exactly `columns`, in order (rows edited in place, added or removed)."""
    while (n := await _rows(page)) < len(columns):
        await _click(page, "Add a column")
        await page.get_by_label(f"Row {n + 1} column", exact=True).wait_for()
    while (n := await _rows(page)) > len(columns):
        await page.locator(f'[class*="_{n - 1}_remove"]').get_by_role("button").click()
        await page.get_by_label(f"Row {n} column", exact=True).wait_for(state="detached")
        await settled(page)
    for i, col in enumerate(columns, start=1):
        await _fill(page, f"Row {i} column", col.name)
        await _choose(page, f"Row {i} type", TYPES[col.type])
        if col.takes == CATCH_ALL:
            await _choose(page, f"Row {i} takes", CATCH_ALL)
        elif isinstance(col.takes, Constant):
            await _choose(page, f"Row {i} takes", "A constant")
            await _choose(page, f"Row {i} constant type", CONSTANT_KINDS[col.takes.kind])
            await _fill(page, f"Row {i} value", col.takes.value)
        else:
            box = page.get_by_label(f"Row {i} takes", exact=True)
            shown = box.locator('xpath=ancestor::div[@data-testid="stSelectbox"][1]')
            if f"{col.takes} · " in (await shown.text_content() or ""):
                continue
            await box.click()
            option = page.get_by_role("option").filter(has_text=f"{col.takes} · ")
            if await option.count():
                await option.first.click()
                await page.get_by_role("listbox").wait_for(state="detached")
                await settled(page)
            else:  # a field no form lists yet: typed by name
                await page.get_by_role("option", name="Another field (type its name)").click()
                await settled(page)
                await _fill(page, f"Row {i} field name", col.takes)


async def choose_mapping_of(page: Any, form: str | None) -> None:
    """The default mapping (None) or a form's, by the form's name."""
    box = page.get_by_label("Mapping of", exact=True)
    await box.click()
    if form is None:
        await page.get_by_role("option", name="Default mapping (every form without its own)").click()
    else:
        await page.get_by_role("option").filter(has_text=f"{form} — ").click()
    await page.get_by_role("listbox").wait_for(state="detached")
    await settled(page)
    if form is None:
        await page.get_by_role("heading", name="Default mapping", exact=True).wait_for()
    else:
        own = page.get_by_role("heading", name=f"{form}: own mapping", exact=True)
        await page.get_by_role("heading", name=f"{form}: uses the default mapping", exact=True).or_(own).wait_for()
    await settled(page)


async def map_source(
    page: Any,
    base: str,
    source_id: str,
    columns: list[Column],
    *,
    form: str | None = None,
    preview: bool = True,
    shot: str = "",
) -> str:
    """Opens the source's Mapping, the default's or `form`'s own (given it if it uses the default),
    fills the grid, previews it on the last leads (when `preview`; screenshot `shot`) and saves it.
    Returns the page's text while the preview showed ("" without one)."""
    await open_source(page, base, source_id, "mapping")
    await choose_mapping_of(page, form)
    if form is not None and await page.get_by_role("heading", name=f"{form}: uses the default mapping").count():
        await page.get_by_role("button", name="Give this form its own mapping").click()
        await page.get_by_role("heading", name=f"{form}: own mapping", exact=True).wait_for()
        await settled(page)
    await fill_grid(page, columns)
    shown = ""
    if preview:
        await page.get_by_role("button", name="Preview on the last 20 leads").click()
        await page.get_by_role("heading", name="Preview").wait_for()
        await settled(page)
        if shot:
            await screenshot(page, shot)
        shown = str(await page.locator('[data-testid="stMain"]').text_content())
    what = "this form's mapping" if form else "the default mapping"
    await page.get_by_role("button", name=f"Save {what}").click()
    await page.get_by_text(f"Saved {what}.").wait_for()
    await settled(page)
    return shown


async def sync_leads(page: Any, base: str, source_id: str, form: str | None = None) -> str:
    """Summary → Sync leads for the default period (the last 7 UTC days), every form or `form`;
    returns the finished message."""
    await open_source(page, base, source_id)
    if form is not None:
        await _choose(page, "Forms", form)
    await _click(page, "Sync leads")
    done = page.get_by_text("Sync finished:")
    await done.wait_for()
    await settled(page)
    return str(await done.text_content())


def form_switch(page: Any, form_label: str) -> Any:
    """The on/off switch of the form whose label starts with `form_label` (its input)."""
    return page.locator("label").filter(has_text=form_label).locator("input")


async def switch_form(page: Any, base: str, source_id: str, form_label: str, on: bool) -> None:
    """Summary → the form's on/off switch (its label starts with the form's name)."""
    await open_source(page, base, source_id)
    switch = form_switch(page, form_label)
    if await switch.is_checked() != on:
        await page.locator("label").filter(has_text=form_label).click()
        await page.get_by_text(f"switched {'on' if on else 'off'}.").wait_for()
        await settled(page)


async def set_source_enabled(page: Any, base: str, source_id: str, enabled: bool) -> None:
    await open_source(page, base, source_id)
    button = page.get_by_role("button", name="Enable source" if enabled else "Disable source")
    other = page.get_by_role("button", name="Disable source" if enabled else "Enable source")
    await button.or_(other).wait_for()
    if await button.count():
        await button.click()
        await page.get_by_text(" is enabled." if enabled else " is disabled.").wait_for()
        await settled(page)
