"""Driving the console's script in-process (streamlit.testing.v1.AppTest) as a signed-in user: the
session is a real one (a report_sessions row), handed to the run the way a cookie would be."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from streamlit.testing.v1 import AppTest

from reports_app import sessions
from reports_app.console import TOKEN_KEY

APP = str(Path(__file__).resolve().parents[2] / "reports_app" / "app.py")
PAGES = {
    "Overview": "page_scripts/overview.py",
    "Leads": "page_scripts/leads.py",
    "Sources": "page_scripts/sources.py",
    "Rejections": "page_scripts/rejections.py",
    "Post-outs": "page_scripts/post_outs.py",
    "Lifecycle": "page_scripts/lifecycle.py",
    "Connect": "page_scripts/connect.py",
    "Schedules": "page_scripts/schedules.py",
}


def app_env(monkeypatch, settings, validation_target: str = "", ingest_target: str = "") -> None:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LEADRELAY_INTERNAL_TOKEN", settings.internal_token)
    monkeypatch.setenv("LEADRELAY_SECRET_KEY", settings.secret_key)
    if validation_target:
        monkeypatch.setenv("VALIDATION_TARGET", validation_target)
    if ingest_target:
        monkeypatch.setenv("INGEST_TARGET", ingest_target)


async def run(at: AppTest) -> AppTest:
    """Runs the script off the event loop: the servers the page calls (validation) live on this loop."""
    return await asyncio.to_thread(at.run)


async def session_for(pool: asyncpg.Pool, email: str) -> str:
    async with pool.acquire() as con:
        user_id = await con.fetchval("SELECT user_id FROM report_users WHERE lower(email) = lower($1)", email)
        return await sessions.create(con, user_id)


async def signed_in(pool: asyncpg.Pool, email: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state[TOKEN_KEY] = await session_for(pool, email)
    await run(at)
    assert not at.exception, at.exception
    return at


async def open_page(at: AppTest, page: str) -> AppTest:
    at.switch_page(PAGES[page])
    await run(at)
    assert not at.exception, [e.message for e in at.exception]
    return at


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)
