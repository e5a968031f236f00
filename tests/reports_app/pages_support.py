"""Driving the Streamlit app in-process (streamlit.testing.v1.AppTest) as a signed-in user."""

from __future__ import annotations

import asyncio
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "reports_app" / "app.py")


def app_env(monkeypatch, settings, validation_target: str = "") -> None:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LEADRELAY_INTERNAL_TOKEN", settings.internal_token)
    monkeypatch.setenv("LEADRELAY_SECRET_KEY", settings.secret_key)
    if validation_target:
        monkeypatch.setenv("VALIDATION_TARGET", validation_target)


async def run(at: AppTest) -> AppTest:
    """Runs the script off the event loop: the servers the page calls (validation) live on this loop."""
    return await asyncio.to_thread(at.run)


async def signed_in(email: str, password: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    await run(at)
    at.text_input(key="signin_email").input(email)
    at.text_input(key="signin_password").input(password)
    next(b for b in at.button if b.label == "Sign in").click()
    await run(at)
    assert not at.exception, at.exception
    return at


async def open_page(at: AppTest, page: str) -> AppTest:
    at.sidebar.radio(key="page").set_value(page)
    await run(at)
    assert not at.exception, [e.message for e in at.exception]
    return at


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)
