"""A real console for browser and HTTP tests: `streamlit run reports_app/server.py` as a child on a
free loopback port, and a headless Chromium (Debian's /usr/bin/chromium driven by Playwright)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leadrelay.settings import Settings

SERVER = str(Path(__file__).resolve().parents[2] / "reports_app" / "server.py")
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@dataclass(frozen=True)
class RunningConsole:
    url: str
    log: Path

    def errors(self) -> list[str]:
        """Tracebacks and errors the server logged so far (Arrow conversions included)."""
        text = self.log.read_text(errors="replace")
        return [line for line in text.splitlines() if "Traceback" in line or "ArrowTypeError" in line]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


async def _healthy(url: str, proc: subprocess.Popen) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise AssertionError(f"streamlit exited with {proc.returncode}")
        if await asyncio.to_thread(_ok, url):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("streamlit did not become healthy in 30 s")


@contextlib.asynccontextmanager
async def running_console(settings: Settings, **env_extra: str) -> AsyncIterator[RunningConsole]:
    port = _free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / f"console-{port}.log"
    sink = log.open("wb")
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "LEADRELAY_INTERNAL_TOKEN": settings.internal_token,
        "LEADRELAY_SECRET_KEY": settings.secret_key,
        "VALIDATION_TARGET": settings.validation_target,
        "INGEST_TARGET": settings.ingest_target,
        "LEADRELAY_LOG_LEVEL": "WARNING",
        # Where a platform's consent page sends the browser back to (the Connect page).
        "LEADRELAY_CONSOLE_URL": f"http://127.0.0.1:{port}",
        **env_extra,
    }
    proc = subprocess.Popen(  # noqa: ASYNC220 - a child for the whole test, not awaited
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            SERVER,
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.fileWatcherType",
            "none",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=sink,
    )
    try:
        await _healthy(f"http://127.0.0.1:{port}/_stcore/health", proc)
        yield RunningConsole(f"http://127.0.0.1:{port}", log)
    finally:
        proc.terminate()
        try:
            await asyncio.to_thread(proc.wait, 10)
        except subprocess.TimeoutExpired:
            proc.kill()
            await asyncio.to_thread(proc.wait)
        sink.close()
        log.unlink(missing_ok=True)


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield browser
        finally:
            await browser.close()


async def settled(page: Any) -> None:
    """Waits until the app finished its run (Streamlit's running indicator is gone)."""
    await page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached")


async def sign_in(page: Any, base: str, email: str, password: str, path: str = "/") -> None:
    await page.goto(base + path)
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(lambda url: "/api/sign-in" not in url)


# Resolves once the page has not changed for 600 ms (at most 15 s): the run ended and every element drew.
_QUIET = """() => new Promise(resolve => {
    let timer = setTimeout(done, 600);
    const deadline = setTimeout(done, 15000);
    const watch = new MutationObserver(() => { clearTimeout(timer); timer = setTimeout(done, 600); });
    function done() { watch.disconnect(); clearTimeout(deadline); resolve(true); }
    watch.observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
})"""


async def quiet(page: Any) -> None:
    await settled(page)
    await page.wait_for_function("document.querySelectorAll('[data-testid=\"stSkeleton\"]').length === 0")
    await page.evaluate(_QUIET)
    await settled(page)


async def screenshot(page: Any, name: str) -> Path:
    """A PNG of the whole page once the run finished and every element drew (Streamlit shows
    placeholders while an element's code loads)."""
    await quiet(page)
    path = ARTIFACTS / f"{name}.png"
    # Streamlit scrolls its main area itself: a page as tall as that area shows all of it.
    size = page.viewport_size
    height = await page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    await page.set_viewport_size({"width": size["width"], "height": min(max(height, size["height"]), 6000)})
    await quiet(page)
    await page.screenshot(path=str(path))
    await page.set_viewport_size(size)
    return path
