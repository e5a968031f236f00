"""The console's session and sign-in, against `streamlit run reports_app/server.py`: an HttpOnly,
SameSite=Strict session cookie that survives a reload, sign-out and disabling that end it, downloads
only for a live session, and sign-in throttling."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from reports_app import sessions, sign_in_throttle, users
from reports_app.server import safe_next
from tests.reports_app import seed
from tests.reports_app.console_support import (
    ARTIFACTS,
    CHROMIUM,
    RunningConsole,
    chromium,
    running_console,
    settled,
    sign_in,
)

PASSWORD = "session password"


@pytest.fixture(scope="module")
async def console(settings) -> AsyncIterator[RunningConsole]:
    async with running_console(settings) as app:
        yield app


async def _admin(pool, account) -> str:
    email = f"session-{account.name}@example.com"
    async with pool.acquire() as con:
        await users.create_user(con, account.account_id, email, PASSWORD, users.ADMIN)
    return email


def test_after_sign_in_only_a_path_on_this_site_is_followed():
    assert safe_next("/leads?lead=1") == "/leads?lead=1"
    assert [safe_next(t) for t in ("//evil.example/", "/\\evil.example", "https://evil.example/", "x", "/a\r\nb")] == [
        "/"
    ] * 5


def test_failures_past_the_free_ones_lock_for_twice_as_long_each_time_up_to_the_cap():
    assert [sign_in_throttle.lockout(n, 5).total_seconds() for n in range(1, 10)] == [0, 0, 0, 0, 0, 2, 4, 8, 16]
    assert sign_in_throttle.lockout(500, 5) == sign_in_throttle.MAX_LOCK


async def _post(web: aiohttp.ClientSession, app: RunningConsole, email: str, password: str) -> aiohttp.ClientResponse:
    async with web.post(
        f"{app.url}/api/sign-in",
        data={"email": email, "password": password, "next": "/leads"},
        headers={"Origin": app.url},
        allow_redirects=False,
    ) as reply:
        await reply.read()
        return reply


async def test_a_wrong_password_is_refused_and_sets_no_cookie(pool, account, console, web):
    email = await _admin(pool, account)
    reply = await _post(web, console, email, "wrong password")
    assert reply.status == 401 and sessions.COOKIE not in reply.cookies


async def test_a_form_posted_from_another_site_is_refused(pool, account, console, web):
    email = await _admin(pool, account)
    async with web.post(
        f"{console.url}/api/sign-in",
        data={"email": email, "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
    ) as reply:
        assert reply.status == 403 and sessions.COOKIE not in reply.cookies


async def test_thirty_wrong_passwords_are_throttled_and_the_right_one_works_after_the_lockout(
    pool, account, console, web, settings
):
    email = await _admin(pool, account)
    statuses = [(await _post(web, console, email, f"guess {i}")).status for i in range(30)]
    assert statuses[:5] == [401] * 5
    assert statuses.count(429) >= 20 and statuses[-1] == 429
    # While locked, even the right password is refused without being checked.
    assert (await _post(web, console, email, PASSWORD)).status == 429
    async with pool.acquire() as con:
        stored = await con.fetch("SELECT key_hash FROM report_sign_in_failures")
    assert all(email.encode() not in bytes(r["key_hash"]) for r in stored)
    key = sign_in_throttle.email_key(settings.secret_key, email)
    async with pool.acquire() as con:
        until = await con.fetchval("SELECT locked_until FROM report_sign_in_failures WHERE key_hash = $1", key.digest)
    assert until is not None and until - datetime.now(UTC) <= timedelta(seconds=3)
    reply = None
    for _ in range(100):  # the lock is 2 s; each refused try is cheap
        reply = await _post(web, console, email, PASSWORD)
        if reply.status != 429:
            break
        await asyncio.sleep(0.1)
    assert reply is not None and reply.status == 303 and reply.headers["Location"] == "/leads"
    assert sessions.COOKIE in reply.cookies


async def test_a_page_without_a_session_goes_to_sign_in_and_back(console, web):
    async with web.get(f"{console.url}/leads?status=REJECTED", allow_redirects=False) as reply:
        assert reply.status == 303
        assert reply.headers["Location"] == "/api/sign-in?next=%2Fleads%3Fstatus%3DREJECTED"


browser_only = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium")


@pytest.mark.browser
@browser_only
async def test_reload_keeps_the_session_and_sign_out_ends_it_for_good(pool, account, console, web):
    email = await _admin(pool, account)
    async with chromium() as browser:
        context = await browser.new_context(viewport={"width": 1400, "height": 1000})
        page = await context.new_page()
        page.set_default_timeout(20_000)
        await sign_in(page, console.url, email, PASSWORD, "/sources")
        await page.get_by_role("heading", name="Source report").wait_for()
        (cookie,) = [c for c in await context.cookies() if c["name"] == sessions.COOKIE]
        assert (cookie["httpOnly"], cookie["sameSite"]) == (True, "Strict")
        assert cookie["value"] not in page.url
        await page.reload()
        await page.get_by_role("heading", name="Source report").wait_for()
        await settled(page)
        await page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Sign out").click()
        await page.get_by_role("heading", name="You are signed out").wait_for()
        await page.reload()
        await page.get_by_role("button", name="Sign in").wait_for()
        assert "/api/sign-in" in page.url
        await page.screenshot(path=str(ARTIFACTS / "console-sign-in.png"))
    async with web.get(
        f"{console.url}/sources", cookies={sessions.COOKIE: cookie["value"]}, allow_redirects=False
    ) as reply:
        assert reply.status == 303  # the old cookie signs no one in


@pytest.mark.browser
@browser_only
async def test_a_user_disabled_in_the_database_loses_access_at_the_next_interaction(pool, account, console):
    email = await _admin(pool, account)
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(20_000)
        await sign_in(page, console.url, email, PASSWORD)
        await page.get_by_role("heading", name="Overview").wait_for()
        await settled(page)
        async with pool.acquire() as con:
            await con.execute("UPDATE report_users SET disabled_at = now() WHERE lower(email) = lower($1)", email)
        await page.locator('[data-testid="stSidebar"]').get_by_role("link", name="Sources").click()
        await page.get_by_role("heading", name="You are signed out").wait_for()
        assert await page.get_by_role("heading", name="Sources").count() == 0


@pytest.mark.browser
@browser_only
async def test_a_prepared_leads_file_is_served_only_with_the_session_cookie(pool, account, console, web, tmp_path):
    email = await _admin(pool, account)
    async with pool.acquire() as con:
        src = await seed.source(con, account.account_id, "Events")
        await seed.lead(con, account.account_id, src, datetime.now(UTC), fields={"email": "p@example.com"})
    async with chromium() as browser:
        context = await browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
        page = await context.new_page()
        page.set_default_timeout(20_000)
        media: list[str] = []
        page.on("request", lambda r: media.append(r.url) if "/media/" in r.url else None)
        await sign_in(page, console.url, email, PASSWORD, "/leads")
        await page.get_by_role("heading", name="Leads").wait_for()
        await settled(page)
        # CSV, whose bytes show the lead's email as it is (lead files offer XLSX first).
        await page.get_by_text("CSV", exact=True).click()
        await settled(page)
        await page.get_by_role("button", name="Prepare file").click()
        async with page.expect_download() as info:
            await page.get_by_role("button", name="Download leads-").click()
        await (await info.value).save_as(tmp_path / "leads.csv")
        (cookie,) = [c for c in await context.cookies() if c["name"] == sessions.COOKIE]
    assert media, "the download came from /media/"
    async with web.get(media[-1], allow_redirects=False) as reply:
        assert reply.status == 403
        assert b"p@example.com" not in await reply.read()
    async with web.get(media[-1], cookies={sessions.COOKIE: cookie["value"]}) as reply:
        assert reply.status == 200 and b"p@example.com" in await reply.read()
