"""python -m sandbox: serve the stand-ins on SANDBOX_PORT until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from leadrelay.log import setup_logging
from leadrelay.server import PortInUse
from leadrelay.settings import Settings, SettingsError
from sandbox.app import running

log = logging.getLogger("sandbox")


async def main(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with running(settings) as sandbox:
        log.info("sandbox ready", extra={"url": sandbox.url})
        await stop.wait()


if __name__ == "__main__":
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        sys.exit(f"sandbox: {exc}")
    setup_logging(settings.log_level, settings.log_format)
    try:
        asyncio.run(main(settings))
    except PortInUse as exc:
        sys.exit(f"sandbox: {exc}")
